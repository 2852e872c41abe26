"""Learned filtered backprojection: ``x = B_w · F⁻¹ diag(k) F · (W ⊙ p)`` (Würfl et al. 2016/2018,
Maier et al. 2019).

``B_w`` (the distance-weighted backprojector), the FFTs and the zero padding are fixed; the filter ``k``
and the weights ``W`` start from analytic FBP (:func:`recon.fbp`) and are learnable as chosen. An untrained
model reproduces ``recon.fbp(p, geometry, filter, cutoff)`` exactly.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

import torch

from ..fbp import FilterSpec
from ..geometry import Geometry
from ..operators.functional import weighted_backproject
from .base import KnownOperatorModel

__all__ = ["LearnedFBP"]


class LearnedFBP(KnownOperatorModel):
    """Learned FBP for any geometry of ``recon`` (parallel, fan flat/arc; full, short, sparse or limited scans).

    Parameters
    ----------
    geometry : ParallelBeam or FanBeam
        Geometry of the input sinograms (and the output image grid).
    filter, cutoff :
        Analytic starting filter, as for :func:`recon.fbp`.
    learn : str or sequence of str
        Learnable parts: ``"filter"`` (one shared filter), ``"view_filters"`` (one per view),
        ``"weights"`` (the ``W`` of cosine × quadrature × redundancy weights); combine with ``+``.
    filter_basis : int or None
        Hat functions over [0, Nyquist] parameterising the filter correction (``None``: every rfft bin).
    weight_basis : (int, int) or None
        Smooth tensor-product basis of the weight correction over (arc position, detector); ``None``: every
        element.
    positivity : bool
        Clamp the output image at 0 (ReLU).
    backend : operator backend, as for :func:`recon.weighted_backproject`.
    warn : bool
        Warn when the scan is limited-angle (the analytic initialisation is then biased).

    Input ``[..., n_views, n_det]`` line integrals → output ``[..., N, N]`` attenuation μ (1/mm).
    """

    output_kind = "image"

    def __init__(self, geometry: Geometry, filter: FilterSpec = "ram-lak", cutoff: float = 1.0,
                 learn: Union[str, Iterable[str]] = "filter", filter_basis: Optional[int] = None,
                 weight_basis: Optional[Sequence[int]] = None, positivity: bool = False,
                 backend: Optional[str] = None, warn: bool = True, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if not isinstance(geometry, Geometry):
            raise TypeError(f"geometry must be a recon.ParallelBeam or recon.FanBeam, got {type(geometry).__name__}")
        self.geometry = self.output_geometry = geometry
        self.positivity = bool(positivity)
        self._init_parameters(geometry, filter, cutoff, learn, filter_basis, weight_basis, backend, warn, dtype)

    def after_filter(self, filtered: torch.Tensor) -> torch.Tensor:
        return weighted_backproject(filtered, self.geometry, backend=self.backend, check_finite=False)

    def output_activation(self, out: torch.Tensor) -> torch.Tensor:
        return torch.relu(out) if self.positivity else out

    def config(self) -> dict[str, Any]:
        return {"geometry": self.geometry.to_dict(), **self._parameter_config(), "positivity": self.positivity}

    def extra_repr(self) -> str:
        return (f"{self.geometry!r}, filter={self.filter_name!r}, cutoff={self.cutoff:g}, learn={'+'.join(self.learn)}, "
                f"positivity={self.positivity}")
