"""Common machinery of the known-operator networks: the filter → fixed-operator structure, configuration
round trips and the geometry check.

Every model here has the form ``output = T( K (W ⊙ p) )`` with a learnable filter ``K``, learnable weights
``W`` (both initialised to the analytic solution, see :mod:`recon.models.parameters`) and a fixed, exactly
known linear map ``T`` (a weighted backprojection, possibly followed by a forward projection). Subclasses
define ``T`` in :meth:`KnownOperatorModel.after_filter`; the output is then affine in the filter
coefficients, which :mod:`recon.models.lstsq` exploits.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import torch

from ..analytic.filtered_backprojection import FilterSpec, filter_spacing
from ..analytic.filters import ramp_response
from ..analytic.recipe import FBPRecipe
from ..analytic.weights import arc_positions, scan_coverage
from ..geometry import Geometry, geometry_differences, geometry_from_dict
from ..operators.functional import check_input
from .parameters import LearnableFilter, LearnableWeights

__all__ = ["KnownOperatorModel", "LEARNABLE_PARTS", "normalise_learn", "initial_filter", "view_positions",
           "analytic_parts"]

LEARNABLE_PARTS = ("filter", "view_filters", "weights")


def normalise_learn(learn: Union[str, Iterable[str]]) -> tuple[str, ...]:
    """Validate the learnable parts: any of ``filter`` (one shared filter), ``view_filters`` (one per view),
    ``weights``; a string may join them with ``+`` (``"filter+weights"``)."""
    parts = tuple(learn.split("+")) if isinstance(learn, str) else tuple(learn)
    parts = tuple(p.strip() for p in parts if p.strip())
    unknown = [p for p in parts if p not in LEARNABLE_PARTS]
    if unknown:
        raise ValueError(f"unknown learnable part(s) {unknown}; choose from {LEARNABLE_PARTS}")
    if "filter" in parts and "view_filters" in parts:
        raise ValueError("learn either 'filter' (shared) or 'view_filters' (one per view), not both")
    return parts


def initial_filter(geometry: Geometry, filter: FilterSpec, cutoff: float) -> np.ndarray:
    """Analytic frequency response of :func:`recon.fbp` for ``geometry`` (the response of the recipe of a
    window name, or an array used as given), ``[padded_length(n_det) // 2 + 1]``."""
    if isinstance(filter, str):
        return FBPRecipe(filter, cutoff).response(geometry)
    return np.asarray(filter.detach().cpu() if isinstance(filter, torch.Tensor) else filter, dtype=np.float64)


def view_positions(geometry: Geometry) -> np.ndarray:
    """Position of each view along its arc in [0, 1] (0 = arc start), ``[n_views]``: for full scans the
    angle from the first view over the period, for short/limited scans the distance from the arc start over
    the arc span."""
    coverage = scan_coverage(geometry)
    if coverage.kind == "full":
        return np.mod(geometry.angles - geometry.angles[0], coverage.period) / coverage.period
    return arc_positions(geometry, coverage) / max(coverage.span, 1e-12)


def analytic_parts(geometry: Geometry, filter: FilterSpec, cutoff: float, learn: tuple[str, ...],
                   filter_basis: Optional[int], weight_basis: Optional[Sequence[int]], warn: bool,
                   dtype: torch.dtype) -> tuple[LearnableFilter, LearnableWeights]:
    """The learnable filter and weights of a model whose analytic start is FBP of ``geometry`` (the recipe of
    ``filter``/``cutoff``, or a custom response), with the parts named in ``learn`` (normalised) learnable."""
    spacing, arc = filter_spacing(geometry)
    weights = FBPRecipe().weights(geometry, warn=warn)
    k = LearnableFilter(initial_filter(geometry, filter, cutoff), geometry.n_det, basis=filter_basis,
                        n_views=geometry.n_views if "view_filters" in learn else None,
                        scale=ramp_response(geometry.n_det, spacing, arc), dtype=dtype)
    w = LearnableWeights(weights, basis=tuple(weight_basis) if weight_basis is not None else None,
                         view_positions=view_positions(geometry) if weight_basis else None, dtype=dtype)
    k.coefficients.requires_grad_("filter" in learn or "view_filters" in learn)
    w.coefficients.requires_grad_("weights" in learn)
    return k, w


class KnownOperatorModel(torch.nn.Module):
    """Base class: ``output = after_filter(filter(weights(p)))``.

    Attributes set by subclasses: ``geometry`` (of the input sinograms), ``filter`` (:class:`LearnableFilter`),
    ``weights`` (:class:`LearnableWeights`), ``learn`` (tuple of learnable parts), ``output_kind``
    ("image" or "sinogram") and ``output_geometry``. A subclass whose filter and weights act on a derived
    sinogram (e.g. an arc completed to the full circle) overrides :meth:`prepare` and
    :attr:`operator_geometry`.
    """

    geometry: Geometry
    output_geometry: Geometry
    output_kind: str
    filter: LearnableFilter
    weights: LearnableWeights
    #: whether the model has the filter and weights above (the unrolled networks of
    #: :mod:`recon.models.unrolled` share the rest of this interface but learn CNNs instead)
    has_filter: bool = True

    def _record_settings(self, filter: FilterSpec, cutoff: float, learn: tuple[str, ...],
                         filter_basis: Optional[int], weight_basis: Optional[Sequence[int]],
                         backend: Optional[str]) -> None:
        """Remember the hyper-parameters that :meth:`config` writes back."""
        self.filter_name = filter if isinstance(filter, str) else "custom"
        self.cutoff = float(cutoff)
        self.learn = learn
        self.filter_basis_size = filter_basis
        self.weight_basis_size = tuple(weight_basis) if weight_basis is not None else None
        self.backend = backend

    def _parameter_config(self) -> dict[str, Any]:
        """The hyper-parameters of :meth:`_record_settings`, for :meth:`config`."""
        return {"filter": self.filter_name, "cutoff": self.cutoff, "learn": list(self.learn),
                "filter_basis": self.filter_basis_size,
                "weight_basis": list(self.weight_basis_size) if self.weight_basis_size else None, "warn": False}

    # ---- the network ---------------------------------------------------------------------------------------
    def after_filter(self, filtered: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """The fixed operator ``T`` applied to filtered sinograms ``[..., n_views, n_det]``."""
        raise NotImplementedError

    def output_activation(self, out: torch.Tensor) -> torch.Tensor:
        """Identity; models with a positivity constraint override it."""
        return out

    @property
    def operator_geometry(self) -> Geometry:
        """Geometry of the sinograms the weights, filter and fixed operator act on (the input's by default)."""
        return self.geometry

    def prepare(self, sinogram: torch.Tensor) -> torch.Tensor:
        """Fixed linear map from the checked input to the sinogram in :attr:`operator_geometry` (identity)."""
        return sinogram

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        """``sinogram`` ``[..., n_views, n_det]`` (line integrals) in :attr:`geometry` → output."""
        x, _ = check_input(type(self).__name__, "sinogram", sinogram, self.geometry)
        return self.output_activation(self.after_filter(self.filter(self.weights(self.prepare(x)))))

    def linear_terms(self, sinogram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The output as an affine function of the shared filter's coefficients ``c`` (before any output
        activation): returns ``(offset [..., *out], columns [..., n_basis, *out])`` with
        ``output = offset + Σ_r c_r columns[r]``."""
        x, _ = check_input(type(self).__name__, "sinogram", sinogram, self.geometry)
        weighted = self.weights(self.prepare(x))
        offset = self.after_filter(self.filter.apply_initial(weighted))
        columns = self.after_filter(self.filter.filter_basis(weighted))
        return offset, columns

    # ---- bookkeeping ---------------------------------------------------------------------------------------
    @property
    def dtype(self) -> torch.dtype:
        """The floating-point type of the model's tensors (the input is cast to it when applied to a scan)."""
        return next(t for t in (*self.parameters(), *self.buffers()) if t.is_floating_point()).dtype

    def learned_parts(self) -> str:
        """What the model learns, for tables: ``"filter+weights"`` (subclasses add their structure, e.g.
        ``"×6 views, 2-D filter"``)."""
        return "+".join(self.learn)

    def learnable_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters that training updates (``requires_grad``)."""
        return [p for p in self.parameters() if p.requires_grad]

    def config(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """JSON-serialisable constructor arguments (geometries as dicts)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "KnownOperatorModel":
        """Rebuild from :meth:`config` (geometries given as dicts). A custom initial filter is stored in the
        state dict, not the config: the model is built with Ram-Lak and the state dict restores it."""
        kwargs = {k: geometry_from_dict(v) if isinstance(v, dict) and "type" in v else v for k, v in config.items()}
        if kwargs.get("filter") == "custom":
            kwargs["filter"] = "ram-lak"
        return cls(**kwargs)

    def for_geometry(self, geometry: Geometry, share: bool = True) -> "KnownOperatorModel":
        """This model for scans in another ``geometry``; only arc models (:class:`LearnedFBP`) move, so the
        base class refuses with ``TypeError``."""
        raise TypeError(f"a {type(self).__name__} applies to the geometry it was built for only")

    def check_geometry(self, geometry: Geometry, what: str = "sinogram") -> None:
        """Raise ``ValueError`` saying what differs if the acquisition of ``geometry`` (angles, detector,
        distances — not the image grid) is not the one this model was built for."""
        diffs = geometry_differences(self.geometry, geometry, ignore=("image_size", "pixel_size"))
        if diffs:
            raise ValueError(f"the {what}'s geometry does not match the model's ({type(self).__name__} expects "
                             f"{self.geometry!r}): " + "; ".join(diffs))
