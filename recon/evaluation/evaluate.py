"""``recon evaluate``: a trained model against the analytic baselines on a simulated test set.

The test file's samples are split in two, in file order: the first ``tune_fraction`` tunes the analytic
baselines (the grid searches of :mod:`recon.analytic.recipe`), the rest is where every method is scored. The
methods are those of :mod:`recon.evaluation.methods` that apply to the model's geometry:

* image models: Ram-Lak FBP, FBP with a tuned window, for uniform full scans view-interpolated FBP tuned the
  same way, for arcs the tuned limited-angle FBP (and with view completion for a model that completes views),
  as it is and clipped at 0, and the model; scored against what the model was trained for (``images`` or
  ``full_view_fbp``);
* conversion networks (fan → parallel, parallel → fan): interpolation rebinning and the network, each
  followed by FBP in the target geometry with its own tuned window; scored on the sinogram (relative L2 to
  the exact target sinogram) and on the image.

With ``tv=True`` every model also faces TV-regularised reconstruction (:mod:`recon.analytic.tv`, λ tuned on
:data:`~recon.evaluation.baselines.TV_SAMPLES` tuning samples, float32) — for a conversion network TV
reconstructs the image straight from the source data, the classical alternative to converting and
reconstructing.

Scores: :func:`recon.evaluation.scores.image_scores` — RMSE, PSNR and SSIM inside the field of view (the inscribed
disc of the grid) by default, over the whole grid with ``region="square"`` — and each method's time per image
(``seconds_per_image``, batches of 16); ``evaluation.json`` keys them by method id, with each method's label and
parameters alongside, and names the region (``region``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch
from tqdm import tqdm

from .._checks import integer
from ..analytic.recipe import tune_recipe
from ..analytic.tv import TunedTV
from ..geometry import view_indices
from ..io.atomic import atomic_folder, check_writable
from ..models import GeometryConversion, KnownOperatorModel, LearnedFDK, load_model, training_summary
from ..simulation.dataset import SimulatedDataset, load_samples, read_dataset
from .._logging import progress_disabled
from .baselines import TV_SAMPLES, conversions
from .evaluate_cone import evaluate_cone
from .leakage import warn_overlap
from .methods import Method, applicable_baselines, baseline_methods, model_method, tune_baselines, tv_method
from .report import evaluation_figure, format_table
from .scores import REGIONS, SSIM_KEYS, check_region, image_scores, relative_l2

__all__ = ["evaluate"]

PathLike = Union[str, os.PathLike]
OUTPUTS = ("evaluation.json", "evaluation.md", "evaluation.png")


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 16) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def _image_methods(model: KnownOperatorModel, x_tune: torch.Tensor, y_tune: torch.Tensor, tv: bool) -> list[Method]:
    g = model.geometry
    ids = applicable_baselines(g, [model], ids=("fbp_tuned", "fbp_view_interpolated", "limited_angle_fbp",
                                                 "view_completion_fbp"))
    tuned = tune_baselines(ids, x_tune, y_tune, g, [model])
    extra = []
    if tv:
        extra = [tv_method(TunedTV.tune(x_tune[:TV_SAMPLES].float(), y_tune[:TV_SAMPLES].float(), g), g, "tuned")]
    return baseline_methods(g, tuned, "tuned") + extra + [model_method(1, model, model)]


def _run_timed(method: Method, x: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The method's images of ``x`` and the seconds per image."""
    start = time.perf_counter()
    out = _batched(method, x)
    return out, (time.perf_counter() - start) / x.shape[0]


def _score_images(model: KnownOperatorModel, data_path: Path, views: Any, tune_fraction: float,
                  max_samples: Optional[int], tv: bool = False, region: str = "fov"
                  ) -> tuple[dict, dict, dict, torch.Tensor, int]:
    target = training_summary(model).get("target", "images")
    data = load_samples(data_path, target, views, max_samples)
    n_tune = max(1, int(round(tune_fraction * data.inputs.shape[0])))
    if data.inputs.shape[0] - n_tune < 1:
        raise ValueError(f"{data_path}: too few samples to tune on {n_tune} and test on the rest")
    x_test, truth = data.inputs[n_tune:], data.targets[n_tune:]
    methods = _image_methods(model, data.inputs[:n_tune], data.targets[:n_tune], tv)
    timed = {m.id: _run_timed(m, x_test) for m in tqdm(methods, desc="evaluate", unit="method", leave=False,
                                                        disable=progress_disabled())}
    outputs = {i: o for i, (o, _) in timed.items()}
    results = {i: {**image_scores(o, truth, model.geometry.pixel_size, region), "seconds_per_image": s}
               for i, (o, s) in timed.items()}
    return results, {m.id: m.describe() for m in methods}, outputs, truth, n_tune


