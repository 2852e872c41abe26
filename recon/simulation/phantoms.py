"""Analytic phantoms in physical units (attenuation in 1/mm, lengths in mm).

Every phantom is a list of shapes (:class:`recon.Ellipse`, :class:`recon.Polygon`) whose
values add; :func:`recon.ray_transform` gives its exact sinogram and :func:`recon.rasterize` its image.

Random families take a :class:`numpy.random.Generator` first, so a phantom is reproducible from its seed:

* :func:`random_ellipses` — a background ellipse with random elliptic inserts (denser and lighter);
* :func:`random_polygons` — a convex background polygon with random convex/non-convex polygons and rectangles;
* :func:`disc_with_holes` — an HTC2022-like acrylic disc with non-overlapping holes of various shapes.

:data:`PHANTOMS` maps family names (also ``"shepp_logan"``) to these functions; :func:`make_phantom` builds
one by name with keyword parameters (as in a simulation config).

References
----------
L. A. Shepp and B. F. Logan, "The Fourier reconstruction of a head section", *IEEE Trans. Nucl. Sci.*
21(3), 21–43 (1974); P. Toft, *The Radon Transform: Theory and Implementation*, PhD thesis, DTU, 1996
(the modified, higher-contrast version).
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Sequence

import numpy as np

from .cells import cell_parameters, maybe_cells
from .checks import check_rng, positive, value_range
from .ellipsoids import PHANTOMS_3D
from .prisms import Prism
from .shapes import Ellipse, Polygon, Shape, _polygon_contains_kernel, _segments_cross, rectangle

__all__ = ["shepp_logan", "random_ellipses", "random_polygons", "disc_with_holes", "extruded_discs", "PHANTOMS",
           "FAMILIES_3D", "make_phantom"]

# Modified Shepp-Logan (Toft 1996): value, centre x, centre y, semi-axis a, semi-axis b, angle (degrees);
# coordinates relative to the phantom radius.
_MODIFIED_SHEPP_LOGAN = (
    (1.0, 0.0, 0.0, 0.69, 0.92, 0.0),
    (-0.8, 0.0, -0.0184, 0.6624, 0.874, 0.0),
    (-0.2, 0.22, 0.0, 0.11, 0.31, -18.0),
    (-0.2, -0.22, 0.0, 0.16, 0.41, 18.0),
    (0.1, 0.0, 0.35, 0.21, 0.25, 0.0),
    (0.1, 0.0, 0.1, 0.046, 0.046, 0.0),
    (0.1, 0.0, -0.1, 0.046, 0.046, 0.0),
    (0.1, -0.08, -0.605, 0.046, 0.023, 0.0),
    (0.1, 0.0, -0.605, 0.023, 0.023, 0.0),
    (0.1, 0.06, -0.605, 0.023, 0.046, 0.0),
)


def shepp_logan(radius: float = 100.0, mu: float = 0.02) -> list[Ellipse]:
    """Modified Shepp–Logan phantom as ellipses.

    radius : half-height of the phantom's bounding square in mm (the outer ellipse has semi-axes
        0.69·radius × 0.92·radius).
    mu : attenuation (1/mm) of the phantom's value 1.0 (the outer skull); the brain region is 0.2·mu.
    """
    return [Ellipse(value=v * mu, center=(x * radius, y * radius), axes=(a * radius, b * radius),
                    angle=math.radians(ang)) for v, x, y, a, b, ang in _MODIFIED_SHEPP_LOGAN]


# ---- outlines and shape helpers -----------------------------------------------------------------------------

def _star_polygon(rng: np.random.Generator, center: np.ndarray, radius: float, n_vertices: int,
                  roughness: float) -> np.ndarray:
    """Vertices ``[n, 2]`` of a random polygon that is star-shaped about ``center`` (hence simple): angles
    jittered around a regular polygon's, radii ``radius · U(1 − roughness, 1)`` (roughness 0: convex)."""
    base = rng.uniform(0, 2 * np.pi)
    step = 2 * np.pi / n_vertices
    angles = base + step * (np.arange(n_vertices) + rng.uniform(-0.3, 0.3, n_vertices))
    radii = radius * rng.uniform(1.0 - roughness, 1.0, n_vertices)
    return center + np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _outline(shape: Ellipse | Polygon) -> np.ndarray:
    """A polygon ``[n, 2]`` (mm) that contains ``shape`` and is within 0.2 % of it (ellipses: a circumscribed
    96-gon; polygons: their own vertices)."""
    if isinstance(shape, Polygon):
        return np.asarray(shape.vertices)
    k = 96
    t = 2 * np.pi * np.arange(k) / k
    grow = 1.0 / math.cos(math.pi / k)
    a, b = shape.axes[0] * grow, shape.axes[1] * grow
    c, s = math.cos(shape.angle), math.sin(shape.angle)
    x, y = a * np.cos(t), b * np.sin(t)
    return np.stack([shape.center[0] + x * c - y * s, shape.center[1] + x * s + y * c], axis=1)


