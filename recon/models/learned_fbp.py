"""Learned filtered backprojection: ``x = B_w · F⁻¹ diag(k) F · (W ⊙ p)``.

``B_w`` (the distance-weighted backprojector), the FFTs and the zero padding are fixed; the filter ``k``
and the weights ``W`` start from analytic FBP (:func:`recon.fbp`) and are learnable as chosen. An untrained
model reproduces ``recon.fbp(p, geometry, filter, cutoff)`` exactly.

With ``complete_views=True`` (arcs: limited angle, short scan) the arc is first completed to the full circle
by the mean measured view (:func:`recon.analytic.views.complete_arc`, fixed and linear), and weights, filter and
backprojection act on the full circle: ``x = B_w,circle · F⁻¹ diag(k) F · (W ⊙ C p)`` — the weights decide how
much measured and filled-in rays count.

A model trained for one arc applies to every start of its arc length (:meth:`LearnedFBP.for_geometry`): the
weights ``W(β − β_start, u)`` are indexed by the position along the arc, so they carry over unchanged; only the
backprojection uses the scan's actual angles. Any :class:`recon.analytic.recipe.FBPRecipe` (window, cut-off,
end taper, scale, view completion) can be its analytic start (:meth:`LearnedFBP.from_recipe`,
:func:`tune_start`).

References
----------
T. Würfl, F. C. Ghesu, V. Christlein and A. Maier, "Deep learning computed tomography", MICCAI 2016,
LNCS 9902, 432–440; T. Würfl, M. Hoffmann, V. Christlein et al., "Deep learning computed tomography: learning
projection-domain weights from image domain in limited angle problems", *IEEE Trans. Med. Imaging* 37(6),
1454–1463 (2018); A. K. Maier, C. Syben, B. Stimpel et al., "Learning with known operators reduces maximum
error bounds", *Nat. Mach. Intell.* 1, 373–380 (2019).
"""

from __future__ import annotations

import copy
from typing import Any, Iterable, Optional, Sequence, Union

import torch

from ..analytic.arcs import arc_offset
from ..analytic.filtered_backprojection import FilterSpec
from ..analytic.recipe import FBPRecipe, TunedRecipe, arc_grid, tune_recipe
from ..analytic.views import complete_arc, completed_geometry
from ..geometry import Geometry, check_geometry
from ..operators.functional import weighted_backproject
from .base import KnownOperatorModel, analytic_parts, normalise_learn
from .parameters import LearnableFilter, LearnableWeights

