"""The comparison methods of ``recon evaluate`` and ``recon compare``, decided in one place.

A :class:`Method` reconstructs sinograms of the comparison geometry and carries a stable ``id`` (the key of
``metrics.json`` and ``evaluation.json``), a display ``label`` and its ``params`` (plain data: what was tuned
and how). Which analytic baselines apply to a scan is decided by :data:`BASELINES` alone:

=========================== ================================================ ======================================
id                          method                                           applies to
=========================== ================================================ ======================================
``fbp_ram_lak``             FBP, Ram-Lak, cut-off 1                          every scan
``fbp_tuned``               FBP, window × cut-off tuned                      every scan
``fbp_view_interpolated``   views interpolated ×U, window × cut-off tuned    uniform full scans (U of the models, else 4)
``limited_angle_fbp``       window × cut-off × end taper × scale tuned       arcs (limited angle, short scan)
``view_completion_fbp``     the same over the arc completed to the circle    arcs, when a model completes views
``rebin_fbp``               interpolation rebinning → parallel FBP           fan scans (compare), conversions
``tv``                      TV-regularised least squares (Chambolle–Pock),   every image comparison, when asked
                            λ tuned, nonnegative                             (``--tv``: hundreds of projections)
=========================== ================================================ ======================================

Baselines tuned against the reference itself (``recon compare``'s oracles, an upper bound of what the choice
can reach on that scan) get ``_oracle`` appended to their id; the arc baselines are also reported clipped at
0 (``_clipped``), the non-linearity a model's positivity adds. Models are ``model_1``, ``model_2``, … in the
order given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch

from ..analytic.recipe import FBPRecipe, TunedRecipe, arc_grid, tune_recipe
from ..analytic.tv import TunedTV
from ..analytic.views import scan_period_step
from ..analytic.weights import scan_coverage
from ..geometry import Geometry
from ..models import KnownOperatorModel

__all__ = ["Method", "Baseline", "BASELINES", "applicable_baselines", "interpolation_factors", "tune_baselines",
           "baseline_methods", "rebin_method", "tv_method", "model_method", "method_order"]

Reconstruct = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Method:
    """One way to reconstruct: sinograms ``[..., V, D]`` (torch) of the comparison geometry → images
    ``[..., N, N]`` on the comparison grid, clamped at 0 if ``clip``. (A model applied to a measured scan
    reconstructs that scan, whatever it is passed: it needs the scan to match its views.)"""

    id: str
    label: str
    reconstruct: Reconstruct = field(repr=False)
    params: dict = field(default_factory=dict)
    clip: bool = False
    geometry: Optional[Geometry] = None  # of the output grid, when it is not the comparison geometry's
    extra_seconds: float = 0.0  # time spent before the call (e.g. applying a conversion network), for run times

    def __call__(self, sinogram: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out = self.reconstruct(sinogram)
        return out.clamp_min(0.0) if self.clip else out

    def describe(self) -> dict[str, Any]:
        """``{"label", "params"}``: what ``metrics.json`` stores beside the scores of this id."""
        return {"label": self.label, "params": self.params}


@dataclass(frozen=True)
class Baseline:
    """A kind of analytic baseline: its display ``name``, the scans it ``applies`` to, and the
    :func:`recon.analytic.recipe.tune_recipe` grid it is tuned over (``None``: a fixed recipe)."""

    name: str
    applies: Callable[[Geometry, Sequence[KnownOperatorModel]], bool]
    grid: Optional[Callable[[Geometry, Sequence[KnownOperatorModel]], dict]]
    clipped: bool = False


def interpolation_factors(models: Sequence[KnownOperatorModel]) -> tuple[int, ...]:
    """View-interpolation factor(s) of the interpolated-FBP baseline: those of the upsampling models, else 4."""
    return tuple(sorted({int(m.factor) for m in models if getattr(m, "factor", None) is not None})) or (4,)


def _one_period(geometry: Geometry, models: Sequence[KnownOperatorModel]) -> bool:
    try:
        scan_period_step(geometry)
    except ValueError:
        return False
    return True


def _arc(geometry: Geometry, models: Sequence[KnownOperatorModel]) -> bool:
    return scan_coverage(geometry).kind != "full"


def _completes(geometry: Geometry, models: Sequence[KnownOperatorModel]) -> bool:
    return _arc(geometry, models) and any(getattr(m, "complete_views", False) for m in models)


BASELINES: dict[str, Baseline] = {
    "fbp_ram_lak": Baseline("FBP ram-lak", lambda g, m: True, None),
    "fbp_tuned": Baseline("FBP", lambda g, m: True, lambda g, m: {}),
    "fbp_view_interpolated": Baseline("view-interpolated FBP", _one_period,
                                      lambda g, m: {"upsample": interpolation_factors(m)}),
    "limited_angle_fbp": Baseline("limited-angle FBP", _arc, lambda g, m: arc_grid(g), clipped=True),
    "view_completion_fbp": Baseline("view completion + limited-angle FBP", _completes,
                                    lambda g, m: arc_grid(g, complete_views=True), clipped=True),
    "rebin_fbp": Baseline("rebin + FBP", lambda g, m: g.point_source, None),
    "tv": Baseline("TV (Chambolle–Pock)", lambda g, m: True, None),
}


def applicable_baselines(geometry: Geometry, models: Sequence[KnownOperatorModel] = (),
                         ids: Optional[Sequence[str]] = None) -> list[str]:
    """Ids of :data:`BASELINES` (or of ``ids``) that apply to scans in ``geometry`` compared with ``models``."""
    return [i for i in (ids or BASELINES) if BASELINES[i].applies(geometry, models)]


def tune_baselines(ids: Sequence[str], sinograms: torch.Tensor, targets: torch.Tensor, geometry: Geometry,
                   models: Sequence[KnownOperatorModel] = ()) -> dict[str, TunedRecipe]:
    """Tune each tunable baseline of ``ids`` on ``sinograms`` ``[n, V, D]`` (in ``geometry``) against
    ``targets`` ``[n, N, N]``. ``fbp_tuned`` and ``fbp_view_interpolated`` come from one search over
    factors (1, U, …); the arc baselines are tuned in float64 with their least-squares scale."""
    tuned: dict[str, TunedRecipe] = {}
    plain = [i for i in ("fbp_tuned", "fbp_view_interpolated") if i in ids]
    if plain:
        interpolated = (BASELINES["fbp_view_interpolated"].grid(geometry, models)["upsample"]
                        if "fbp_view_interpolated" in plain else ())
        search = tune_recipe(sinograms, targets, geometry,
                             upsample=((1,) if "fbp_tuned" in plain else ()) + interpolated)
        for i, factors in (("fbp_tuned", (1,)), ("fbp_view_interpolated", interpolated)):
            if i in plain:
                tuned[i] = search.restricted(factors)
    for i in ids:
        if i not in plain and BASELINES[i].grid is not None:
            tuned[i] = tune_recipe(torch.as_tensor(sinograms).double(), torch.as_tensor(targets).double(), geometry,
                                   **BASELINES[i].grid(geometry, models))
    return tuned


def _recipe_method(method_id: str, label: str, recipe: FBPRecipe, geometry: Geometry, params: dict,
                   clip: bool = False, dtype: Optional[torch.dtype] = None) -> Method:
    def run(sinogram: torch.Tensor) -> torch.Tensor:
        x = sinogram.to(dtype) if dtype is not None else sinogram
        return recipe.reconstruct(x, geometry).to(sinogram.dtype)

    return Method(method_id, label, run, {**params, "recipe": recipe.to_dict()}, clip)


def baseline_methods(geometry: Geometry, tuned: dict[str, TunedRecipe], how: str, suffix: str = "",
                     ram_lak: bool = True) -> list[Method]:
    """Ram-Lak FBP (if ``ram_lak``) and the methods of the tuned baselines in ``tuned`` (any id of
    :data:`BASELINES` but ``rebin_fbp``, see :func:`rebin_method`), in the order of :data:`BASELINES`, labelled
    ``"<name> <how> (<recipe>)"`` and identified by ``<id><suffix>``. Arc baselines compute in float64 and
    come twice, as they are and clipped at 0."""
    methods = [_recipe_method("fbp_ram_lak", BASELINES["fbp_ram_lak"].name, FBPRecipe(), geometry,
                              {"tuned": False})] if ram_lak else []
    for i in BASELINES:
        if i not in tuned or i in ("rebin_fbp", "tv"):
            continue
        t, name, arc = tuned[i], BASELINES[i].name, BASELINES[i].clipped
        params = {"tuned": how, "tuning_mse": t.mse}
        dtype = torch.float64 if arc else None
        methods.append(_recipe_method(i + suffix, f"{name} {how} ({t.describe()})", t.recipe, geometry, params,
                                      dtype=dtype))
        if arc:
            methods.append(_recipe_method(f"{i}{suffix}_clipped", f"{name} {how}, clipped at 0", t.recipe,
                                          geometry, params, clip=True, dtype=dtype))
    return methods


def tv_method(tuned: TunedTV, geometry: Geometry, how: str, suffix: str = "") -> Method:
    """``tv<suffix>``: :func:`recon.analytic.tv.tv_reconstruct` with the λ of ``tuned`` (tuned ``how``), computed in
    float32 (λ is tuned in float32) and returned in the sinogram's dtype."""
    return Method("tv" + suffix, f"{BASELINES['tv'].name} {how} ({tuned.describe()})",
                  lambda sinogram: tuned.reconstruct(sinogram.float(), geometry).to(sinogram.dtype),
                  {"tuned": how, **tuned.to_dict()})


