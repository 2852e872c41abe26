"""Learned filtered backprojection: ``x = B_w · F⁻¹ diag(k) F · (W ⊙ p)`` (Würfl et al. 2016/2018,
Maier et al. 2019).

``B_w`` (the distance-weighted backprojector), the FFTs and the zero padding are fixed; the filter ``k``
and the weights ``W`` start from analytic FBP (:func:`recon.fbp`) and are learnable as chosen. An untrained
model reproduces ``recon.fbp(p, geometry, filter, cutoff)`` exactly.

With ``complete_views=True`` (arcs: limited angle, short scan) the arc is first completed to the full circle
by the mean measured view (:func:`recon.views.complete_arc`, fixed and linear), and weights, filter and
backprojection act on the full circle: ``x = B_w,circle · F⁻¹ diag(k) F · (W ⊙ C p)`` — the weights decide how
much measured and filled-in rays count.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

import torch

from ..analytic.filtered_backprojection import FilterSpec
from ..geometry import Geometry, check_geometry
from ..operators.functional import weighted_backproject
from ..analytic.views import complete_arc, completed_geometry
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
    complete_views : bool
        Complete an arc of evenly spaced views to the full circle with the mean measured view first (weights
        and filters then cover the circle's views, measured ones first).

    Input ``[..., n_views, n_det]`` line integrals → output ``[..., N, N]`` attenuation μ (1/mm).
    """

    output_kind = "image"

    def __init__(self, geometry: Geometry, filter: FilterSpec = "ram-lak", cutoff: float = 1.0,
                 learn: Union[str, Iterable[str]] = "filter", filter_basis: Optional[int] = None,
                 weight_basis: Optional[Sequence[int]] = None, positivity: bool = False,
                 backend: Optional[str] = None, warn: bool = True, complete_views: bool = False,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        check_geometry(geometry)
        self.geometry = self.output_geometry = geometry
        self.positivity = bool(positivity)
        self.complete_views = bool(complete_views)
        self._init_parameters(self.operator_geometry, filter, cutoff, learn, filter_basis, weight_basis, backend,
                              warn and not self.complete_views, dtype)

    @property
    def operator_geometry(self) -> Geometry:
        """The full circle continuing the input arc when completing views, else the input geometry."""
        return completed_geometry(self.geometry) if self.complete_views else self.geometry

    def prepare(self, sinogram: torch.Tensor) -> torch.Tensor:
        return complete_arc(sinogram, self.geometry)[0] if self.complete_views else sinogram

    def after_filter(self, filtered: torch.Tensor) -> torch.Tensor:
        return weighted_backproject(filtered, self.operator_geometry, backend=self.backend, check_finite=False)

    def output_activation(self, out: torch.Tensor) -> torch.Tensor:
        return torch.relu(out) if self.positivity else out

    def config(self) -> dict[str, Any]:
        return {"geometry": self.geometry.to_dict(), **self._parameter_config(), "positivity": self.positivity,
                "complete_views": self.complete_views}

    def extra_repr(self) -> str:
        return (f"{self.geometry!r}, filter={self.filter_name!r}, cutoff={self.cutoff:g}, learn={'+'.join(self.learn)}, "
                f"positivity={self.positivity}" + (", complete_views=True" if self.complete_views else ""))
