"""Exact (analytic) ray transforms and rasterisation of phantoms made of ellipses and polygons.

Used to test the discrete operators without the inverse crime, and by the simulator to make training
sinograms. Works in any geometry through :meth:`recon.geometry.Geometry.rays`.

A phantom is a sequence of shapes whose attenuation values add. Every shape has

* ``value`` — attenuation μ added inside, 1/mm (negative values cut holes into other shapes);
* ``line_integrals(point, direction)`` — exact ∫ μ dl along lines, ``[...]`` float64;
* ``contains(x, y)`` — point-inside test, boolean ``[...]``;
* ``bounds()`` — bounding box ``(xmin, ymin, xmax, ymax)`` in mm.

:func:`ray_transform` and :func:`rasterize` only use these methods, so any object providing them can join a
phantom. The line integrals run in compiled (Numba) loops that skip rays missing a shape's bounding circle;
they are single-threaded (the simulator runs one process per core, and small calls stay cheap).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence, runtime_checkable

import numpy as np
from numba import njit

from ..geometry import Geometry

__all__ = ["Shape", "Ellipse", "Polygon", "rectangle", "ellipse_line_integrals", "ray_transform", "rasterize"]


@runtime_checkable
class Shape(Protocol):
    """What :func:`ray_transform` and :func:`rasterize` need from a phantom shape."""

    value: float

    def line_integrals(self, point: np.ndarray, direction: np.ndarray) -> np.ndarray: ...

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...

    def bounds(self) -> tuple[float, float, float, float]: ...


# ---- compiled kernels (flat arrays of rays [M, 2]) ----------------------------------------------------------

@njit(cache=True)
def _ellipse_kernel(point, direction, cx, cy, c, s, a, b, out):  # pragma: no cover - compiled
    """out[i] = chord length (in units of the line parameter t) of ray i through the ellipse."""
    r = max(a, b)
    for i in range(point.shape[0]):
        px, py = point[i, 0] - cx, point[i, 1] - cy
        dx, dy = direction[i, 0], direction[i, 1]
        if abs(dx * py - dy * px) >= r * math.sqrt(dx * dx + dy * dy):
            continue  # the line misses the bounding circle
        # ellipse frame, scaled so that the ellipse is the unit circle
        p1 = (px * c + py * s) / a
        p2 = (-px * s + py * c) / b
        d1 = (dx * c + dy * s) / a
        d2 = (-dx * s + dy * c) / b
        qa = d1 * d1 + d2 * d2
        qb = p1 * d1 + p2 * d2
        qc = p1 * p1 + p2 * p2 - 1.0
        disc = qb * qb - qa * qc
        if disc > 0.0:
            out[i] = 2.0 * math.sqrt(disc) / qa


@njit(cache=True)
def _polygon_kernel(point, direction, vx, vy, cx, cy, r, out):  # pragma: no cover - compiled
    """out[i] = chord length (in units of t) of ray i through the counter-clockwise simple polygon (vx, vy).

    Each edge that crosses the line contributes its crossing parameter t, + when it leaves the polygon
    (goes from the right of the line to its left) and − when it enters. The half-open side test (left means
    strictly > 0) counts a line through a vertex exactly once. t is measured from the foot of the bounding
    circle's centre on the line, so that large source distances cost no precision.
    """
    n = vx.shape[0]
    for i in range(point.shape[0]):
        px, py = point[i, 0], point[i, 1]
        dx, dy = direction[i, 0], direction[i, 1]
        if abs(dx * (cy - py) - dy * (cx - px)) >= r * math.sqrt(dx * dx + dy * dy):
            continue
        t0 = (cx - px) * dx + (cy - py) * dy
        total = 0.0
        ax, ay = vx[n - 1], vy[n - 1]
        sa = dx * (ay - py) - dy * (ax - px)
        for k in range(n):
            bx, by = vx[k], vy[k]
            sb = dx * (by - py) - dy * (bx - px)
            if (sa > 0.0) != (sb > 0.0):
                f = sa / (sa - sb)
                t = (ax + f * (bx - ax) - px) * dx + (ay + f * (by - ay) - py) * dy - t0
                if sb > 0.0:
                    total += t
                else:
                    total -= t
            ax, ay, sa = bx, by, sb
        out[i] = total


@njit(cache=True)
def _polygon_contains_kernel(x, y, vx, vy, out):  # pragma: no cover - compiled
    """out[i] = point (x[i], y[i]) inside the polygon (crossing-number test)."""
    n = vx.shape[0]
    for i in range(x.shape[0]):
        xi, yi = x[i], y[i]
        inside = False
        j = n - 1
        for k in range(n):
            if (vy[k] > yi) != (vy[j] > yi):
                xc = vx[k] + (yi - vy[k]) * (vx[j] - vx[k]) / (vy[j] - vy[k])
                if xi < xc:
                    inside = not inside
            j = k
        out[i] = inside


def _flat_rays(point: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Broadcast ``[..., 2]`` rays to a common shape and flatten them to contiguous ``[M, 2]`` float64."""
    point = np.asarray(point, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64)
    if point.shape[-1:] != (2,) or direction.shape[-1:] != (2,):
        raise ValueError(f"point and direction must be [..., 2] (x, y), got {point.shape} and {direction.shape}")
    shape = np.broadcast_shapes(point.shape, direction.shape)
    p = np.ascontiguousarray(np.broadcast_to(point, shape).reshape(-1, 2))
    d = np.ascontiguousarray(np.broadcast_to(direction, shape).reshape(-1, 2))
    return p, d, shape[:-1]