def rebin_method(window: TunedRecipe, reconstruct: Callable[[FBPRecipe], Reconstruct], how: str, own: bool,
                 geometry: Geometry, suffix: str = "") -> Method:
    """``rebin_fbp<suffix>``: rebinning followed by FBP with ``window``, which was tuned ``how`` for the
    rebinned data (``own``) or is the window of the direct FBP baseline; ``reconstruct(recipe)`` gives the
    reconstruction, on the grid of ``geometry`` (the rebinned one)."""
    detail = how if own else f"window of FBP {how}"
    return Method("rebin_fbp" + suffix, f"{BASELINES['rebin_fbp'].name} ({window.describe()}, {detail})",
                  reconstruct(window.recipe), {"recipe": window.recipe.to_dict(), "tuned": how,
                                               "window_tuned_for": "rebinned data" if own else "direct FBP"},
                  geometry=geometry)


def model_method(index: int, model: KnownOperatorModel, reconstruct: Reconstruct, label: Optional[str] = None,
                 params: Optional[dict] = None, geometry: Optional[Geometry] = None,
                 extra_seconds: float = 0.0) -> Method:
    """The method of the ``index``-th model (1-based): id ``model_<index>``, label ``learned <Class> (<parts>)``."""
    label = label or f"learned {type(model).__name__} ({model.learned_parts()})"
    info = {"class": type(model).__name__, "learned": model.learned_parts(), **(params or {})}
    path = getattr(model, "path", None)
    if path is not None:
        info["path"] = str(path)
    return Method(f"model_{index}", label, reconstruct, info, geometry=geometry, extra_seconds=extra_seconds)


def method_order(method_id: str) -> tuple[int, int]:
    """Sort key of a method id: baselines in the order of :data:`BASELINES` (each before its oracle), then
    the models in their order."""
    if method_id.startswith("model_"):
        return (len(BASELINES), int(method_id.split("_")[1]))
    base = next(i for i in sorted(BASELINES, key=len, reverse=True) if method_id.startswith(i))
    return (list(BASELINES).index(base), ("_oracle" in method_id) * 2 + method_id.endswith("_clipped"))
