"""Learned FDK (Würfl et al. 2018): FDK as a network whose cosine weights, ramp filter, FFTs and cone-beam
backprojection are fixed, and whose redundancy weights — and optionally the filter — are learned from Parker's start.

``x = B_w F⁻¹ diag(k) F (W ⊙ p)`` on volumes: ``W`` ``[n_views, rows, cols]`` starts at the FDK weights of
:func:`recon.analytic.fdk.fdk_weights` (in-plane cosine × quadrature × Parker/½ × cone cosine) and learns a smooth
multiplicative correction ``W = W₀ ⊙ (1 + δ)``, ``δ`` a tensor product of hat functions over (arc position, detector
row, detector column) — the 2-D models' weight basis with a few knots along the rows; ``k`` is the ramp of
:func:`recon.fdk` with a learnable correction (:class:`recon.models.parameters.LearnableFilter`). Untrained, the
model is :func:`recon.fdk` exactly. It corrects FDK's short-scan and limited-angle weighting and part of its mass
loss away from the source plane; it cannot put back data that were never measured.

Reference: T. Würfl, M. Hoffmann, V. Christlein et al., "Deep learning computed tomography: learning
projection-domain weights from image domain in limited angle problems", *IEEE Trans. Med. Imaging* 37(6),
1454–1463 (2018).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import torch

from ..analytic.fdk import fdk_weights
from ..analytic.filtered_backprojection import filter_spacing
from ..analytic.filters import apply_filter, filter_response, ramp_response
from ..geometry import ConeBeam, VolumeGrid, geometry_differences, geometry_from_dict
from ..operators.cone import check_cone_input
from ..operators.functional import weighted_backproject
from .base import normalise_learn, view_positions
from .parameters import LearnableFilter, hat_basis

__all__ = ["LearnedFDK", "SmoothWeights3D"]


class SmoothWeights3D(torch.nn.Module):
    """``W = W₀ ⊙ (1 + δ)`` on ``[n_views, rows, cols]`` with ``δ`` on a ``(view, row, col)`` tensor product of
    hat functions (``knots``); ``view_positions`` in [0, 1] place the views along their arc."""

    def __init__(self, initial: np.ndarray, knots: Sequence[int], view_positions: np.ndarray,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if len(knots) != 3:
            raise ValueError(f"weight_basis must be (view_knots, row_knots, col_knots), got {knots!r}")
        nv, rows, cols = initial.shape
        self.register_buffer("initial", torch.as_tensor(initial, dtype=dtype))
        self.register_buffer("view_basis", torch.as_tensor(hat_basis(view_positions, knots[0]), dtype=dtype))
        row_knots = max(int(knots[1]), 2) if rows > 1 else 2
        self.register_buffer("row_basis", torch.as_tensor(hat_basis(np.linspace(0, 1, rows), row_knots), dtype=dtype))
        self.register_buffer("col_basis", torch.as_tensor(hat_basis(np.linspace(0, 1, cols), knots[2]), dtype=dtype))
        self.coefficients = torch.nn.Parameter(torch.zeros((knots[0], row_knots, knots[2]), dtype=dtype))

    def weights(self) -> torch.Tensor:
        """``W`` ``[n_views, rows, cols]``."""
        delta = torch.einsum("abc,av,br,cu->vru", self.coefficients, self.view_basis, self.row_basis,
                             self.col_basis)
        return self.initial * (1.0 + delta)

    def forward(self, projections: torch.Tensor) -> torch.Tensor:
        return projections * self.weights().to(projections.dtype)


class LearnedFDK(torch.nn.Module):
    """Learned FDK for a circular cone-beam scan (see the module docstring).

    Parameters
    ----------
    geometry : recon.ConeBeam
        The scan (flat or cylindrical detector; full, short or limited).
    grid : recon.VolumeGrid (or its dict)
        The volume it reconstructs.
    filter, cutoff :
        The analytic ramp's window and cut-off, as :func:`recon.fdk` takes them.
    learn : ``"weights"``, ``"filter"`` or ``"filter+weights"``.
    filter_basis : int or None
        Hat functions of the filter correction over [0, Nyquist] (``None``: every bin).
    weight_basis : (view_knots, row_knots, col_knots)
        The smooth basis of the weight correction.
    positivity : bool
        Clamp the output at 0.

    Notes
    -----
    Input ``[..., n_views, rows, cols]`` line integrals → ``[..., nz, ny, nx]`` μ (1/mm).

    Examples
    --------
    >>> import numpy as np, torch, recon
    >>> from recon.models import LearnedFDK
    >>> g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 24, endpoint=False), (6, 10), 1.0, sod=40.0, sdd=60.0)
    >>> grid = recon.VolumeGrid((4, 8, 8), 0.6)
    >>> p = torch.rand(g.proj_shape, dtype=torch.float64)
    >>> model = LearnedFDK(g, grid, "hann", 0.8, dtype=torch.float64)
    >>> bool(torch.allclose(model(p), recon.fdk(p, g, grid, "hann", 0.8), rtol=0, atol=1e-14))
    True
    """

    output_kind = "image"  # it reconstructs (volumes), it does not convert data
    has_filter = False  # (no 2-D filter plots or least-squares filter fit: its filter acts on cone-beam rows)
    kind = "learned_fdk"

    def __init__(self, geometry: ConeBeam, grid: Union[VolumeGrid, dict], filter: str = "ram-lak",
                 cutoff: float = 1.0, learn: Union[str, Iterable[str]] = "weights", filter_basis: Optional[int] = 16,
                 weight_basis: Sequence[int] = (8, 4, 16), positivity: bool = False, warn: bool = True,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if getattr(geometry, "kind", None) != "cone":
            raise TypeError(f"a LearnedFDK needs a recon.ConeBeam (a circular orbit), got {type(geometry).__name__}")
        grid = VolumeGrid.from_dict(grid) if isinstance(grid, dict) else grid
        self.geometry, self.grid = geometry, geometry.check_grid(grid)
        self.learn = normalise_learn(learn)
        if "view_filters" in self.learn:
            raise ValueError("a LearnedFDK learns 'filter' and/or 'weights'")
        fan = geometry.central_fan()
        spacing, arc = filter_spacing(fan)
        cols = geometry.det_shape[1]
        self.filter = LearnableFilter(filter_response(cols, spacing, filter, cutoff, arc), cols, basis=filter_basis,
                                      scale=ramp_response(cols, spacing, arc), dtype=dtype)
        self.weights = SmoothWeights3D(fdk_weights(geometry, warn=warn), tuple(int(k) for k in weight_basis),
                                       view_positions(fan), dtype)
        self.filter.coefficients.requires_grad_("filter" in self.learn)
        self.weights.coefficients.requires_grad_("weights" in self.learn)
        self.filter_name, self.cutoff, self.filter_basis = filter, float(cutoff), filter_basis
        self.weight_basis, self.positivity = tuple(int(k) for k in weight_basis), bool(positivity)

    def forward(self, projections: torch.Tensor) -> torch.Tensor:
        """``projections`` ``[..., n_views, rows, cols]`` in :attr:`geometry` → volume ``[..., nz, ny, nx]``."""
        p, _ = check_cone_input(type(self).__name__, "projections", projections, self.geometry, self.grid)
        filtered = apply_filter(self.weights(p), self.filter.response())
        out = weighted_backproject(filtered, self.geometry, grid=self.grid, check_finite=False)
        return torch.relu(out) if self.positivity else out

    # ---- what the workflows ask of a model --------------------------------------------------------------------
    @property
    def output_geometry(self) -> ConeBeam:
        return self.geometry

    @property
    def dtype(self) -> torch.dtype:
        return self.weights.initial.dtype

    def learnable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def learned_parts(self) -> str:
        return "+".join(self.learn) + f" (weights on a {'×'.join(map(str, self.weights.coefficients.shape))} basis)"

    def check_geometry(self, geometry: Any, what: str = "projections") -> None:
        """``ValueError`` saying what differs when ``geometry`` is not the scan this model was built for."""
        diffs = geometry_differences(self.geometry, geometry)  # (names the type first when it differs)
        if diffs:
            raise ValueError(f"the geometry of the {what} does not match the model's (LearnedFDK expects "
                             f"{self.geometry!r}): " + "; ".join(diffs))

    def config(self) -> dict[str, Any]:
        return {"geometry": self.geometry.to_dict(), "grid": self.grid.to_dict(), "filter": self.filter_name,
                "cutoff": self.cutoff, "learn": list(self.learn), "filter_basis": self.filter_basis,
                "weight_basis": list(self.weight_basis), "positivity": self.positivity, "warn": False}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "LearnedFDK":
        kwargs = dict(config)
        kwargs["geometry"] = geometry_from_dict(kwargs["geometry"])
        return cls(**kwargs)

    def extra_repr(self) -> str:
        return f"{self.geometry!r}, {self.grid!r}, learn={'+'.join(self.learn)}"