def _score_conversion(model: GeometryConversion, data_path: Path, views: Any, tune_fraction: float,
                      max_samples: Optional[int], tv: bool = False, region: str = "fov"
                      ) -> tuple[dict, dict, dict, torch.Tensor, int]:
    sino = load_samples(data_path, "target_sinograms", views, max_samples)
    n_tune = max(1, int(round(tune_fraction * sino.inputs.shape[0])))
    truth = read_dataset(data_path, "images", sino.inputs.shape[0])
    grid = model.output_geometry.replace(image_size=sino.geometry.image_size, pixel_size=sino.geometry.pixel_size)
    results, described, outputs = {}, {}, {}
    for method_id, convert in conversions(model).items():
        start = time.perf_counter()
        p = _batched(convert, sino.inputs)
        convert_seconds = (time.perf_counter() - start) / sino.inputs.shape[0]
        window = tune_recipe(p[:n_tune], truth[:n_tune], grid)
        start = time.perf_counter()
        image = _batched(lambda x: window.recipe.reconstruct(x, grid), p[n_tune:])
        seconds = (time.perf_counter() - start) / image.shape[0] + convert_seconds
        name = "rebinning" if method_id == "rebin_fbp" else f"network ({model.learned_parts()})"
        label = f"{name} + FBP ({window.describe()})"
        method_id = method_id if method_id == "rebin_fbp" else "model_1"
        results[method_id] = {"sinogram_rel_l2": relative_l2(p[n_tune:], sino.targets[n_tune:]),
                              **image_scores(image, truth[n_tune:], grid.pixel_size, region),
                              "seconds_per_image": seconds}
        described[method_id] = {"label": label, "params": {"window": window.to_dict(), "tuned": "tuned"}}
        outputs[method_id] = image
    if tv:  # TV-regularised reconstruction straight from the source data: no conversion, no target-geometry FBP
        source = sino.geometry.replace(image_size=grid.image_size, pixel_size=grid.pixel_size)
        method = tv_method(TunedTV.tune(sino.inputs[:min(n_tune, TV_SAMPLES)].float(),
                                        truth[:min(n_tune, TV_SAMPLES)].float(), source), source, "tuned")
        image, seconds = _run_timed(method, sino.inputs[n_tune:])
        results[method.id] = {**image_scores(image, truth[n_tune:], grid.pixel_size, region),
                              "seconds_per_image": seconds}
        described[method.id] = {"label": method.label + ", from the source data", "params": method.params}
        outputs[method.id] = image
    return results, described, outputs, truth[n_tune:], n_tune


def evaluate(model_path: PathLike, data_path: PathLike, out: Optional[PathLike] = None,
             tune_fraction: float = 0.25, max_samples: Optional[int] = None, force: bool = False,
             tv: bool = False, region: str = "fov") -> dict[str, Any]:
    """Score a model on a simulated test file (see the module docstring), RMSE, PSNR and SSIM in ``region``
    (``"fov"``: the inscribed disc of the grid; ``"square"``: the whole grid). With ``out`` writes
    ``evaluation.json``, ``evaluation.md`` and ``evaluation.png`` there (refusing to overwrite without
    ``force``). Returns ``{"results": {id: metrics}, "methods": {id: {label, params}}, "region": ..., "table":
    ..., ...}``."""
    check_region(region)
    if not 0.0 < tune_fraction < 1.0:
        raise ValueError(f"tune_fraction must be in (0, 1), got {tune_fraction}")
    if max_samples is not None:
        max_samples = integer("max_samples", max_samples, 2)  # one to tune the baselines on, one to score
    model = load_model(model_path)
    model.eval()
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        for name in OUTPUTS:
            check_writable(out_dir / name, force)
    overlap = warn_overlap(model, Path(data_path))  # test phantoms that are training phantoms: said, and reported
    if isinstance(model, LearnedFDK):  # cone beam: volumes (recon.evaluation.evaluate_cone)
        if tv:
            raise ValueError("--tv compares 2-D models; a cone-beam model faces FDK (Ram-Lak and tuned)")
        return evaluate_cone(model, model_path, data_path, out_dir, tune_fraction, max_samples, force, region)
    views = view_indices(SimulatedDataset(data_path, keys=("sinograms",)).geometry, model.geometry)
    conversion = isinstance(model, GeometryConversion)
    score = _score_conversion if conversion else _score_images
    results, methods, outputs, truth, n_tune = score(model, Path(data_path), views, tune_fraction, max_samples,
                                                     tv=tv, region=region)
    target = "target_sinograms" if conversion else training_summary(model).get("target", "images")
    report = {"model": str(model_path), "data": str(data_path), "target": target, "n_tune": n_tune,
              "n_test": int(truth.shape[0]), "region": REGIONS[region], "region_id": region,
              "psnr_data_range": f"max - min of each ground-truth image {REGIONS[region]}",
              "ssim_conventions": SSIM_KEYS,
              "methods": methods, "results": results, "training_overlap": overlap}
    labels = {i: m["label"] for i, m in methods.items()}
    table = format_table(results, labels, region)
    if out_dir is not None:  # the three files as one set, the markdown report last
        with atomic_folder(out_dir, ["evaluation.md"], force) as stage:
            (stage / "evaluation.json").write_text(json.dumps(report, indent=2))
            evaluation_figure(outputs, labels, truth, stage / "evaluation.png", region)
            (stage / "evaluation.md").write_text(
                f"# Evaluation of {model_path} on {data_path}\n\n{n_tune} samples tune the analytic "
                f"filters, {truth.shape[0]} are scored against `{target}` (what the model was trained "
                f"for). PSNR/SSIM/RMSE {REGIONS[region]}; PSNR data range: max − min of each ground-truth "
                f"image there.\n\n{table}\n" + (f"\n**Not held out**: {overlap['text']}.\n" if overlap else ""))
    report["table"] = table
    return report
