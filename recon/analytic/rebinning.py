"""Geometry conversion by interpolation (rebinning): fan (flat/arc) ↔ parallel, any angle sets.

Every sinogram element is a line. For each target element the rebinner finds the same line in the
source geometry and interpolates it bilinearly (view angle × detector coordinate) from the source
sinogram. Lines are unoriented, so a line can be found twice in the source — in a 2π fan scan every line
is; in a short scan some are — and the rebinner averages every representation that was measured.
A π parallel scan is completed to 2π by its mirror views (θ + π, −u). Relations (this package's
convention, see :mod:`recon.analytic.weights`): fan ray (β, γ) is the line ``θ = β − γ``, ``s = sod · sin γ``;
flat detector ``u = sdd · tan γ``, arc detector ``u = sdd · γ``.

Interpolation is never done across a gap in the views wider than 3× their mean spacing (or 10°): lines
that fall into such a gap (outside a short or limited scan) come out as 0, and :func:`rebin_coverage`
reports which.

The rebinning is a fixed sparse linear map (at most 8 taps per target element), applied with gathers:
differentiable, batched, and on any device — the interpolation baseline the learned conversion networks
are compared with.

References
----------
A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, IEEE Press, 1988, ch. 3.4
(the fan ↔ parallel relations θ = β − γ, s = D sin γ).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from ..geometry import FanBeam, Geometry, ParallelBeam, as_circular, check_geometry
from ..operators.functional import check_input

__all__ = ["Rebinning", "rebin", "rebin_coverage", "parallel_geometry_for", "isocentre_pitch", "field_of_view_radius"]


def _lines(geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """(θ, s) of every element ``[n_views, n_det]``: the line ``x cos θ + y sin θ = s``."""
    if geometry.point_source:
        gamma = geometry.fan_angles[None, :]
        return geometry.angles[:, None] - gamma, np.broadcast_to(geometry.sod * np.sin(gamma), (geometry.n_views,
                                                                                               geometry.n_det))
    return np.repeat(geometry.angles[:, None], geometry.n_det, 1), np.broadcast_to(geometry.det_coords,
                                                                                   geometry.sino_shape)


class _ViewTable:
    """Source views sorted by angle in [0, 2π), each with a sign (-1: mirrored parallel view, whose detector
    coordinate is -u), and the largest gap across which views may be interpolated."""

    def __init__(self, geometry: Geometry) -> None:
        n = geometry.n_views
        angles = np.mod(geometry.angles, 2 * np.pi)
        index = np.arange(n)
        sign = np.ones(n)
        if not geometry.point_source:  # add mirror views (θ + π, −u), drop duplicates
            angles = np.concatenate([angles, np.mod(angles + np.pi, 2 * np.pi)])
            index = np.concatenate([index, index])
            sign = np.concatenate([sign, -sign])
        order = np.lexsort((index, angles))
        angles, index, sign = angles[order], index[order], sign[order]
        keep = np.concatenate([[True], np.diff(angles) > 1e-9])
        if keep.size > 1 and angles[-1] - angles[0] > 2 * np.pi - 1e-9:
            keep[-1] = False
        self.angles, self.index, self.sign = angles[keep], index[keep], sign[keep]
        self.max_gap = max(3.0 * 2 * np.pi / self.angles.size, np.deg2rad(10.0))

    def bracket(self, a: np.ndarray):
        """Left/right table positions, interpolation fraction and availability for angles ``a``."""
        a = np.mod(a, 2 * np.pi)
        m = self.angles.size
        right = np.searchsorted(self.angles, a, side="right") % m
        left = (right - 1) % m
        gap = np.mod(self.angles[right] - self.angles[left], 2 * np.pi)
        if m == 1:
            gap = np.full_like(a, 2 * np.pi)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(gap > 0, np.mod(a - self.angles[left], 2 * np.pi) / gap, 0.0)
        ok = (gap <= self.max_gap) | (np.abs(a - self.angles[left]) < 1e-12)
        return left, right, np.clip(frac, 0.0, 1.0), ok


def _detector_position(geometry: Geometry, theta: np.ndarray, s: np.ndarray, rep: int):
    """Angle and detector coordinate (mm or arc length) of line (θ, s) in ``geometry``, representation
    ``rep`` (0 or 1: the line traversed in the opposite direction), and whether it exists."""
    if not geometry.point_source:
        return theta, s, np.ones(theta.shape, dtype=bool)
    ratio = s / geometry.sod
    exists = np.abs(ratio) < 1.0
    gamma = np.arcsin(np.clip(ratio, -1.0, 1.0))
    if rep == 1:
        gamma = -gamma
        beta = theta + np.pi + gamma
    else:
        beta = theta + gamma
    u = geometry.sdd * (np.tan(gamma) if geometry.detector == "flat" else gamma)
    return beta, u, exists


def _rebinning_taps(source: Geometry, target: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Flat source indices and weights ``[n_views_t, n_det_t, 8]`` of the rebinning map."""
    theta, s = _lines(target)
    table = _ViewTable(source)
    det0, ddet, n_det = source.det_coords[0], source.det_spacing, source.n_det
    reps = (0,) if not source.point_source else (0, 1)
    idx = np.zeros(theta.shape + (4 * len(reps),), dtype=np.int64)
    wts = np.zeros(idx.shape)
    count = np.zeros(theta.shape)
    for r, rep in enumerate(reps):
        angle, u, exists = _detector_position(source, theta, s, rep)
        left, right, frac, ok = table.bracket(angle)
        rep_ok = exists & ok
        rep_w = np.zeros(theta.shape + (4,))
        rep_i = np.zeros(theta.shape + (4,), dtype=np.int64)
        inside = np.ones(theta.shape, dtype=bool)
        for side, (pos, wv) in enumerate(((left, 1.0 - frac), (right, frac))):
            k = (table.sign[pos] * u - det0) / ddet
            k0 = np.floor(k)
            f = k - k0
            k0 = k0.astype(np.int64)
            inside &= (k >= -1e-9) & (k <= n_det - 1 + 1e-9)
            for tap, (kk, wk) in enumerate(((k0, 1.0 - f), (k0 + 1, f))):
                valid = (kk >= 0) & (kk < n_det)
                rep_i[..., 2 * side + tap] = table.index[pos] * n_det + np.clip(kk, 0, n_det - 1)
                rep_w[..., 2 * side + tap] = np.where(valid, wv * wk, 0.0)
        rep_ok &= inside
        idx[..., 4 * r:4 * r + 4] = rep_i
        wts[..., 4 * r:4 * r + 4] = rep_w * rep_ok[..., None]
        count += rep_ok
    with np.errstate(divide="ignore", invalid="ignore"):
        wts = np.where(count[..., None] > 0, wts / np.maximum(count, 1)[..., None], 0.0)
    return idx, wts


