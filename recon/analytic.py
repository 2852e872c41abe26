"""Exact (analytic) ray transforms and rasterisation of ellipse phantoms.

Used to test the discrete operators without the inverse crime, and by the simulator to make training
sinograms. Works in any geometry through :meth:`recon.geometry.Geometry.rays`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .geometry import Geometry

__all__ = ["Ellipse", "ellipse_line_integrals", "ray_transform", "rasterize"]


@dataclass(frozen=True)
class Ellipse:
    """A constant-attenuation ellipse; overlapping ellipses add.

    value : attenuation μ added inside, 1/mm.
    center : (x, y) in mm. axes : semi-axes (a, b) in mm, a along the ellipse's own x axis.
    angle : rotation of the ellipse's x axis from the image x axis, radians (counter-clockwise).
    """

    value: float
    center: tuple[float, float] = (0.0, 0.0)
    axes: tuple[float, float] = (1.0, 1.0)
    angle: float = 0.0

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.value, *self.center, *self.axes, self.angle)):
            raise ValueError(f"ellipse parameters must be finite: {self}")
        if min(self.axes) <= 0:
            raise ValueError(f"ellipse semi-axes must be > 0 mm, got {self.axes}")


def ellipse_line_integrals(ellipses: Iterable[Ellipse], point: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Line integrals of ``ellipses`` along lines ``point + t * direction``.

    ``point`` and ``direction`` are ``[..., 2]`` (x, y) in mm; directions must be unit vectors.
    Returns ``[...]`` float64: Σ value × chord length (dimensionless).
    """
    point = np.asarray(point, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64)
    out = np.zeros(np.broadcast_shapes(point.shape, direction.shape)[:-1])
    for e in ellipses:
        c, s = math.cos(e.angle), math.sin(e.angle)
        px, py = point[..., 0] - e.center[0], point[..., 1] - e.center[1]
        # coordinates in the ellipse frame, scaled so that the ellipse is the unit circle
        p1 = (px * c + py * s) / e.axes[0]
        p2 = (-px * s + py * c) / e.axes[1]
        d1 = (direction[..., 0] * c + direction[..., 1] * s) / e.axes[0]
        d2 = (-direction[..., 0] * s + direction[..., 1] * c) / e.axes[1]
        qa = d1 * d1 + d2 * d2
        qb = p1 * d1 + p2 * d2
        qc = p1 * p1 + p2 * p2 - 1.0
        disc = np.maximum(qb * qb - qa * qc, 0.0)
        out += e.value * 2.0 * np.sqrt(disc) / qa
    return out


def ray_transform(ellipses: Sequence[Ellipse], geometry: Geometry) -> np.ndarray:
    """Exact sinogram ``[n_views, n_det]`` (float64 line integrals) of ``ellipses`` in ``geometry``.

    Each detector element is one ideal ray through its centre (no detector-width integration).
    """
    point, direction = geometry.rays()
    return ellipse_line_integrals(ellipses, point, direction)


def rasterize(ellipses: Sequence[Ellipse], geometry: Geometry, supersample: int = 4) -> np.ndarray:
    """Pixel image ``[N, N]`` float64 of ``ellipses`` on the geometry's grid: the mean of
    ``supersample``² point samples in each pixel (so edge pixels get partial-volume values)."""
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    n, px = geometry.image_size, geometry.pixel_size
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    fine = (geometry.pixel_coords[:, None] + offsets[None, :] * px).reshape(-1)
    x, y = fine[None, :], fine[::-1, None]
    img = np.zeros((fine.size, fine.size))
    for e in ellipses:
        c, s = math.cos(e.angle), math.sin(e.angle)
        xr, yr = x - e.center[0], y - e.center[1]
        inside = ((xr * c + yr * s) / e.axes[0]) ** 2 + ((-xr * s + yr * c) / e.axes[1]) ** 2 <= 1.0
        img += e.value * inside
    return img.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
