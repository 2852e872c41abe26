"""3-D phantoms of solids — ellipsoids and prisms (:mod:`recon.simulation.prisms`: cylinders, extruded plates) —
with exact line integrals for cone-beam scans, voxelisation, the 3-D Shepp–Logan phantom and the random families.

An :class:`Ellipsoid` is a constant attenuation μ (1/mm) inside ``((x'/a)² + (y'/b)² + (z'/c)²) ≤ 1``, where
``(x', y', z')`` are the coordinates about its centre rotated by ``−phi`` about z. Phantoms add their solids'
values. Line integrals are analytic (every solid's chord), averaged over ``supersample²`` rays per detector pixel
so that simulated data carry no inverse crime.

Reference: A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, IEEE Press 1988, §3.6 and
Table 3.2 (the 3-D head phantom).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence, Union

import numpy as np

from ..geometry.cone import ConeGeometry
from ..geometry.volume import VolumeGrid
from .prisms import Prism
from .shapes import Ellipse

__all__ = ["Ellipsoid", "Prism", "shepp_logan_3d", "rasterize_volume", "exact_projections", "PHANTOMS_3D"]

Solid = Union["Ellipsoid", Prism]


@dataclass(frozen=True)
class Ellipsoid:
    """``mu`` (1/mm) inside the ellipsoid of semi-axes ``axes`` (a, b, c) mm about ``centre`` (x, y, z) mm, its a
    and b axes turned by ``phi`` radians about z."""

    mu: float
    centre: tuple[float, float, float]
    axes: tuple[float, float, float]
    phi: float = 0.0

    def __post_init__(self) -> None:
        values = (self.mu, *self.centre, *self.axes, self.phi)
        if len(self.centre) != 3 or len(self.axes) != 3 or not all(math.isfinite(float(v)) for v in values):
            raise ValueError(f"an Ellipsoid needs a finite mu, centre (x, y, z) and axes (a, b, c): {self}")
        if min(self.axes) <= 0:
            raise ValueError(f"ellipsoid semi-axes must be > 0 mm, got {self.axes}")

    def frame(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rotation [3, 3], axes [3])``: world → ellipsoid coordinates are ``rotation @ (p − centre) / axes``."""
        c, s = math.cos(self.phi), math.sin(self.phi)
        return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]), np.asarray(self.axes, dtype=np.float64)

    def chords(self, p: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Chord lengths (mm) of the rays ``p + t·d`` (``[n, 3]`` each, ``d`` unit vectors), ``[n]``."""
        rot, axes = self.frame()
        q = (p - np.asarray(self.centre)) @ rot.T / axes
        e = d @ rot.T / axes
        a = np.einsum("nk,nk->n", e, e)
        b = np.einsum("nk,nk->n", q, e)
        c = np.einsum("nk,nk->n", q, q) - 1.0
        return 2.0 * np.sqrt(np.maximum(b * b - a * c, 0.0)) / a

    def contains(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Whether the points (broadcastable ``x``, ``y``, ``z`` in mm) lie inside."""
        rot, axes = self.frame()
        px, py, pz = x - self.centre[0], y - self.centre[1], z - self.centre[2]
        u = (rot[0, 0] * px + rot[0, 1] * py) / axes[0]
        v = (rot[1, 0] * px + rot[1, 1] * py) / axes[1]
        return u ** 2 + v ** 2 + (pz / axes[2]) ** 2 <= 1.0


#: Kak & Slaney's Table 3.2: centre (x, y, z), semi-axes (a, b, c) in units of the head's size, angle (deg), density.
_KAK_SLANEY = (
    ((0.0, 0.0, 0.0), (0.69, 0.92, 0.90), 0.0, 2.0),
    ((0.0, 0.0, 0.0), (0.6624, 0.874, 0.88), 0.0, -0.98),
    ((-0.22, 0.0, -0.25), (0.41, 0.16, 0.21), 108.0, -0.02),
    ((0.22, 0.0, -0.25), (0.31, 0.11, 0.22), 72.0, -0.02),
    ((0.0, 0.35, -0.25), (0.21, 0.25, 0.50), 0.0, 0.02),
    ((0.0, 0.1, -0.25), (0.046, 0.046, 0.046), 0.0, 0.02),
    ((-0.08, -0.65, -0.25), (0.046, 0.023, 0.02), 0.0, 0.01),
    ((0.06, -0.65, -0.25), (0.046, 0.023, 0.02), 90.0, 0.01),
    ((0.06, -0.105, 0.625), (0.056, 0.04, 0.10), 90.0, 0.02),
    ((0.0, 0.1, 0.625), (0.056, 0.056, 0.10), 0.0, -0.02),
)


def shepp_logan_3d(size: float = 100.0, mu: float = 0.01) -> list[Ellipsoid]:
    """The 3-D Shepp–Logan head phantom of Kak & Slaney (Table 3.2) scaled to ``size`` mm (its skull is
    ``0.69 size × 0.92 size × 0.90 size`` in semi-axes) with density 1 ↦ ``mu`` 1/mm (skull 2 mu, brain 1.02 mu)."""
    return [Ellipsoid(d * mu, tuple(size * np.asarray(c)), tuple(size * np.asarray(a)), math.radians(phi))
            for c, a, phi, d in _KAK_SLANEY]


def rasterize_volume(solids: Sequence[Solid], grid: VolumeGrid, supersample: int = 1) -> np.ndarray:
    """The phantom on ``grid``: ``[nz, ny, nx]`` float64, each voxel the mean of ``supersample³`` point samples."""
    s = int(supersample)
    offsets = (np.arange(s) + 0.5) / s - 0.5
    vz, vy, vx = grid.voxel_size
    out = np.zeros(grid.shape)
    x = (grid.x[:, None] + vx * offsets[None, :]).reshape(-1)[None, None, :]  # [nx · s], voxel-major
    y = (grid.y[:, None] - vy * offsets[None, :]).reshape(-1)[None, :, None]
    z = (grid.z[:, None] - vz * offsets[None, :]).reshape(-1)[:, None, None]
    for solid in solids:
        inside = solid.contains(x, y, z)  # [z·s, y·s, x·s]
        out += solid.mu * inside.reshape(grid.shape[0], s, grid.shape[1], s, grid.shape[2], s).mean(axis=(1, 3, 5))
    return out


def exact_projections(solids: Sequence[Solid], geometry: ConeGeometry, supersample: int = 1) -> np.ndarray:
    """Exact line integrals ``[n_views, rows, cols]`` (float64) of the phantom for a cone-beam scan, each pixel
    the mean over ``supersample²`` rays through its area (source → point on the detector)."""
    s = int(supersample)
    fine = geometry.supersampled(s)
    vec = fine.cone_vectors()
    base, step = vec.pixel_positions()
    rows = fine.det_shape[0]
    points = base[:, None, :, :] + np.arange(rows)[None, :, None, None] * step[:, None, None, :]
    direction = points - vec.source[:, None, None, :]
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    source = np.broadcast_to(vec.source[:, None, None, :], points.shape).reshape(-1, 3)
    direction = direction.reshape(-1, 3)
    out = np.zeros(len(source))
    for solid in solids:
        out += solid.mu * solid.chords(source, direction)
    r, cc = geometry.det_shape
    return out.reshape(points.shape[0], r, s, cc, s).mean(axis=(2, 4))


def _random_ellipsoids(rng: np.random.Generator, radius: float = 40.0, n: Any = (3, 8), mu: Any = (0.01, 0.03),
                       contrast: Any = (-0.5, 0.5), size: Any = (0.08, 0.35), height: float = 0.8) -> list[Ellipsoid]:
    """A body ellipsoid (semi-axes ``radius`` × U(0.7, 1) in-plane, ``height · radius`` along z, μ drawn from
    ``mu``) holding ``n`` random ellipsoids (semi-axes ``size`` × ``radius``, turned about z, each adding
    ``contrast`` × the body's μ) that stay inside it."""
    lo, hi = (int(v) for v in (n if np.ndim(n) else (n, n)))
    m_lo, m_hi = (float(v) for v in (mu if np.ndim(mu) else (mu, mu)))
    body_mu = rng.uniform(m_lo, m_hi)
    axes = np.array([radius * rng.uniform(0.7, 1.0), radius * rng.uniform(0.7, 1.0), height * radius])
    out = [Ellipsoid(body_mu, (0.0, 0.0, 0.0), tuple(axes), rng.uniform(0, np.pi))]
    for _ in range(rng.integers(lo, hi + 1)):
        semi = radius * rng.uniform(size[0], size[1], 3)
        reach = np.maximum(axes - semi.max(), 0.0) / np.sqrt(3.0)
        centre = tuple(rng.uniform(-1.0, 1.0, 3) * reach)
        out.append(Ellipsoid(body_mu * rng.uniform(contrast[0], contrast[1]), centre, tuple(semi),
                             rng.uniform(0, np.pi)))
    return out


def _random_cylinders(rng: np.random.Generator, radius: float = 40.0, n: Any = (3, 8), mu: Any = (0.01, 0.03),
                      contrast: Any = (-0.5, 0.5), size: Any = (0.08, 0.3), height: float = 0.8) -> list[Solid]:
    """A body elliptic cylinder (semi-axes ``radius`` × U(0.7, 1), half-height ``height · radius``, μ from ``mu``)
    holding ``n`` inserts — elliptic cylinders of random heights (rods, and bores where the contrast is negative)
    and ellipsoids — with semi-axes ``size`` × ``radius``, each adding ``contrast`` × the body's μ, inside the body
    (inserts may overlap and their values add: keep ``contrast`` ≥ −0.5 so that two never make μ negative)."""
    lo, hi = (int(v) for v in (n if np.ndim(n) else (n, n)))
    m_lo, m_hi = (float(v) for v in (mu if np.ndim(mu) else (mu, mu)))
    body_mu = rng.uniform(m_lo, m_hi)
    a, b, h = radius * rng.uniform(0.7, 1.0), radius * rng.uniform(0.7, 1.0), height * radius
    out: list[Solid] = [Prism(Ellipse(body_mu, (0.0, 0.0), (a, b), rng.uniform(0, np.pi)), -h, h)]
    for _ in range(rng.integers(lo, hi + 1)):
        semi = radius * rng.uniform(size[0], size[1], 3)
        reach = max(min(a, b) - semi[:2].max(), 0.0) / np.sqrt(2.0)
        cx, cy = rng.uniform(-1.0, 1.0, 2) * reach
        value = body_mu * rng.uniform(contrast[0], contrast[1])
        if rng.uniform() < 0.6:
            half = rng.uniform(0.2, 1.0) * h
            zc = rng.uniform(-1.0, 1.0) * (h - half)
            out.append(Prism(Ellipse(value, (cx, cy), tuple(semi[:2]), rng.uniform(0, np.pi)), zc - half, zc + half))
        else:
            semi[2] = min(semi[2], h)
            zc = rng.uniform(-1.0, 1.0) * (h - semi[2])
            out.append(Ellipsoid(value, (cx, cy, zc), tuple(semi), rng.uniform(0, np.pi)))
    return out


def _shepp_logan_3d_family(rng: np.random.Generator, size: float = 100.0, mu: float = 0.01) -> list[Ellipsoid]:
    """:func:`shepp_logan_3d` as a family (deterministic: ``rng`` is ignored)."""
    return shepp_logan_3d(size, mu)


#: The 3-D phantom families (``[phantom] family`` of a cone-beam simulation).
PHANTOMS_3D = {"random_ellipsoids": _random_ellipsoids, "random_cylinders": _random_cylinders,
               "shepp_logan_3d": _shepp_logan_3d_family}