class Rebinning(torch.nn.Module):
    """Interpolation rebinning ``source`` → ``target`` as a fixed layer:
    ``[..., n_views_s, n_det_s]`` → ``[..., n_views_t, n_det_t]``.

    Fan (flat or arc) → parallel, parallel → fan, and also fan → fan or parallel → parallel (resampling).
    ``coverage`` (buffer, ``[n_views_t, n_det_t]`` bool) marks target elements found in the source data.
    """

    def __init__(self, source: Geometry, target: Geometry, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        source = as_circular(check_geometry(source, "source"), "rebinning (source)")
        target = as_circular(check_geometry(target, "target"), "rebinning (target)")
        self.source, self.target = source, target
        idx, wts = _rebinning_taps(source, target)
        self.register_buffer("index", torch.from_numpy(idx.reshape(-1)))
        self.register_buffer("weight", torch.from_numpy(wts).to(dtype))
        self.register_buffer("coverage", torch.from_numpy(wts.sum(-1) > 0.5))

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        x, _ = check_input("rebin", "sinogram", sinogram, self.source)
        lead = x.shape[:-2]
        flat = x.reshape(lead + (-1,))
        taps = flat[..., self.index].reshape(lead + tuple(self.weight.shape))
        return (taps * self.weight.to(x.dtype)).sum(-1)


def rebin_coverage(source: Geometry, target: Geometry) -> np.ndarray:
    """Bool ``[n_views_t, n_det_t]``: which target elements the source data contain (others rebin to 0)."""
    return _rebinning_taps(source, target)[1].sum(-1) > 0.5


def rebin(sinogram, source: Geometry, target: Geometry, *, dtype: Optional[torch.dtype] = None):
    """Rebin ``sinogram`` (``[..., n_views, n_det]`` in ``source``) to ``target`` by interpolation.

    Returns ``[..., target.n_views, target.n_det]`` of the same type (numpy in → numpy out); differentiable.
    For repeated use build a :class:`Rebinning` layer once (its sparse map is computed at construction).
    """
    x, was_numpy = check_input("rebin", "sinogram", sinogram, source)
    layer = Rebinning(source, target, dtype=dtype or x.dtype).to(x.device)
    out = layer(x)
    return out.detach().numpy() if was_numpy else out


def field_of_view_radius(geometry: Geometry) -> float:
    """Radius (mm) of the disc every view's detector covers: ``max |u|`` (parallel),
    ``sod · sin(max |γ|)`` (fan)."""
    if geometry.point_source:
        return geometry.sod * math.sin(float(abs(geometry.fan_angles).max()))
    return float(abs(geometry.det_coords).max())


def isocentre_pitch(geometry: Geometry) -> float:
    """Detector pitch projected to the rotation axis (mm): ``det_spacing`` (parallel),
    ``det_spacing · sod / sdd`` (fan)."""
    if geometry.point_source:
        return geometry.det_spacing * geometry.sod / geometry.sdd
    return geometry.det_spacing


def parallel_geometry_for(fan: FanBeam, n_views: Optional[int] = None) -> ParallelBeam:
    """The parallel geometry a fan scan is rebinned to: views over π (as many as the fan scan unless
    ``n_views``), the same number of detectors at the fan detector's isocentre pitch, same image grid."""
    n = n_views or fan.n_views
    return ParallelBeam(np.arange(n) * (math.pi / n), fan.n_det, isocentre_pitch(fan), fan.image_size, fan.pixel_size,
                        det_offset=fan.det_offset * fan.sod / fan.sdd)
