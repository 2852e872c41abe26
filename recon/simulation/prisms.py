"""Prisms: a 2-D shape (:class:`recon.Ellipse`, :class:`recon.Polygon`) extruded along z — elliptic cylinders,
and the laser-cut discs with holes of the HTC2022 phantoms as solid plates — with exact chords of 3-D rays.

A :class:`Prism` adds its shape's μ (1/mm) inside ``{(x, y, z): (x, y) in the shape, z_min ≤ z ≤ z_max}``. The
chord of a ray ``p + t·d`` (``d`` a unit vector) is the length of the set of ``t`` where the ray's (x, y) lies in
the shape and its z in the slab: the shape's crossings in the plane (the quadratic of an ellipse, the edge
crossings of a polygon, paired by the even–odd rule, so non-convex polygons give several intervals) intersected
with the slab's interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import numpy as np

from .shapes import Ellipse, Polygon

__all__ = ["Prism"]

#: Rays per block of the polygon chords (bounds the ``[rays, edges]`` temporaries).
_BLOCK = 1 << 18


def _slab(p: np.ndarray, d: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """``t`` interval of the rays inside ``lo ≤ z ≤ hi`` (empty: t0 ≥ t1; z-parallel rays: all or nothing)."""
    pz, dz = p[:, 2], d[:, 2]
    flat = np.abs(dz) < 1e-300
    safe = np.where(flat, 1.0, dz)
    ta, tb = (lo - pz) / safe, (hi - pz) / safe
    inside = (pz >= lo) & (pz <= hi)
    t0 = np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(ta, tb))
    t1 = np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(ta, tb))
    return t0, t1


def _ellipse_interval(e: Ellipse, p: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``t`` interval where the rays' (x, y) lie inside the ellipse."""
    c, s = math.cos(e.angle), math.sin(e.angle)
    qx, qy = p[:, 0] - e.center[0], p[:, 1] - e.center[1]
    qu, qv = (qx * c + qy * s) / e.axes[0], (-qx * s + qy * c) / e.axes[1]
    du, dv = (d[:, 0] * c + d[:, 1] * s) / e.axes[0], (-d[:, 0] * s + d[:, 1] * c) / e.axes[1]
    a = du * du + dv * dv
    b = qu * du + qv * dv
    cc = qu * qu + qv * qv - 1.0
    vertical = a < 1e-300
    safe = np.where(vertical, 1.0, a)
    root = np.sqrt(np.maximum(b * b - a * cc, 0.0))
    hit = b * b - a * cc > 0
    t0 = np.where(vertical, np.where(cc <= 0, -np.inf, np.inf), np.where(hit, (-b - root) / safe, np.inf))
    t1 = np.where(vertical, np.where(cc <= 0, np.inf, -np.inf), np.where(hit, (-b + root) / safe, -np.inf))
    return t0, t1


def _polygon_crossings(poly: Polygon, p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Sorted ``t`` of the rays' crossings of the polygon's edges, ``[rays, edges]`` (``inf`` where none)."""
    v = np.asarray(poly.vertices)
    e = np.roll(v, -1, axis=0) - v  # [edges, 2]
    wx, wy = v[None, :, 0] - p[:, None, 0], v[None, :, 1] - p[:, None, 1]
    denom = d[:, None, 0] * e[None, :, 1] - d[:, None, 1] * e[None, :, 0]
    ok = np.abs(denom) > 1e-300
    safe = np.where(ok, denom, 1.0)
    t = (wx * e[None, :, 1] - wy * e[None, :, 0]) / safe
    s = (wx * d[:, None, 1] - wy * d[:, None, 0]) / safe
    t = np.where(ok & (s >= 0.0) & (s < 1.0), t, np.inf)
    return np.sort(t, axis=1)


@dataclass(frozen=True)
class Prism:
    """``shape`` (2-D, its ``value`` the μ in 1/mm) extruded over ``z_min ≤ z ≤ z_max`` (mm)."""

    shape: Union[Ellipse, Polygon]
    z_min: float
    z_max: float

    def __post_init__(self) -> None:
        if not isinstance(self.shape, (Ellipse, Polygon)):
            raise TypeError(f"a Prism extrudes a recon.Ellipse or recon.Polygon, got {type(self.shape).__name__}")
        lo, hi = float(self.z_min), float(self.z_max)
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"a Prism needs finite z_min < z_max (mm), got {self.z_min!r}, {self.z_max!r}")
        object.__setattr__(self, "z_min", lo)
        object.__setattr__(self, "z_max", hi)

    @property
    def mu(self) -> float:
        return self.shape.value

    def chords(self, p: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Chord lengths (mm) of the rays ``p + t·d`` (``[n, 3]`` each, ``d`` unit vectors), ``[n]``."""
        z0, z1 = _slab(p, d, self.z_min, self.z_max)
        if isinstance(self.shape, Ellipse):
            t0, t1 = _ellipse_interval(self.shape, p, d)
            return np.maximum(np.minimum(t1, z1) - np.maximum(t0, z0), 0.0)
        out = np.zeros(len(p))
        for lo in range(0, len(p), _BLOCK):
            hi = min(lo + _BLOCK, len(p))
            t = _polygon_crossings(self.shape, p[lo:hi], d[lo:hi])
            n_pairs = t.shape[1] // 2
            enter, leave = t[:, 0:2 * n_pairs:2], t[:, 1:2 * n_pairs:2]
            valid = np.isfinite(leave)
            with np.errstate(invalid="ignore"):  # inf − inf where a ray has fewer crossings (masked by valid)
                seg = np.minimum(leave, z1[lo:hi, None]) - np.maximum(enter, z0[lo:hi, None])
            out[lo:hi] = np.where(valid, np.maximum(seg, 0.0), 0.0).sum(axis=1)
        return out

    def contains(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Whether the points (broadcastable ``x``, ``y``, ``z`` in mm) lie inside."""
        return self.shape.contains(x, y) & (z >= self.z_min) & (z <= self.z_max)
