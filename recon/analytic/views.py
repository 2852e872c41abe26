"""Angular sampling: the uniform-scan check, linear view interpolation of full scans, and view completion
of arcs.

At 60–90 views the error of FBP is dominated by the angular sampling of the backprojection (streaks), not
by the filter. Interpolating the sinogram linearly along the views to ``factor``× more views and
backprojecting those removes most of the streaks: *view-interpolated FBP* is an analytic method and the fair
baseline for sparse-view learned models. Interpolation is circular, so the scan must cover one period of
its data with uniform steps: the full circle, or for a parallel beam with a centred detector also a half turn,
whose views continue with the detector reversed (``p(θ + π, u) = p(θ, −u)``, :func:`scan_period_step`).

An arc (limited angle, short scan) can be *completed* to the full circle: :func:`complete_arc` fills the
missing views with the mean measured view — the exact projection of a centred rotation-symmetric object
(the HTC2022 discs), the best guess of a view that was not measured otherwise. A learned FBP over the
completed circle (:class:`recon.models.LearnedFBP` with ``complete_views=True``) then learns how much each
measured and each filled-in ray counts.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..geometry import Geometry

__all__ = ["uniform_full_scan_step", "scan_period_step", "continue_half_turn", "upsampled_geometry", "upsample_views",
           "completed_geometry", "complete_arc"]


def uniform_full_scan_step(geometry: Geometry, what: str = "view interpolation") -> float:
    """The angular step (rad) of a uniform scan over the full circle (``n_views · step = 2π``, increasing or
    decreasing angles); ``ValueError`` saying why otherwise."""
    angles = np.asarray(geometry.angles, dtype=np.float64)
    if angles.size < 3:
        raise ValueError(f"{what} needs a full circular scan; got {angles.size} view(s)")
    steps = np.diff(angles)
    step = float(steps.mean())
    if not np.allclose(steps, step, rtol=1e-6, atol=1e-9):
        raise ValueError(f"{what} needs uniformly spaced views; the steps range from "
                         f"{math.degrees(steps.min()):.4g}° to {math.degrees(steps.max()):.4g}°")
    if abs(abs(step) * angles.size - 2 * math.pi) > 1e-6 * 2 * math.pi:
        raise ValueError(f"{what} needs views over the full circle (n_views × step = 360°); this scan covers "
                         f"{math.degrees(abs(step) * angles.size):.4g}° ({angles.size} views of "
                         f"{math.degrees(abs(step)):.4g}°)")
    return step


def scan_period_step(geometry: Geometry, what: str = "view interpolation") -> tuple[float, bool]:
    """``(step, half_turn)``: the angular step (rad) of a uniform scan over one period of its data, and whether
    that period is a half turn — a parallel beam over 180° with a centred detector, whose view after the last
    is the first with the detector reversed (``p(θ + π, u) = p(θ, −u)``, :func:`continue_half_turn`).
    Otherwise the scan must cover the full circle (:func:`uniform_full_scan_step`); ``ValueError`` saying why
    not."""
    angles = np.asarray(geometry.angles, dtype=np.float64)
    if not geometry.point_source and angles.size >= 3:
        steps = np.diff(angles)
        step = float(steps.mean())
        uniform = np.allclose(steps, step, rtol=1e-6, atol=1e-9)
        if uniform and abs(abs(step) * angles.size - math.pi) <= 1e-6 * math.pi:
            if geometry.det_offset != 0.0:
                raise ValueError(f"{what} of a parallel scan over 180° continues its views with the detector "
                                 f"reversed, which needs a centred detector; this one is offset by "
                                 f"{geometry.det_offset:g} mm (use a scan over 360°)")
            return step, True
    return uniform_full_scan_step(geometry, what), False


def continue_half_turn(sinogram: torch.Tensor, n_turns: int = 2) -> torch.Tensor:
    """A parallel half-turn sinogram ``[..., V, D]`` (centred detector, :func:`scan_period_step`) continued over
    ``n_turns`` half turns: ``[..., n_turns·V, D]``, every second half turn with the detector reversed."""
    halves = [sinogram if k % 2 == 0 else sinogram.flip(-1) for k in range(int(n_turns))]
    return torch.cat(halves, dim=-2)


def upsampled_geometry(geometry: Geometry, factor: int) -> Geometry:
    """``geometry`` with ``factor``× more views: the original views at every ``factor``-th position and
    ``factor − 1`` evenly spaced views between neighbours (circularly; over a parallel half turn, see
    :func:`scan_period_step`)."""
    if int(factor) != factor or factor < 1:
        raise ValueError(f"the upsampling factor must be a positive integer, got {factor!r}")
    step, _ = scan_period_step(geometry)
    k = np.arange(geometry.n_views * int(factor), dtype=np.float64)
    return geometry.replace(angles=geometry.angles[0] + k * (step / factor))


def upsample_views(sinogram, geometry: Geometry, factor: int):
    """Linear interpolation along the views of a full uniform scan: ``[..., V, D]`` → ``[..., factor·V, D]``
    (torch or numpy, as given), and the matching geometry (:func:`upsampled_geometry`). View ``factor·v``
    is view ``v``; view ``factor·v + j`` is ``(1 − j/factor) p[v] + (j/factor) p[v + 1]``, circularly (over a
    parallel half turn ``p[V]`` is ``p[0]`` with the detector reversed)."""
    geom_up = upsampled_geometry(geometry, factor)
    _, half_turn = scan_period_step(geometry)
    was_numpy = not isinstance(sinogram, torch.Tensor)
    p = torch.as_tensor(sinogram)
    if p.ndim < 2 or tuple(p.shape[-2:]) != geometry.sino_shape:
        raise ValueError(f"sinogram must be [..., {geometry.n_views}, {geometry.n_det}], got {tuple(p.shape)}")
    t = torch.arange(int(factor), dtype=p.dtype if p.is_floating_point() else torch.float64) / factor
    t = t[:, None]
    nxt = continue_half_turn(p)[..., 1:p.shape[-2] + 1, :] if half_turn else torch.roll(p, -1, dims=-2)
    up = (1 - t) * p.unsqueeze(-2) + t * nxt.unsqueeze(-2)  # [..., V, factor, D]
    up[..., 0, :] = p  # the measured views unchanged, bit for bit
    up = up.reshape(p.shape[:-2] + (geom_up.n_views, geometry.n_det))
    return (up.numpy() if was_numpy else up), geom_up


def _arc_step(geometry: Geometry) -> float:
    d = np.diff(np.unwrap(geometry.angles))  # an arc through 0° may store its angles wrapped to [0, 2π)
    if d.size == 0 or np.ptp(d) > 1e-6 * max(1.0, abs(d.mean())) or d.mean() <= 0:
        raise ValueError("view completion needs an arc of evenly spaced, increasing angles")
    return float(d.mean())


def completed_geometry(geometry: Geometry) -> Geometry:
    """The full circle continuing the arc of ``geometry`` with its view step: angles ``β₀ + k·Δβ`` for
    ``k < round(2π/Δβ)`` (the measured views first, in arc order)."""
    step = _arc_step(geometry)
    n_full = int(round(2 * math.pi / step))
    if n_full < geometry.n_views or abs(n_full * step - 2 * math.pi) > 1e-3 * step:
        raise ValueError(f"the view step {math.degrees(step):.6g}° does not divide 360° into at least "
                         f"{geometry.n_views} views")
    return geometry.replace(angles=geometry.angles[0] + step * np.arange(n_full))


def complete_arc(sinogram, geometry: Geometry):
    """Fill the views missing from an arc (evenly spaced, increasing angles modulo 2π, in arc order) up to the
    full circle with the mean of the measured views, per detector element: ``([..., n_full, n_det], completed geometry)`` (torch or
    numpy, as given). The measured views come first, unchanged. Linear in the sinogram."""
    full = completed_geometry(geometry)
    x = sinogram if isinstance(sinogram, torch.Tensor) else torch.as_tensor(np.asarray(sinogram))
    fill = x.mean(dim=-2, keepdim=True).expand(*x.shape[:-2], full.n_views - geometry.n_views, x.shape[-1])
    out = torch.cat([x, fill], dim=-2)
    return (out if isinstance(sinogram, torch.Tensor) else out.numpy()), full
