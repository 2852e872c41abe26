"""Feldkamp–Davis–Kress (FDK) reconstruction of circular cone-beam scans, flat and cylindrical detectors.

``x = B_w F⁻¹ diag(k) F (W ⊙ C ⊙ p)`` (design notes §7; Kak & Slaney §3.6), built from the 2-D fan-beam FBP of
the detector row through the source plane (:meth:`recon.ConeBeam.central_fan`), so that a one-row scan of a
one-slice volume is exactly :func:`recon.fbp`:

* ``W`` ``[n_views, cols]`` — the fan FBP's weights: the in-plane pre-weight (``sdd/√(sdd² + u²)`` flat,
  ``sod·cos γ`` cylindrical), the angular quadrature and the redundancy weights (½ for full scans, Parker's for short
  scans, with :class:`recon.LimitedAngleWarning` below π + the fan angle) — the cone angle does not enter them;
* ``C`` ``[rows, cols]`` — the cone angle's cosine, ``√(sdd² + u²)/√(sdd² + u² + v²)`` (flat) or ``sdd/√(sdd² + v²)``
  (cylindrical), ``v`` the row's height on the detector: with ``W`` the FDK pre-weight ``D/√(D² + u² + v²)``;
* ``k`` — the fan FBP's windowed ramp along every detector row;
* ``B_w`` — :func:`recon.weighted_backproject` of the cone geometry: the FDK distance weight ``(sod/h)²`` (flat) or
  ``1/ℓ²`` (cylindrical).

Exact in the source plane; away from it FDK loses intensity and shows cone-angle artefacts that grow with the cone
angle (Feldkamp et al.; a property of the method, not an error of this code).

References: L. A. Feldkamp, L. C. Davis, J. W. Kress, *J. Opt. Soc. Am. A* 1(6), 612–619 (1984); A. C. Kak and
M. Slaney, *Principles of Computerized Tomographic Imaging*, IEEE Press 1988, §3.6.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np
import torch

from ..geometry import ConeBeam, VolumeGrid
from ..operators.cone import check_cone_input
from ..operators.functional import weighted_backproject
from .filtered_backprojection import fbp_weights, filter_spacing
from .filters import apply_filter, filter_response

__all__ = ["fdk", "fdk_weights"]


def fdk_weights(geometry: ConeBeam, warn: bool = True) -> np.ndarray:
    """``W ⊙ C`` of the module docstring, ``[n_views, rows, cols]`` float64."""
    fan = geometry.central_fan()
    u = fan.det_coords
    v = geometry.row_coords()
    sdd = geometry.sdd
    if geometry.detector == "flat":
        cone = np.sqrt(sdd ** 2 + u[None, :] ** 2) / np.sqrt(sdd ** 2 + u[None, :] ** 2 + v[:, None] ** 2)
    else:
        cone = np.broadcast_to(sdd / np.sqrt(sdd ** 2 + v[:, None] ** 2), (v.size, u.size))
    return fbp_weights(fan, warn=warn)[:, None, :] * cone[None, :, :]


def fdk(projections: Any, geometry: ConeBeam, grid: VolumeGrid, filter: str = "ram-lak", cutoff: float = 1.0, *,
        backend: Optional[str] = None, warn: bool = True, check_finite: bool = True):
    """FDK reconstruction of a circular cone-beam scan (see the module docstring).

    Parameters
    ----------
    projections : torch.Tensor or numpy.ndarray, ``[..., n_views, rows, cols]``
        Line integrals (log-normalised projections), float32 or float64.
    geometry : recon.ConeBeam
        The circular scan (flat or cylindrical detector; any angle set, Parker-weighted when short).
    grid : recon.VolumeGrid
        The volume to reconstruct.
    filter, cutoff :
        The ramp's window and cut-off (fraction of Nyquist), as :func:`recon.fbp` takes them.
    backend : None, "numba" or "triton"
        The backprojector's kernels (None: numba on CPU tensors, Triton on CUDA tensors).

    Returns
    -------
    Volume ``[..., nz, ny, nx]`` of μ in 1/mm (same type and dtype as the input): a ball of μ = 0.02/mm reconstructs
    to 0.02 in the source plane.

    Examples
    --------
    >>> import numpy as np, recon
    >>> from recon.simulation.ellipsoids import Ellipsoid, exact_projections
    >>> g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 90, endpoint=False), (24, 48), 1.0, sod=100.0, sdd=150.0)
    >>> grid = recon.VolumeGrid((8, 32, 32), 1.0)
    >>> p = exact_projections([Ellipsoid(0.02, (0.0, 0.0, 0.0), (10.0, 10.0, 10.0))], g, supersample=3)
    >>> round(float(recon.fdk(p, g, grid)[4, 16, 16]), 3)
    0.02
    """
    if getattr(geometry, "kind", None) != "cone":  # ConeBeam: the circular orbit FDK assumes
        raise TypeError(f"fdk: geometry must be a recon.ConeBeam (a circular orbit), got {type(geometry).__name__}; "
                        "reconstruct other trajectories with recon.sirt or recon.cgls")
    grid = geometry.check_grid(grid)
    x, was_numpy = check_cone_input("fdk", "projections", projections, geometry, grid, check_finite)
    unseen = geometry.unseen_fraction(grid) if warn else 0.0
    if unseen > 0.005:
        warnings.warn(f"{unseen:.0%} of the volume {grid!r} is never seen by the detector (outside the cone of "
                      "every view): it reconstructs to zero; choose fewer slices or a smaller voxel size",
                      UserWarning, stacklevel=2)
    spacing, arc = filter_spacing(geometry.central_fan())
    response = torch.as_tensor(filter_response(geometry.det_shape[1], spacing, filter, cutoff, arc=arc),
                               device=x.device)
    weighted = x * torch.as_tensor(fdk_weights(geometry, warn=warn), dtype=x.dtype, device=x.device)
    out = weighted_backproject(apply_filter(weighted, response), geometry, grid=grid, backend=backend,
                               check_finite=False)
    return out.numpy() if was_numpy else out
