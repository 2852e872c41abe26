"""Filtered backprojection for parallel and fan beam (flat and arc detectors), any scan range.

``x = B_w · F⁻¹ diag(k) F · (W ⊙ p)``, with (Kak & Slaney ch. 3; design notes §3):

* ``W`` — per-element weights ``[n_views, n_det]``: detector pre-weight (1 for parallel; the cosine
  ``sdd / √(sdd² + u²)`` for a flat detector; ``sod · cos γ`` for an arc detector) × angular quadrature
  Δβ from the actual angle gaps × redundancy (½ for full fan scans, Parker weights for short scans);
* ``k`` — the windowed Ram-Lak ramp, sampled on the detector (parallel), on the virtual detector through
  the isocentre (flat fan: spacing ``det_spacing · sod / sdd``), or in fan angle (arc: spacing
  ``det_spacing / sdd``, kernel ``(γ / sin γ)² h(γ)``);
* ``B_w`` — :func:`recon.weighted_backproject` (distance weights ``(sod/L)²`` flat, ``1/L²`` arc).

Images come out in the units of attenuation μ (1/mm) when the sinogram holds line integrals.

References
----------
A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, IEEE Press, 1988, ch. 3.3–3.4.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch

from .filters import RampFilter, apply_filter
from ..geometry import Geometry, ImageGrid, as_circular, check_geometry, check_grid
from ..operators.functional import check_input, weighted_backproject
from .weights import redundancy_weights

__all__ = ["FBP", "filter_backproject", "filter_spacing", "detector_preweights", "fbp_weights"]

FilterSpec = Union[str, np.ndarray, torch.Tensor]


def filter_spacing(geometry: Geometry) -> tuple[float, bool]:
    """Sample spacing of the ramp filter and whether it is the arc (equiangular) kernel:
    parallel ``(det_spacing mm, False)``, flat fan ``(det_spacing·sod/sdd mm, False)``,
    arc fan ``(det_spacing/sdd rad, True)``."""
    if geometry.point_source:
        if geometry.detector == "flat":
            return geometry.det_spacing * geometry.sod / geometry.sdd, False
        return geometry.det_spacing / geometry.sdd, True
    return geometry.det_spacing, False


def detector_preweights(geometry: Geometry) -> np.ndarray:
    """Pre-filter weight of each detector element, ``[n_det]``: 1 (parallel), ``sdd/√(sdd²+u²)`` (flat fan),
    ``sod·cos γ`` in mm (arc fan)."""
    u = geometry.det_coords
    if not geometry.point_source:
        return np.ones_like(u)
    if geometry.detector == "flat":
        return geometry.sdd / np.sqrt(geometry.sdd ** 2 + u ** 2)
    return geometry.sod * np.cos(geometry.fan_angles)


def fbp_weights(geometry: Geometry, warn: bool = True) -> np.ndarray:
    """``W = pre-weights × quadrature × redundancy``, ``[n_views, n_det]`` float64 (see module docstring)."""
    return redundancy_weights(geometry, warn=warn) * detector_preweights(geometry)[None, :]


def filter_backproject(weighted: torch.Tensor, response: torch.Tensor, geometry: Geometry,
                       backend: Optional[str] = None, grid: Optional[ImageGrid] = None) -> torch.Tensor:
    """The filter-and-backproject step every FBP in the package shares: ``B_w F⁻¹ diag(k) F`` applied to
    weighted sinograms ``[..., n_views, n_det]`` (already validated) with the frequency response ``k``
    (``[padded_length(n_det) // 2 + 1]``, or one per view): image ``[..., N, N]`` on ``grid`` (default the
    geometry's)."""
    return weighted_backproject(apply_filter(weighted, response), geometry, grid=grid, backend=backend,
                                check_finite=False)


class FBP(torch.nn.Module):
    """Filtered backprojection as a layer: sinogram ``[..., n_views, n_det]`` → image ``[..., N, N]``.

    Holds the weights ``W`` and the filter response ``k`` (buffers, or parameters when ``learn_filter`` /
    ``learn_weights`` is set — the starting point of a learned FBP, initialised to the analytic solution).
    """

    def __init__(self, geometry: Geometry, filter: FilterSpec = "ram-lak", cutoff: float = 1.0, *,
                 learn_filter: bool = False, learn_weights: bool = False, dtype: torch.dtype = torch.float32,
                 backend: Optional[str] = None, warn: bool = True, grid: Optional[ImageGrid] = None) -> None:
        super().__init__()
        geometry = as_circular(check_geometry(geometry), "FBP")
        self.geometry, self.grid = geometry, check_grid(grid, geometry)
        self.backend = backend
        spacing, arc = filter_spacing(geometry)
        self.filter = RampFilter(geometry.n_det, spacing, filter, cutoff, learnable=learn_filter, dtype=dtype, arc=arc)
        weights = torch.as_tensor(fbp_weights(geometry, warn=warn), dtype=dtype)
        if learn_weights:
            self.weights = torch.nn.Parameter(weights)
        else:
            self.register_buffer("weights", weights)

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        x, _ = check_input("FBP", "sinogram", sinogram, self.geometry)
        return filter_backproject(x * self.weights.to(x.dtype), self.filter.response, self.geometry, self.backend,
                                  self.grid)

    def extra_repr(self) -> str:
        return repr(self.geometry) + ("" if self.grid == self.geometry.grid else f", grid={self.grid!r}")