def _inside_ellipse(points: np.ndarray, ellipse: Ellipse, margin: float = 0.0) -> bool:
    """Whether all ``points`` ``[n, 2]`` lie inside ``ellipse`` shrunk by ``margin`` mm along its axes."""
    shrunk = Ellipse(1.0, ellipse.center, (ellipse.axes[0] - margin, ellipse.axes[1] - margin), ellipse.angle)
    return bool(np.all(shrunk.contains(points[:, 0], points[:, 1])))


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[n, m]`` distances from points ``p`` ``[n, 2]`` to segments ``a → b`` ``[m, 2]``."""
    ab = b - a
    ap = p[:, None, :] - a[None, :, :]
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-300), 0.0, 1.0)
    return np.linalg.norm(ap - t[..., None] * ab, axis=-1)


def _polygons_apart(p: np.ndarray, q: np.ndarray, gap: float) -> bool:
    """Whether the simple polygons ``p`` and ``q`` (``[n, 2]``, ``[m, 2]``) are disjoint and at least ``gap``
    mm apart. Their boundaries are disjoint when no two edges meet, and then the distance between them is
    attained between a vertex of one and an edge of the other; disjoint boundaries leave one polygon either
    outside the other or wholly inside it."""
    cp, cq = 0.5 * (p.min(0) + p.max(0)), 0.5 * (q.min(0) + q.max(0))
    rp, rq = np.linalg.norm(p - cp, axis=1).max(), np.linalg.norm(q - cq, axis=1).max()
    if np.linalg.norm(cp - cq) >= rp + rq + gap:
        return True  # bounding circles apart
    p_next, q_next = np.roll(p, -1, axis=0), np.roll(q, -1, axis=0)
    dist = min(_point_segment_distance(p, q, q_next).min(), _point_segment_distance(q, p, p_next).min())
    if dist < gap:
        return False
    if np.any(_segments_cross(np.stack([p, p_next], axis=1), np.stack([q, q_next], axis=1))):
        return False
    return not (_vertex_inside(p[0], q) or _vertex_inside(q[0], p))


def _vertex_inside(point: np.ndarray, polygon: np.ndarray) -> bool:
    out = np.zeros(1, dtype=np.bool_)
    _polygon_contains_kernel(point[:1].copy(), point[1:2].copy(), np.ascontiguousarray(polygon[:, 0]),
                             np.ascontiguousarray(polygon[:, 1]), out)
    return bool(out[0])


def _random_values(rng: np.random.Generator, background: float, contrast: tuple[float, float], n: int) -> np.ndarray:
    """Insert values ``background · U(contrast)``; negative ones scaled so that together they remove at most
    ``background`` (the total attenuation stays >= 0 wherever inserts overlap)."""
    values = background * rng.uniform(contrast[0], contrast[1], n)
    removed = -values[values < 0].sum()
    if removed > background:
        values[values < 0] *= background / removed
    return values


# ---- families -----------------------------------------------------------------------------------------------

def _insert_parameters(radius: Any, n: Any, mu: Any, contrast: Any, size: Any) -> tuple:
    """Validated parameters shared by the random ellipse and polygon families."""
    size = value_range("size", size)
    if size[0] <= 0 or size[1] >= 1:
        raise ValueError(f"size must be fractions of the radius in (0, 1), got {size}")
    return (positive("radius", radius), value_range("n", n, integer=True), value_range("mu", mu),
            value_range("contrast", contrast, low=-math.inf), size)


def random_ellipses(rng: np.random.Generator, radius: float = 60.0, n: Any = (3, 6), mu: Any = (0.01, 0.03),
                    contrast: Any = (-1.0, 1.0), size: Any = (0.05, 0.4)) -> list[Ellipse]:
    """A background ellipse with random elliptic inserts, all inside the disc of ``radius`` mm.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (the phantom is a function of its state).
    radius : float
        Radius in mm of the disc (centred on the rotation axis) that contains the phantom.
    n : int or (int, int)
        Number of inserts (besides the background), drawn uniformly from the inclusive range.
    mu : float or (float, float)
        Background attenuation in 1/mm, drawn uniformly from the range.
    contrast : (float, float)
        Insert value relative to the background, drawn uniformly; negative inserts are scaled down together
        if needed so that the total attenuation is never negative.
    size : (float, float)
        Insert semi-axes as fractions of ``radius``.

    Returns
    -------
    list of Ellipse
        Background first; values in 1/mm, lengths in mm.
    """
    rng = check_rng(rng)
    radius, (n_lo, n_hi), (mu_lo, mu_hi), contrast, size = _insert_parameters(radius, n, mu, contrast, size)
    background = Ellipse(rng.uniform(mu_lo, mu_hi), (0.0, 0.0),
                         tuple(radius * rng.uniform(0.75, 1.0, 2)), rng.uniform(0, np.pi))
    count = int(rng.integers(n_lo, n_hi + 1))
    values = _random_values(rng, background.value, contrast, count)
    shapes: list[Ellipse] = [background]
    for value in values:
        for _ in range(100):
            axes = radius * rng.uniform(size[0], size[1], 2)
            r = min(background.axes) * math.sqrt(rng.uniform())
            phi = rng.uniform(0, 2 * np.pi)
            insert = Ellipse(value, (r * math.cos(phi), r * math.sin(phi)), tuple(axes), rng.uniform(0, np.pi))
            if _inside_ellipse(_outline(insert), background):
                shapes.append(insert)
                break
    return shapes


def random_polygons(rng: np.random.Generator, radius: float = 60.0, n: Any = (3, 6), mu: Any = (0.01, 0.03),
                    contrast: Any = (-1.0, 1.0), size: Any = (0.05, 0.35)) -> list[Polygon]:
    """A convex background polygon with random inserts: convex polygons, non-convex (star-shaped) polygons
    and rectangles, all inside the disc of ``radius`` mm.

    Parameters are those of :func:`random_ellipses`; ``size`` gives the inserts' circumradius as fractions of
    ``radius``. Returns a list of :class:`Polygon` (background first; values in 1/mm, lengths in mm).
    """
    rng = check_rng(rng)
    radius, (n_lo, n_hi), (mu_lo, mu_hi), contrast, size = _insert_parameters(radius, n, mu, contrast, size)
    # vertices on one circle: convex, so that an insert whose vertices are inside lies wholly inside
    back_r = radius * rng.uniform(0.8, 1.0)
    background = Polygon(rng.uniform(mu_lo, mu_hi),
                         _star_polygon(rng, np.zeros(2), back_r, int(rng.integers(5, 13)), roughness=0.0))
    count = int(rng.integers(n_lo, n_hi + 1))
    values = _random_values(rng, background.value, contrast, count)
    shapes: list[Polygon] = [background]
    for value in values:
        for _ in range(100):
            r = radius * rng.uniform(size[0], size[1])
            rho, phi = back_r * math.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
            center = np.array([rho * math.cos(phi), rho * math.sin(phi)])
            kind = rng.integers(3)
            if kind == 0:
                insert = rectangle(value, tuple(center), tuple(2 * r * rng.uniform([0.3, 0.1], 1.0) / math.sqrt(2)),
                                   rng.uniform(0, np.pi))
            else:
                insert = Polygon(value, _star_polygon(rng, center, r, int(rng.integers(3, 10)),
                                                      roughness=0.0 if kind == 1 else 0.6))
            v = np.asarray(insert.vertices)
            if np.all(background.contains(v[:, 0], v[:, 1])):
                shapes.append(insert)
                break
    return shapes


_HOLE_KINDS = ("circle", "ellipse", "rectangle", "polygon", "star")


def _random_hole(rng: np.random.Generator, kind: str, center: np.ndarray, r: float, value: float) -> Shape:
    """A hole of circumradius about ``r`` mm at ``center``."""
    angle = rng.uniform(0, np.pi)
    if kind == "circle":
        return Ellipse(value, tuple(center), (r, r))
    if kind == "ellipse":
        return Ellipse(value, tuple(center), (r, r * rng.uniform(0.25, 0.9)), angle)
    if kind == "rectangle":
        aspect = rng.uniform(0.1, 1.0)
        w = 2 * r / math.sqrt(1 + aspect ** 2)
        return rectangle(value, tuple(center), (w, w * aspect), angle)
    if kind == "polygon":
        return Polygon(value, _star_polygon(rng, center, r, int(rng.integers(3, 9)), roughness=0.0))
    return Polygon(value, _star_polygon(rng, center, r, int(rng.integers(5, 11)), roughness=0.55))


def disc_with_holes(rng: np.random.Generator, radius: float = 35.0, mu: Any = 0.041, n_holes: Any = (1, 8),
                    size: Any = (1.0, 12.0), gap: float = 1.0, rim: float = 1.0,
                    kinds: Sequence[str] = _HOLE_KINDS, cells: float = 0.0, n_cells: Any = (5, 20),
                    wall: Any = (1.0, 4.0)) -> list[Shape]:
    """An acrylic disc with laser-cut holes, like the HTC2022 phantoms (70 mm discs, μ ≈ 0.041/mm).

    The holes (value ``-mu``) never overlap each other and stay inside the disc, so the image is ``mu`` or 0
    (up to partial volume at the edges). With probability ``cells`` the disc is instead cut into cells: the
    Voronoi cells of ``n_cells`` random points, separated by walls of ``wall`` mm and kept 1.5–5 mm (at least
    ``rim``) inside the edge, each cell a convex hole with probability ¾ (the rest stay solid).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    radius : float
        Disc radius in mm (centred on the rotation axis).
    mu : float or (float, float)
        Disc attenuation in 1/mm, or the range it is drawn from uniformly per phantom (the scanner's effective
        attenuation is not known exactly).
    n_holes : int or (int, int)
        Number of holes, drawn uniformly from the inclusive range. When a hole does not fit after many tries it
        is made smaller, and dropped after that (rare unless the holes are many and large).
    size : (float, float)
        Hole circumradius range in mm, sampled log-uniformly (many small holes, some large).
    gap : float
        Minimum distance in mm between two holes.
    rim : float
        Minimum distance in mm between a hole and the disc's edge (holes may come this close to the rim).
    kinds : sequence of str
        Hole shapes to draw from: "circle", "ellipse", "rectangle", "polygon" (convex, 3–8 vertices) and
        "star" (non-convex, 5–10 vertices).
    cells : float
        Probability of a disc of cells instead of scattered holes (0: never; then no extra random draw).
    n_cells : int or (int, int)
        Number of cell seeds (inclusive range). Cells smaller than 2 mm² are dropped.
    wall : float or (float, float)
        Wall thickness between cells in mm (range drawn uniformly per phantom).

    Returns
    -------
    list of Ellipse and Polygon
        The disc first, then the holes; values in 1/mm, lengths in mm.
    """
    rng = check_rng(rng)
    radius = positive("radius", radius)
    mu_lo, mu_hi = value_range("mu", mu)
    if mu_lo <= 0:
        raise ValueError(f"mu must be > 0, got {mu!r}")
    layout = cell_parameters(cells, n_cells, wall)
    n_lo, n_hi = value_range("n_holes", n_holes, integer=True)
    s_lo, s_hi = value_range("size", size)
    if s_lo <= 0:
        raise ValueError(f"size must be > 0 mm, got {size!r}")
    gap, rim = positive("gap", gap), positive("rim", rim)
    kinds = tuple(kinds) if isinstance(kinds, (list, tuple)) else (kinds,)
    bad = [k for k in kinds if k not in _HOLE_KINDS]
    if not kinds or bad:
        raise ValueError(f"kinds must be a non-empty list of {list(_HOLE_KINDS)}, got {list(kinds)!r}")
    if radius - rim <= s_lo:
        raise ValueError(f"holes of circumradius >= {s_lo} mm cannot fit in a disc of radius {radius} mm "
                         f"with a {rim} mm rim")
    mu = rng.uniform(mu_lo, mu_hi) if mu_hi > mu_lo else mu_lo  # a fixed value draws nothing
    celled = maybe_cells(rng, radius, mu, rim, layout)
    if celled is not None:
        return celled
    holes = _scattered_holes(rng, radius, mu, int(rng.integers(n_lo, n_hi + 1)), (s_lo, s_hi), gap, rim, kinds)
    return [Ellipse(mu, (0.0, 0.0), (radius, radius))] + holes


def _scattered_holes(rng: np.random.Generator, radius: float, mu: float, n: int, size: tuple[float, float],
                     gap: float, rim: float, kinds: tuple[str, ...]) -> list[Shape]:
    """``n`` non-overlapping holes (value ``-mu``) of :func:`disc_with_holes`, placed at random."""
    s_lo, s_hi = size
    shapes: list[Shape] = []
    outlines: list[np.ndarray] = []
    for _ in range(n):
        r = min(math.exp(rng.uniform(math.log(s_lo), math.log(s_hi))), radius - rim)
        kind = kinds[int(rng.integers(len(kinds)))]
        for attempt in range(200):  # a hole that never fits is dropped
            if attempt and attempt % 40 == 0:
                r = max(s_lo, 0.7 * r)  # crowded: try a smaller hole
            rho = (radius - rim - 0.3 * r) * math.sqrt(rng.uniform())
            phi = rng.uniform(0, 2 * np.pi)
            hole = _random_hole(rng, kind, np.array([rho * math.cos(phi), rho * math.sin(phi)]), r, -mu)
            outline = _outline(hole)
            if np.max(np.hypot(outline[:, 0], outline[:, 1])) > radius - rim:
                continue
            if all(_polygons_apart(outline, other, gap) for other in outlines):
                shapes.append(hole)
                outlines.append(outline)
                break
    return shapes


def _shepp_logan_family(rng: np.random.Generator, radius: float = 100.0, mu: float = 0.02) -> list[Ellipse]:
    """:func:`shepp_logan` as a family (deterministic: ``rng`` is ignored)."""
    return shepp_logan(radius=radius, mu=mu)


def extruded_discs(rng: np.random.Generator, thickness: float = 40.0, radius: float = 35.0, mu: Any = 0.041,
                   n_holes: Any = (1, 8), size: Any = (1.0, 12.0), gap: float = 1.0, rim: float = 1.0,
                   kinds: Sequence[str] = _HOLE_KINDS, cells: float = 0.0, n_cells: Any = (5, 20),
                   wall: Any = (1.0, 4.0)) -> list[Prism]:
    """:func:`disc_with_holes` as a plate ``thickness`` mm thick centred on z = 0, every hole cut through it (the
    HTC2022 phantoms in 3-D, for cone-beam simulations); the other parameters are :func:`disc_with_holes`'s."""
    half = positive("thickness", thickness) / 2.0
    shapes = disc_with_holes(rng, radius, mu, n_holes, size, gap, rim, kinds, cells, n_cells, wall)
    return [Prism(shape, -half, half) for shape in shapes]