__all__ = ["LearnedFBP", "tune_start"]


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

    Notes
    -----
    Input ``[..., n_views, n_det]`` line integrals → output ``[..., N, N]`` attenuation μ (1/mm).

    Examples
    --------
    Untrained, the model is analytic FBP exactly:

    >>> import numpy as np, torch, recon
    >>> g = recon.ParallelBeam(np.linspace(0, np.pi, 90, endpoint=False), n_det=96, det_spacing=1.0,
    ...                        image_size=64, pixel_size=1.0)
    >>> model = recon.LearnedFBP(g, filter="hann", cutoff=0.8, learn="filter+weights", filter_basis=16,
    ...                          dtype=torch.float64)
    >>> sino = torch.as_tensor(recon.ray_transform(recon.shepp_logan(radius=30.0), g))
    >>> bool(torch.equal(model(sino), recon.fbp(sino, g, "hann", 0.8)))
    True
    >>> sum(p.numel() for p in model.learnable_parameters())  # 16 filter + 90 × 96 weight corrections
    8656
    """

    output_kind = "image"

    def __init__(self, geometry: Geometry, filter: FilterSpec = "ram-lak", cutoff: float = 1.0,
                 learn: Union[str, Iterable[str]] = "filter", filter_basis: Optional[int] = None,
                 weight_basis: Optional[Sequence[int]] = None, positivity: bool = False,
                 backend: Optional[str] = None, warn: bool = True, complete_views: bool = False,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        check_geometry(geometry)
        learn = normalise_learn(learn)
        operator = completed_geometry(geometry) if complete_views else geometry
        k, w = analytic_parts(operator, filter, cutoff, learn, filter_basis, weight_basis,
                              warn and not complete_views, dtype)
        self._assemble(geometry, k, w, bool(positivity), bool(complete_views))
        self._record_settings(filter, cutoff, learn, filter_basis, weight_basis, backend)

    def _assemble(self, geometry: Geometry, filter: LearnableFilter, weights: LearnableWeights,
                  positivity: bool, complete_views: bool) -> None:
        self.geometry = self.output_geometry = geometry
        self.filter, self.weights = filter, weights
        self.positivity, self.complete_views = positivity, complete_views

    @classmethod
    def from_recipe(cls, geometry: Geometry, recipe: FBPRecipe, learn: Union[str, Iterable[str]] = "filter",
                    **kwargs: Any) -> "LearnedFBP":
        """A model whose untrained output is exactly ``recipe.reconstruct`` (without ``positivity``): the
        filter starts from the recipe's window, the weights from its ``scale · taper ⊙ W₀`` (views completed
        if the recipe completes them). ``learn`` and ``kwargs``: the other constructor arguments."""
        kwargs.setdefault("warn", False)
        return cls(geometry, recipe.filter, recipe.cutoff, learn, complete_views=recipe.complete_views,
                   **kwargs).start_from(recipe)

    def start_from(self, recipe: FBPRecipe) -> "LearnedFBP":
        """Make the analytic start (filter ``k₀`` and weights ``W₀``, in :attr:`operator_geometry`) that of
        ``recipe``, in place, keeping the learned corrections. Returns the model."""
        if recipe.complete_views != self.complete_views or recipe.upsample != 1:
            raise ValueError(f"a LearnedFBP with complete_views={self.complete_views} starts from a recipe without "
                             f"view interpolation and with complete_views={self.complete_views}; got {recipe}")
        g = self.operator_geometry
        with torch.no_grad():
            self.filter.initial.copy_(torch.as_tensor(recipe.response(g), dtype=self.filter.initial.dtype))
            self.weights.initial.copy_(torch.as_tensor(recipe.weights(g), dtype=self.weights.initial.dtype))
        return self

    def for_geometry(self, geometry: Geometry, share: bool = True) -> "LearnedFBP":
        """The model for scans whose arc is this model's rotated by a constant angle
        (:func:`recon.analytic.arcs.arc_offset`): the same filter and weights (indexed by position along the
        arc), backprojection with the rotated angles, on this model's image grid. ``share`` shares the
        parameters (training through the result updates this model); otherwise they are copied. The model
        for its own arc is an equal twin."""
        offset = arc_offset(self.geometry, geometry)
        parts = (self.filter, self.weights) if share else (copy.deepcopy(self.filter), copy.deepcopy(self.weights))
        twin = LearnedFBP.__new__(LearnedFBP)
        torch.nn.Module.__init__(twin)
        twin._assemble(self.geometry.replace(angles=self.geometry.angles + offset), *parts, self.positivity,
                       self.complete_views)
        twin._record_settings(self.filter_name, self.cutoff, self.learn, self.filter_basis_size,
                              self.weight_basis_size, self.backend)
        if hasattr(self, "metadata"):
            twin.metadata = self.metadata
        return twin.train(self.training)

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

    def learned_parts(self) -> str:
        return super().learned_parts() + (", views completed" if self.complete_views else "")

    def config(self) -> dict[str, Any]:
        return {"geometry": self.geometry.to_dict(), **self._parameter_config(), "positivity": self.positivity,
                "complete_views": self.complete_views}

    def extra_repr(self) -> str:
        return (f"{self.geometry!r}, filter={self.filter_name!r}, cutoff={self.cutoff:g}, learn={'+'.join(self.learn)}, "
                f"positivity={self.positivity}" + (", complete_views=True" if self.complete_views else ""))


def tune_start(model: LearnedFBP, sinograms: torch.Tensor, targets: torch.Tensor, **grid: Any) -> TunedRecipe:
    """Tune the analytic recipe of ``model``'s kind — window × cut-off × end taper × least-squares scale
    (:func:`recon.analytic.recipe.arc_grid`), views completed if the model completes them — on ``sinograms``
    ``[n, n_views, n_det]`` (in ``model.geometry``) against ``targets`` ``[n, N, N]``, in float64, and make it
    the model's analytic start (:meth:`LearnedFBP.start_from`). ``grid`` overrides keywords of
    :func:`recon.analytic.recipe.tune_recipe`. Returns the tuned recipe."""
    grid = {**arc_grid(model.geometry, model.complete_views), **grid}
    tuned = tune_recipe(torch.as_tensor(sinograms).double(), torch.as_tensor(targets).double(), model.geometry,
                        **grid)
    model.start_from(tuned.recipe)
    return tuned