def _check_finite(name: str, *values: float) -> None:
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} parameters must be finite, got {values}")


# ---- shapes -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ellipse:
    """A constant-attenuation ellipse; overlapping shapes add.

    value : attenuation μ added inside, 1/mm.
    center : (x, y) in mm. axes : semi-axes (a, b) in mm, a along the ellipse's own x axis.
    angle : rotation of the ellipse's x axis from the image x axis, radians (counter-clockwise).
    """

    value: float
    center: tuple[float, float] = (0.0, 0.0)
    axes: tuple[float, float] = (1.0, 1.0)
    angle: float = 0.0

    def __post_init__(self) -> None:
        if len(self.center) != 2 or len(self.axes) != 2:
            raise ValueError(f"ellipse center and axes must be pairs, got {self.center} and {self.axes}")
        if not all(math.isfinite(v) for v in (self.value, *self.center, *self.axes, self.angle)):
            raise ValueError(f"ellipse parameters must be finite: {self}")
        if min(self.axes) <= 0:
            raise ValueError(f"ellipse semi-axes must be > 0 mm, got {self.axes}")
        for name in ("value", "angle"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("center", "axes"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))

    def line_integrals(self, point: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """``value`` × chord length along the lines ``point + t * direction``.

        ``point`` and ``direction`` are broadcastable ``[..., 2]`` (x, y) in mm, directions unit vectors.
        Returns ``[...]`` float64 (dimensionless).
        """
        p, d, shape = _flat_rays(point, direction)
        out = np.zeros(p.shape[0])
        _ellipse_kernel(p, d, float(self.center[0]), float(self.center[1]), math.cos(self.angle),
                        math.sin(self.angle), float(self.axes[0]), float(self.axes[1]), out)
        return (self.value * out).reshape(shape)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the points (x, y) (mm, broadcastable arrays) lie inside (boundary included)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        xr, yr = np.asarray(x, dtype=np.float64) - self.center[0], np.asarray(y, dtype=np.float64) - self.center[1]
        return ((xr * c + yr * s) / self.axes[0]) ** 2 + ((-xr * s + yr * c) / self.axes[1]) ** 2 <= 1.0

    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box ``(xmin, ymin, xmax, ymax)`` in mm."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        a, b = self.axes
        hx, hy = math.hypot(a * c, b * s), math.hypot(a * s, b * c)
        return (self.center[0] - hx, self.center[1] - hy, self.center[0] + hx, self.center[1] + hy)


def _segments_cross(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``[n, m]``: whether segment i of ``p`` (``[n, 2, 2]``: start, end) meets segment j of ``q`` (``[m, 2, 2]``),
    crossing or touching."""
    def orient(a, b, c):
        ab, ac = b - a, c - a
        return np.sign(ab[..., 0] * ac[..., 1] - ab[..., 1] * ac[..., 0])

    a, b = p[:, None, 0], p[:, None, 1]
    c, d = q[None, :, 0], q[None, :, 1]
    boxes = np.all((np.maximum(a, b) >= np.minimum(c, d)) & (np.maximum(c, d) >= np.minimum(a, b)), axis=-1)
    return boxes & (orient(a, b, c) * orient(a, b, d) <= 0) & (orient(c, d, a) * orient(c, d, b) <= 0)


@dataclass(frozen=True)
class Polygon:
    """A constant-attenuation simple polygon (convex or not, not self-intersecting); overlapping shapes add.

    value : attenuation μ added inside, 1/mm.
    vertices : ``[(x, y), ...]`` in mm, at least 3, in either orientation; stored as a tuple of float pairs.
    """

    value: float
    vertices: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        try:
            v = np.asarray(self.vertices, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("polygon vertices must be a sequence of (x, y) pairs in mm") from None
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
            raise ValueError(f"polygon vertices must be [(x, y), ...] with at least 3 points, got shape {v.shape}")
        _check_finite("polygon", self.value, *v.ravel())
        area = _shoelace(v)
        if abs(area) <= 1e-12 * max(1.0, float(np.ptp(v, axis=0).max()) ** 2):
            raise ValueError("polygon has zero area (collinear or repeated vertices)")
        edges = np.stack([v, np.roll(v, -1, axis=0)], axis=1)
        n = len(v)
        if n > 3:
            cross = _segments_cross(edges, edges)
            i, j = np.triu_indices(n, k=2)
            keep = ~((i == 0) & (j == n - 1))  # the first and last edges share a vertex
            if np.any(cross[i[keep], j[keep]]):
                raise ValueError("polygon edges intersect: the polygon must be simple (not self-intersecting)")
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "vertices", tuple((float(x), float(y)) for x, y in v))
        ccw = v if area > 0 else v[::-1]
        center = 0.5 * (v.min(axis=0) + v.max(axis=0))
        radius = float(np.sqrt(((v - center) ** 2).sum(axis=1)).max())
        object.__setattr__(self, "_ccw", (np.ascontiguousarray(ccw[:, 0]), np.ascontiguousarray(ccw[:, 1])))
        object.__setattr__(self, "_circle", (float(center[0]), float(center[1]), radius))

    @property
    def area(self) -> float:
        """Area in mm² (shoelace formula)."""
        return abs(_shoelace(np.asarray(self.vertices)))

    def line_integrals(self, point: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """``value`` × exact chord length along the lines ``point + t * direction``.

        ``point`` and ``direction`` are broadcastable ``[..., 2]`` (x, y) in mm, directions unit vectors.
        Returns ``[...]`` float64 (dimensionless). Non-convex polygons give the summed length of all chords.
        """
        p, d, shape = _flat_rays(point, direction)
        out = np.zeros(p.shape[0])
        vx, vy = self._ccw
        _polygon_kernel(p, d, vx, vy, *self._circle, out)
        return (self.value * out).reshape(shape)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the points (x, y) (mm, broadcastable arrays) lie inside."""
        xb, yb = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        out = np.zeros(xb.size, dtype=np.bool_)
        vx, vy = self._ccw
        _polygon_contains_kernel(np.ascontiguousarray(xb).reshape(-1), np.ascontiguousarray(yb).reshape(-1),
                                 vx, vy, out)
        return out.reshape(xb.shape)

    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box ``(xmin, ymin, xmax, ymax)`` in mm."""
        vx, vy = self._ccw
        return (float(vx.min()), float(vy.min()), float(vx.max()), float(vy.max()))


def _shoelace(v: np.ndarray) -> float:
    """Signed area of the polygon ``v`` ``[n, 2]`` (positive when counter-clockwise)."""
    x, y = v[:, 0], v[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def rectangle(value: float, center: tuple[float, float] = (0.0, 0.0), size: tuple[float, float] = (1.0, 1.0),
              angle: float = 0.0) -> Polygon:
    """A rectangle as a :class:`Polygon`.

    value : attenuation μ added inside, 1/mm. center : (x, y) in mm.
    size : full side lengths (width, height) in mm, width along the rectangle's own x axis.
    angle : rotation of the rectangle's x axis from the image x axis, radians (counter-clockwise).
    """
    w, h = float(size[0]), float(size[1])
    if not (w > 0 and h > 0):
        raise ValueError(f"rectangle size must be > 0 mm, got {size}")
    c, s = math.cos(angle), math.sin(angle)
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return Polygon(value, tuple((center[0] + x * c - y * s, center[1] + x * s + y * c) for x, y in corners))


# ---- transforms of whole phantoms ---------------------------------------------------------------------------

def ellipse_line_integrals(ellipses: Iterable[Ellipse], point: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Line integrals of ``ellipses`` along lines ``point + t * direction``.

    ``point`` and ``direction`` are ``[..., 2]`` (x, y) in mm; directions must be unit vectors.
    Returns ``[...]`` float64: Σ value × chord length (dimensionless). (Works for any shapes.)
    """
    return _sum_line_integrals(ellipses, point, direction)


def _sum_line_integrals(shapes: Iterable[Shape], point: np.ndarray, direction: np.ndarray) -> np.ndarray:
    p, d, shape = _flat_rays(point, direction)
    out = np.zeros(shape)
    for s in shapes:
        out += s.line_integrals(p, d).reshape(shape)
    return out


@functools.lru_cache(maxsize=2)
def _supersampled_rays(geometry: Geometry, det_supersample: int) -> tuple[np.ndarray, np.ndarray]:
    """Rays ``[n_views, n_det * det_supersample, 2]`` spread evenly across each detector element's width
    (element j's sub-rays are j*S … j*S + S − 1). Cached: the simulator reuses one geometry many times."""
    fine = geometry if det_supersample == 1 else geometry.replace(
        n_det=geometry.n_det * det_supersample, det_spacing=geometry.det_spacing / det_supersample)
    point, direction = (np.ascontiguousarray(a) for a in fine.rays())
    point.flags.writeable = False
    direction.flags.writeable = False
    return point, direction


def ray_transform(shapes: Sequence[Shape], geometry: Geometry, det_supersample: int = 1) -> np.ndarray:
    """Exact sinogram ``[n_views, n_det]`` (float64 line integrals) of a phantom in ``geometry``.

    Parameters
    ----------
    shapes : sequence of :class:`Ellipse`, :class:`Polygon` or other :class:`Shape`
        The phantom; attenuation values (1/mm) add.
    geometry : Geometry
        Scan geometry.
    det_supersample : int, optional
        Rays per detector element. 1 (default): one ideal ray through each element's centre. S > 1: the mean
        of S rays spread evenly across the element's width (positions on a flat detector, fan angles on an arc
        detector, offsets in parallel beam), modelling a detector that integrates over its element. The
        average is taken over line integrals (the linear model that reconstruction assumes), not intensities.
    """
    if isinstance(det_supersample, bool) or not isinstance(det_supersample, (int, np.integer)) or det_supersample < 1:
        raise ValueError(f"det_supersample must be a positive integer, got {det_supersample!r}")
    s = int(det_supersample)
    point, direction = _supersampled_rays(geometry, s)
    sino = _sum_line_integrals(shapes, point, direction)
    return sino if s == 1 else sino.reshape(geometry.n_views, geometry.n_det, s).mean(axis=-1)


def rasterize(shapes: Sequence[Shape], geometry: Geometry, supersample: int = 4) -> np.ndarray:
    """Pixel image ``[N, N]`` float64 (μ in 1/mm) of a phantom on the geometry's grid: the mean of
    ``supersample``² point samples in each pixel (so edge pixels get partial-volume values).
    Each shape is only evaluated inside its bounding box."""
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    n, px = geometry.image_size, geometry.pixel_size
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    fine = (geometry.pixel_coords[:, None] + offsets[None, :] * px).reshape(-1)  # x of columns, increasing
    m = fine.size
    img = np.zeros((m, m))
    for s in shapes:
        x0, y0, x1, y1 = s.bounds()
        c0, c1 = np.searchsorted(fine, x0, "left"), np.searchsorted(fine, x1, "right")
        k0, k1 = np.searchsorted(fine, y0, "left"), np.searchsorted(fine, y1, "right")
        if c1 <= c0 or k1 <= k0:
            continue
        r0, r1 = m - k1, m - k0  # row r has y = fine[m - 1 - r]
        x, y = fine[None, c0:c1], fine[m - 1 - np.arange(r0, r1)][:, None]
        img[r0:r1, c0:c1] += s.value * s.contains(x, y)
    return img.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
