"""``recon compare``: learned models against the analytic baselines on real scans, with a report per scan.

Every method reconstructs the same (e.g. sparse-view) data on the same grid — the grid of the first model.
The methods are those of :mod:`recon.evaluation.methods` that apply to the scan:

* Ram-Lak FBP;
* the tuned baselines — FBP with a tuned window, view-interpolated FBP (uniform full scans), limited-angle FBP
  (arcs; as it is and clipped at 0) — tuned *on the models' simulated training data* when the run recorded a
  readable file (the fair baselines: they have seen what the models have seen; computed once per run,
  :mod:`recon.evaluation.baselines`); the limited-angle recipes are those the models' training tuned;
* the same tuned *against the reference itself* (ids ``*_oracle``): an upper bound no choice of that kind can
  beat on the scan (view interpolation and limited angle only when the training data did not give them);
* rebinning + FBP (fan scans): interpolation rebinning to parallel beam (the conversion network's output
  geometry when there is one, with a window tuned for the rebinned data), then FBP;
* with ``tv=True``, TV-regularised reconstruction (:mod:`recon.analytic.tv`, λ tuned on 4 training samples of the
  first image model, ``tv``, and against the reference, ``tv_oracle``);
* each model (learned FBP, or conversion network + FBP with its own window).

Every method's reconstruction time of the scan is reported beside its scores (``seconds``; a model's includes
applying it, not loading it).

Against the reference (an image file, e.g. the HTC ``*_recon_fbp.mat``; default: FBP of the *full* scan, all
views) each gets the scores of :func:`recon.evaluation.scores.scan_scores`, RMSE, PSNR and SSIM inside the field
of view by default (``region``, :data:`recon.evaluation.scores.REGIONS`). Writes ``comparison.png``,
``profile.png``, ``filter_<k>.png`` for learned filters, ``metrics.json`` (keyed by method id, labels and
parameters alongside) and ``report.md``; with several scans, one such folder per scan and a
``summary.md`` / ``summary.json`` over them (mean, per scan, wins).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..analytic.rebinning import Rebinning, parallel_geometry_for
from ..analytic.recipe import FBPRecipe, TunedRecipe, fbp, tune_recipe
from ..analytic.tv import TunedTV
from ..geometry import Geometry
from ..io.outputs import Reconstruction
from ..io.scan import Scan
from ..models import GeometryConversion, KnownOperatorModel, apply_model, match_model_views
from .._logging import progress_disabled
from .baselines import conversion_windows, stored_arc_recipes, training_baselines, tv_training_baseline
from .methods import (Method, applicable_baselines, baseline_methods, method_order, model_method, rebin_method,
                      tune_baselines, tv_method)
from .quality import otsu_threshold
from .scores import REGIONS, check_region, scan_scores
from .training_data import training_data_problem

__all__ = ["Comparison", "tuned_on_training_data", "compare_scan"]


@dataclass
class Comparison:
    """The result of :func:`compare_scan`: ``scores`` and reconstructions ``recs`` keyed by method id,
    ``methods`` ``{id: {label, params}}``, the ``reference`` and ``segmentation`` images and the ``context``
    (views used, grid, what the reference and segmentation are)."""

    scores: dict[str, dict[str, float]]
    recs: dict[str, Reconstruction]
    methods: dict[str, dict[str, Any]]
    reference: np.ndarray
    segmentation: np.ndarray
    context: dict[str, Any]


def tuned_on_training_data(models: Sequence[KnownOperatorModel], geometry: Geometry) -> dict[str, TunedRecipe]:
    """The baselines for scans in ``geometry`` tuned on the models' training data: FBP and view-interpolated FBP
    of the first image model whose training file is readable, the limited-angle recipes their training tuned
    (plain: ``limited_angle_fbp``, views completed: ``view_completion_fbp``), and for the first conversion
    network the windows after rebinning (``rebin_fbp``) and after the network (``conversion``)."""
    ids = applicable_baselines(geometry, models)
    tuned: dict[str, TunedRecipe] = {}
    found = next((t for t in (training_baselines(m, ids, models) for m in models) if t is not None), None)
    tuned.update(found or {})
    for i, stored in stored_arc_recipes(models).items():
        tuned.setdefault(i, stored)
    conversion = next((m for m in models if isinstance(m, GeometryConversion)), None)
    windows = conversion_windows(conversion) if conversion is not None else None
    if windows is not None:
        tuned["rebin_fbp"], tuned["conversion"] = windows["rebin_fbp"], windows["model"]
    return tuned


def _prepare(full: Scan, models: Sequence[KnownOperatorModel], views: Optional[int],
             angles: Optional[tuple[float, float]], grid: Optional[Geometry]) -> tuple[Scan, Geometry]:
    """The scan cut to the views/arc asked for (or the views the first model needs) and the comparison
    geometry (the scan's acquisition on the first image model's grid, else ``grid``, else the scan's)."""
    scan = full
    if angles is not None:
        scan = scan.select_angles(*angles)
    if views is not None:
        scan = scan.select_views(count=views)
    if models:
        scan = match_model_views(scan, models[0])[0]
        grid = models[0].geometry if models[0].output_kind == "image" else (grid or scan.geometry)
    grid = grid or scan.geometry
    return scan, scan.geometry.replace(image_size=grid.image_size, pixel_size=grid.pixel_size)


def _rebinning(g: Geometry, models: Sequence[KnownOperatorModel], tuned: dict[str, TunedRecipe],
               oracle: dict[str, TunedRecipe], x: torch.Tensor, reference: np.ndarray) -> list[Method]:
    """``rebin_fbp`` for fan scans: to the conversion network's output geometry (with the window tuned for
    rebinned training data, else for this scan against the reference) or to parallel beam over π (with the
    window of the direct FBP baseline)."""
    if not g.point_source:
        return []
    conversion = next((m for m in models if isinstance(m, GeometryConversion)), None)
    par = (conversion.output_geometry.replace(image_size=g.image_size, pixel_size=g.pixel_size)
           if conversion is not None else parallel_geometry_for(g))
    rebinning = Rebinning(g, par, dtype=x.dtype)

    def run(recipe: FBPRecipe):
        return lambda sino: recipe.reconstruct(rebinning(sino), par)

    if "rebin_fbp" in tuned:
        return [rebin_method(tuned["rebin_fbp"], run, "tuned on training data", True, par)]
    if conversion is not None:
        window = tune_recipe(rebinning(x)[None], torch.from_numpy(reference)[None], par)
        return [rebin_method(window, run, "oracle", True, par, suffix="_oracle")]
    if "fbp_tuned" in tuned:
        return [rebin_method(tuned["fbp_tuned"], run, "tuned on training data", False, par)]
    return [rebin_method(oracle["fbp_tuned"], run, "oracle", False, par, suffix="_oracle")]


def _model_methods(scan: Scan, models: Sequence[KnownOperatorModel], tuned: dict[str, TunedRecipe],
                   reference: np.ndarray) -> list[Method]:
    """One method per model: the image of an image model (float32, as it computes), or the converted sinogram
    reconstructed by FBP with the network's own window (tuned on its training data, else on the reference)."""
    methods = []
    first_conversion = next((m for m in models if isinstance(m, GeometryConversion)), None)
    for k, model in enumerate(models, start=1):
        if not isinstance(model, GeometryConversion):  # applied when the method runs (and is timed)
            methods.append(model_method(k, model, lambda _, model=model: torch.from_numpy(
                apply_model(scan, model)[0].astype(np.float32))))
            continue
        start = time.perf_counter()
        out, target = apply_model(scan, model)
        applied = time.perf_counter() - start
        own = None if model is first_conversion else conversion_windows(model)
        if model is first_conversion and "conversion" in tuned:
            window, how = tuned["conversion"], "tuned on training data"
        elif own is not None:
            window, how = own["model"], "tuned on training data"
        else:
            window, how = tune_recipe(torch.from_numpy(out)[None], torch.from_numpy(reference)[None], target), "oracle"
        label = f"learned {type(model).__name__} ({model.learned_parts()}) + FBP ({window.describe()}, {how})"
        methods.append(model_method(k, model, lambda _, out=out, window=window, target=target: torch.from_numpy(
            np.asarray(window.recipe.reconstruct(out, target))), label,
            {"window": window.to_dict(), "tuned": how}, geometry=target, extra_seconds=applied))
    return methods


def _tv_methods(models: Sequence[KnownOperatorModel], g: Geometry, x: torch.Tensor, reference: np.ndarray,
                memo: dict) -> list[Method]:
    """``tv`` (λ tuned on the first image model's training data, once per ``memo``) and ``tv_oracle`` (tuned on
    this scan against the reference), in float32."""
    if "tv" not in memo:
        memo["tv"] = next((t for t in (tv_training_baseline(m) for m in models if m.output_kind == "image")
                           if t is not None), None)
    x32 = x.float()
    methods = [] if memo["tv"] is None else [tv_method(memo["tv"], g, "tuned on training data")]
    oracle = TunedTV.tune(x32[None], torch.from_numpy(reference).float()[None], g)
    return methods + [tv_method(oracle, g, "oracle", suffix="_oracle")]


def _timed(method: Method, x: torch.Tensor, g: Geometry) -> tuple[Reconstruction, float]:
    start = time.perf_counter()
    image = method(x).numpy()
    return Reconstruction(image, method.geometry or g, method.label), time.perf_counter() - start + method.extra_seconds


def compare_scan(full: Scan, models: Sequence[KnownOperatorModel], reference: Optional[np.ndarray] = None,
                 segmentation: Optional[np.ndarray] = None, views: Optional[int] = None,
                 angles: Optional[tuple[float, float]] = None, grid: Optional[Geometry] = None,
                 memo: Optional[dict] = None, tv: bool = False, region: str = "fov") -> Comparison:
    """Reconstruct ``full`` (or its ``views``/``angles`` subset, or the views the first model needs) with
    every method (TV too if ``tv``) and score them, RMSE, PSNR and SSIM in ``region`` (``"fov"``: the inscribed
    disc of the grid; ``"square"``: the whole grid). ``reference``/``segmentation`` must be on the comparison
    grid (that of the first model, else ``grid``, else the scan's). ``memo``: a dict that keeps the baselines
    tuned on the models' training data (:func:`tuned_on_training_data`) between calls, so many scans tune them
    once."""
    check_region(region)
    scan, g = _prepare(full, models, views, angles, grid)
    context: dict[str, Any] = {"n_views_used": scan.n_views, "n_views_full": full.n_views, "grid": g.to_dict(),
                               "region": REGIONS[region], "region_id": region}
    if reference is None:
        g_full = full.geometry.replace(image_size=g.image_size, pixel_size=g.pixel_size)
        reference = fbp(full.sinogram.astype(np.float64), g_full, "hann", 1.0, warn=False)
        context["reference"] = f"FBP (hann) of the full scan, {full.n_views} views"
    true_seg = segmentation is not None
    if segmentation is None:
        segmentation = (reference > otsu_threshold(reference)).astype(np.uint8)
        context["segmentation"] = "Otsu threshold of the reference"
    sino = scan.sinogram.astype(np.float64)
    x = torch.from_numpy(sino)
    ids = applicable_baselines(g, models)
    memo = {} if memo is None else memo
    if tuple(ids) not in memo:
        memo[tuple(ids)] = tuned_on_training_data(models, g)
    tuned = memo[tuple(ids)]
    left_out = [f"{getattr(m, 'path', None) or type(m).__name__}: {problem}" for m in models
                if (problem := training_data_problem(m))]
    if left_out:
        context["baselines_left_out"] = "; ".join(left_out)
    oracle_ids = [i for i in ("fbp_tuned", "fbp_view_interpolated", "limited_angle_fbp")
                  if i in ids and (i == "fbp_tuned" or i not in tuned)]
    oracle = tune_baselines(oracle_ids, x[None], torch.from_numpy(reference)[None], g, models)
    methods = (baseline_methods(g, tuned, "tuned on training data")
               + baseline_methods(g, oracle, "oracle", suffix="_oracle", ram_lak=False)
               + _rebinning(g, models, tuned, oracle, x, reference) + _model_methods(scan, models, tuned, reference)
               + (_tv_methods(models, g, x, reference, memo) if tv else []))
    methods.sort(key=lambda m: method_order(m.id))
    timed = {m.id: _timed(m, x, g) for m in tqdm(methods, desc="compare", unit="method", leave=False, disable=progress_disabled())}
    recs = {i: r for i, (r, _) in timed.items()}
    scores = {i: {**scan_scores(r.image, reference, segmentation, sino, g, true_seg, region), "seconds": s}
              for i, (r, s) in timed.items()}
    return Comparison(scores, recs, {m.id: m.describe() for m in methods}, reference, segmentation, context)
