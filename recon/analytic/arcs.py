"""Arcs of a scan: limited-angle data and short scans.

An *arc* is a run of consecutive views covering ``length`` radians from a start angle ``β₀`` (HTC2022's
limited-angle data: 90° … 30° arcs of a 0.5°-step fan scan). Tools:

* :func:`arc_view_indices`, :func:`cut_arc` — cut an arc from a full scan (sinogram + geometry); the cut
  geometry's angles run unwrapped from ``β₀`` (they equal the original ones modulo 2π);
* :func:`end_taper` — a smooth sin² ramp of the view weights over ``taper`` radians at both ends of the arc
  (reduces the streaks that the hard arc ends cause; a parameter of :class:`recon.analytic.recipe.FBPRecipe`);
* :func:`arc_offset` — the constant rotation between two arcs of the same length and view spacing (a model
  trained for one applies to the other, :meth:`recon.models.LearnedFBP.for_geometry`).

Angles are in radians throughout (the command line speaks degrees).
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import torch

from ..geometry import Geometry, geometry_differences
from .weights import arc_positions, scan_coverage

__all__ = ["arc_view_indices", "cut_arc", "end_taper", "arc_offset"]

ArrayLike = Union[np.ndarray, torch.Tensor]


# ---- arcs ------------------------------------------------------------------------------------------------------

def _from_start(angles: np.ndarray, start: float, tol: float = 1e-6) -> np.ndarray:
    """Angles measured counter-clockwise from ``start``, in [−tol, 2π − tol) (a hair below ``start`` is 0)."""
    rel = np.mod(angles - start, 2 * math.pi)
    return np.where(rel > 2 * math.pi - tol, rel - 2 * math.pi, rel)


def arc_view_indices(geometry: Geometry, length: float, start: float = 0.0, tol: float = 1e-6) -> np.ndarray:
    """Indices of the views of ``geometry`` on the arc ``[start, start + length]`` (radians, modulo 2π, both
    ends included within ``tol``), ordered along the arc, ``[k]`` int64."""
    if not (0.0 < length < 2 * math.pi + tol):
        raise ValueError(f"arc length must be in (0, 2π] rad, got {length!r}")
    rel = _from_start(geometry.angles, start, tol)
    keep = np.flatnonzero(rel <= length + tol)
    if keep.size < 2:
        raise ValueError(f"fewer than 2 views lie on the arc {math.degrees(start):.4g}° + {math.degrees(length):.4g}°")
    return keep[np.argsort(rel[keep], kind="stable")].astype(np.int64)


def cut_arc(sinogram: ArrayLike, geometry: Geometry, length: float, start: float = 0.0
            ) -> tuple[ArrayLike, Geometry]:
    """The views of ``sinogram`` ``[..., n_views, n_det]`` (in ``geometry``) on the arc of ``length``
    radians starting at ``start``: ``(arc sinogram, arc geometry)``. The arc geometry's angles are
    ``start + position along the arc`` (unwrapped, increasing; equal to the original angles modulo 2π)."""
    idx = arc_view_indices(geometry, length, start)
    arc_geometry = geometry.replace(angles=start + _from_start(geometry.angles[idx], start))
    if isinstance(sinogram, torch.Tensor):
        return sinogram[..., torch.from_numpy(idx), :], arc_geometry
    return np.asarray(sinogram)[..., idx, :], arc_geometry


def end_taper(geometry: Geometry, taper: float) -> np.ndarray:
    """View weights ``[n_views]`` in [0, 1]: ``sin²(π/2 · d / taper)`` for views within ``taper`` radians of
    either end of the covered arc (``d`` = distance to the nearer end), 1 elsewhere; all ones for
    ``taper`` = 0 or a full scan."""
    coverage = scan_coverage(geometry)
    if taper <= 0 or coverage.kind == "full":
        return np.ones(geometry.n_views)
    pos = arc_positions(geometry, coverage)
    d = np.minimum(pos, coverage.span - pos)
    return np.where(d < taper, np.sin(0.5 * math.pi * np.clip(d, 0.0, None) / taper) ** 2, 1.0)


# ---- arcs at other start angles ----------------------------------------------------------------------------

def arc_offset(reference: Geometry, geometry: Geometry, tol: float = 1e-5) -> float:
    """The constant angle offset ``φ`` (radians, in (−π, π]) with ``geometry.angles ≡ reference.angles + φ``
    (mod 2π), view by view; raises ``ValueError`` saying what differs when the acquisitions (detector,
    distances, number of views) differ or the angles are not a rotated copy (e.g. another view spacing)."""
    diffs = geometry_differences(reference, geometry, ignore=("angles", "image_size", "pixel_size"))
    if reference.n_views != geometry.n_views:
        diffs.append(f"{reference.n_views} views expected, got {geometry.n_views}")
    if diffs:
        raise ValueError("the geometries differ: " + "; ".join(diffs))
    d = np.angle(np.exp(1j * (geometry.angles - reference.angles)))
    offset = float(np.angle(np.mean(np.exp(1j * d))))
    resid = np.abs(np.angle(np.exp(1j * (d - offset))))
    if resid.max() > tol:
        i = int(np.argmax(resid))
        raise ValueError(f"the views are not the model's arc rotated by a constant angle (view {i} is "
                         f"{math.degrees(resid[i]):.4g}° off a rotation by {math.degrees(offset):.4g}°): "
                         "same arc length and view spacing, in the same order, are required")
    return offset
