"""A flat fan-beam detector turned in its plane (in-plane tilt): the geometry, its recognition, and the data
resampled onto the untilted detector.

The tilt ``τ`` (radians) turns the detector's u axis from the detector axis ``a`` towards the source–detector
axis ``n`` about the detector centre (the convention of :func:`recon.operators.geometric.project_geometry`): per
view the source is at ``−sod·n``, the centre at ``(sdd − sod)·n + det_offset·a`` and the element step is
``det_spacing·(cos τ·a + sin τ·n)``. Such a scan is still circular — the detector turns rigidly with the source —
so its data can be resampled onto the untilted detector with the same centre and pitch (:func:`untilt_sinogram`)
and everything that needs a :class:`~recon.FanBeam` (FBP, rebinning, Parker weights) applies.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .beams import FanBeam
from .vector_beams import FanBeamVec

__all__ = ["tilted_fan", "tilted_circle", "untilt_sinogram", "detector_axes"]


def detector_axes(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The detector axis ``a`` and the source–detector axis ``n`` ``[..., 2]`` at view angles ``theta``."""
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([c, s], -1), np.stack([-s, c], -1)


def tilted_fan(fan: FanBeam, tilt: float) -> FanBeamVec:
    """``fan`` (flat detector) with its detector turned in its plane by ``tilt`` radians, as a
    :class:`~recon.FanBeamVec`."""
    if fan.detector != "flat":
        raise ValueError("a detector tilt applies to flat detectors")
    if not (math.isfinite(tilt) and abs(tilt) < math.pi / 4):
        raise ValueError(f"detector tilt must be finite and below 45°, got {math.degrees(tilt):g}°")
    a, n = detector_axes(np.asarray(fan.angles, dtype=np.float64))
    u = fan.det_spacing * (math.cos(tilt) * a + math.sin(tilt) * n)
    rows = np.concatenate([-fan.sod * n, (fan.sdd - fan.sod) * n + fan.det_offset * a, u], axis=1)
    return FanBeamVec(rows, fan.n_det, fan.image_size, fan.pixel_size)


def tilted_circle(geometry, tol: float = 1e-7) -> Optional[tuple[FanBeam, float]]:
    """``(fan, tilt)`` when ``geometry`` is a flat :class:`~recon.FanBeamVec` whose vectors are a circular scan
    with a rigidly tilted detector (``tilted_fan(fan, tilt)`` reproduces them within ``tol`` relative), else
    None."""
    if not isinstance(geometry, FanBeamVec) or geometry.detector != "flat":
        return None
    v = np.asarray(geometry.vectors, dtype=np.float64)
    source, centre, u = v[:, 0:2], v[:, 2:4], v[:, 4:6]
    sod = np.linalg.norm(source, axis=1)
    if sod.min() <= 0:
        return None
    n = -source / sod[:, None]
    a = np.stack([n[:, 1], -n[:, 0]], axis=1)
    theta = np.arctan2(a[:, 1], a[:, 0])
    tilt = float(np.median(np.arctan2(np.sum(u * n, 1), np.sum(u * a, 1))))
    try:
        fan = FanBeam(np.unwrap(theta), geometry.n_det, float(np.median(np.linalg.norm(u, axis=1))),
                      geometry.image_size, geometry.pixel_size, sod=float(np.median(sod)),
                      sdd=float(np.median(np.sum(centre * n, 1)) + np.median(sod)),
                      det_offset=float(np.median(np.sum(centre * a, 1))))
        again = tilted_fan(fan, tilt).vectors
    except ValueError:
        return None
    if np.abs(again - v).max() > tol * max(float(np.abs(v).max()), 1e-300):
        return None
    return fan, tilt


def untilt_sinogram(sinogram: np.ndarray, fan: FanBeam, tilt: float) -> np.ndarray:
    """Data ``[..., n_views, n_det]`` of ``tilted_fan(fan, tilt)`` resampled onto ``fan``'s untilted detector.

    The virtual element at ``s`` along the untilted detector sees the ray that meets the tilted one at
    ``t = s / (cos τ − sin τ (det_offset + s) / sdd)`` (one linear interpolation along the detector for every
    view; elements whose ray misses the tilted detector take its nearest edge value)."""
    p = np.asarray(sinogram, dtype=np.float64)
    if p.shape[-1] != fan.n_det:
        raise ValueError(f"data with {p.shape[-1]} detector elements do not fit the geometry's {fan.n_det}")
    mid = (fan.n_det - 1) / 2.0
    s = (np.arange(fan.n_det) - mid) * fan.det_spacing
    t = s / (math.cos(tilt) - math.sin(tilt) * (fan.det_offset + s) / fan.sdd)
    j = t / fan.det_spacing + mid
    rows = p.reshape(-1, fan.n_det)
    return np.stack([np.interp(j, np.arange(fan.n_det), row) for row in rows]).reshape(p.shape)