#: The 3-D families (cone-beam simulations): volumes of ellipsoids and prisms.
FAMILIES_3D: dict[str, Callable[..., list]] = {**PHANTOMS_3D, "extruded_discs": extruded_discs}

PHANTOMS: dict[str, Callable[..., list]] = {
    "disc_with_holes": disc_with_holes,
    "random_ellipses": random_ellipses,
    "random_polygons": random_polygons,
    "shepp_logan": _shepp_logan_family,
    **FAMILIES_3D,  # volumes, for cone-beam simulations
}


def phantom_parameters(name: str) -> tuple[str, ...]:
    """Keyword parameters accepted by the family ``name`` (besides ``rng``)."""
    if name not in PHANTOMS:
        raise ValueError(f"unknown phantom family {name!r}; choose one of {sorted(PHANTOMS)}")
    return tuple(p for p in inspect.signature(PHANTOMS[name]).parameters if p != "rng")


def make_phantom(name: str, rng: np.random.Generator, **params: Any) -> list:
    """Phantom of family ``name`` (a key of :data:`PHANTOMS`) drawn with ``rng``; ``params`` are the family
    function's keyword parameters. Unknown names or parameters raise ``ValueError`` listing the allowed ones."""
    allowed = phantom_parameters(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"phantom family {name!r} has no parameter(s) {unknown}; allowed: {list(allowed)}")
    return PHANTOMS[name](rng, **params)
