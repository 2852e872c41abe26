"""``recon evaluate``: a trained model against analytic FBP on a simulated test set.

The test file's samples are split in two, in file order: the first ``tune_fraction`` tunes the analytic
baseline (window × cut-off grid search, :func:`recon.baselines.tune_fbp`), the rest is where every method is
scored. Methods:

* image models: ``FBP ram-lak`` (cut-off 1), ``FBP tuned`` (best window/cut-off), for uniform full scans
  also view-interpolated FBP tuned the same way (×U views, U of the model or 4; :mod:`recon.views`), for
  arcs the limited-angle FBP (window, cut-off, end taper, scale; :mod:`recon.limited_angle`) as it is and
  clipped at 0, and the model; scored against what the model was trained for (``images`` or
  ``full_view_fbp``);
* conversion networks (fan → parallel, parallel → fan): interpolation rebinning (:func:`recon.rebin`) and
  the network, each followed by FBP in the target geometry with its own tuned filter; scored on the
  sinogram (relative L2 to the exact target sinogram) and on the image.

Image metrics (:mod:`recon.metrics`) are computed per image against the ground truth and averaged:
RMSE (1/mm), PSNR (dB, data range = max − min of each ground-truth image), SSIM (Gaussian σ = 1.5), and the
edge sharpness: 10–90 % rise distance (mm) of the mean profile across the ground truth's boundaries
(:func:`recon.quality.edge_spread`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from ..analytic.recipe import tune_fbp
from ..analytic.filtered_backprojection import FBP
from ..geometry import view_indices
from ..io.atomic import atomic_output, check_writable
from ..metrics import psnr, rmse, ssim
from .quality import edge_rise_distance
from ..models import GeometryConversion, KnownOperatorModel, LearnedFBP, load_model, training_summary
from ..analytic.rebinning import Rebinning
from ..training.loop import load_training_data, read_dataset
from ..analytic.views import uniform_full_scan_step
from ..analytic.weights import scan_coverage

__all__ = ["evaluate", "image_scores", "format_table", "convert_both"]

PathLike = Union[str, os.PathLike]


def _batched(fn, x: torch.Tensor, batch: int = 16) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def image_scores(images: torch.Tensor, truth: torch.Tensor, pixel_size: Optional[float] = None) -> dict[str, float]:
    """Mean and standard deviation of RMSE, PSNR and SSIM over a stack ``[n, N, N]``; with ``pixel_size``
    (mm) also the edge 10–90 % rise distance across the boundaries of ``truth > ½ max(truth)``."""
    out: dict[str, float] = {}
    for name, fn in (("rmse", rmse), ("psnr", psnr), ("ssim", ssim)):
        values = torch.as_tensor(fn(images, truth)).reshape(-1).double()
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std()) if values.numel() > 1 else 0.0
    if pixel_size is not None:
        rises = []
        for image, t in zip(images.detach().cpu().numpy(), truth.detach().cpu().numpy()):
            segmentation = t > 0.5 * t.max()
            if segmentation.any() and not segmentation.all():
                rises.append(edge_rise_distance(image, segmentation, pixel_size))
        rises = [r for r in rises if np.isfinite(r)]
        if rises:
            out["edge_rise_mm"] = float(np.mean(rises))
            out["edge_rise_mm_std"] = float(np.std(rises, ddof=1)) if len(rises) > 1 else 0.0
    return out


def _relative_l2(x: torch.Tensor, ref: torch.Tensor) -> float:
    return float(((x.double() - ref.double()) ** 2).sum().sqrt() / (ref.double() ** 2).sum().sqrt())


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table of ``{method: {metric: value}}``."""
    cols = [c for c in ("sinogram_rel_l2", "rmse", "psnr", "ssim", "edge_rise_mm")
            if any(c in r for r in results.values())]
    header = "| method | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols) + "\n"
    fmt = {"sinogram_rel_l2": "{:.4f}", "rmse": "{:.3e}", "psnr": "{:.2f}", "ssim": "{:.4f}", "edge_rise_mm": "{:.3f}"}
    rows = []
    for method, r in results.items():
        cells = []
        for c in cols:
            if c not in r:
                cells.append("")
            elif f"{c}_std" in r:
                cells.append((fmt[c] + " ± " + fmt[c]).format(r[c], r[f"{c}_std"]))
            else:
                cells.append(fmt[c].format(r[c]))
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    return header + "\n".join(rows)


def _fbp_methods(model: KnownOperatorModel, x_tune, y_tune, x_test, y_test) -> tuple[dict, dict]:
    g = model.geometry
    tuned = tune_fbp(x_tune, y_tune, g)
    outputs = {
        "FBP ram-lak": _batched(FBP(g, "ram-lak", warn=False), x_test),
        f"FBP tuned ({tuned.describe()})": _batched(FBP(g, tuned.filter, tuned.cutoff, warn=False), x_test),
    }
    try:  # sparse full scans: view-interpolated FBP, the stronger analytic baseline (recon.views)
        uniform_full_scan_step(g)
    except ValueError:
        pass
    else:
        interp = tune_fbp(x_tune, y_tune, g, upsample=(getattr(model, "factor", None) or 4,))
        outputs[f"FBP tuned ({interp.describe()})"] = torch.cat(
            [interp.reconstruct(x_test[i:i + 8], g) for i in range(0, x_test.shape[0], 8)])
    if scan_coverage(g).kind != "full":  # arcs: window, cut-off, end taper and scale tuned (recon.limited_angle)
        from ..analytic.arcs import tune_start

        for complete in (False, True) if getattr(model, "complete_views", False) else (False,):
            limited = tune_start(LearnedFBP(g, warn=False, complete_views=complete), x_tune, y_tune)
            image = limited.reconstruct(x_test.double(), g).to(x_test.dtype)
            name = ("view completion + " if complete else "") + "limited-angle FBP tuned"
            outputs[f"{name} ({limited.describe()})"] = image
            outputs[f"{name}, clipped at 0"] = image.clamp_min(0.0)
    outputs[f"learned ({model.learned_parts()})"] = _batched(model, x_test)
    return {m: image_scores(o, y_test, g.pixel_size) for m, o in outputs.items()}, outputs


def convert_both(model: GeometryConversion, sinograms: torch.Tensor) -> dict[str, torch.Tensor]:
    """Source sinograms ``[n, V_s, D_s]`` (in ``model.geometry``) converted to the model's output geometry by
    interpolation rebinning (``"rebinning"``) and by the network (``"network"``), ``[n, V_t, D_t]`` each."""
    model.eval()
    return {"rebinning": _batched(Rebinning(model.geometry, model.output_geometry), sinograms),
            "network": _batched(model, sinograms.to(next(model.buffers()).dtype))}


def _conversion_methods(model: GeometryConversion, data_path: Path, views, n_tune: int, max_samples) -> tuple:
    sino = load_training_data(data_path, "target_sinograms", views, max_samples)
    truth = read_dataset(data_path, "images", sino.inputs.shape[0])
    image_grid = model.output_geometry.replace(image_size=sino.geometry.image_size,
                                               pixel_size=sino.geometry.pixel_size)
    results, outputs = {}, {}
    for method, p in convert_both(model, sino.inputs).items():
        tuned = tune_fbp(p[:n_tune], truth[:n_tune], image_grid)
        image = _batched(FBP(image_grid, tuned.filter, tuned.cutoff, warn=False), p[n_tune:])
        label = method if method == "rebinning" else f"network ({model.learned_parts()})"
        name = f"{label} + FBP ({tuned.describe()})"
        results[name] = {"sinogram_rel_l2": _relative_l2(p[n_tune:], sino.targets[n_tune:]),
                         **image_scores(image, truth[n_tune:], image_grid.pixel_size)}
        outputs[name] = image
    return results, outputs, truth[n_tune:]


def _figure(outputs: dict[str, torch.Tensor], truth: torch.Tensor, path: Path) -> None:
    from .report import _pyplot, save_figure

    plt = _pyplot()
    names = list(outputs)
    truth = truth.detach().cpu().numpy()
    outputs = {k: v.detach().cpu().numpy() for k, v in outputs.items()}
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(3.2 * (len(names) + 1), 6.4))
    vmin, vmax = float(truth[0].min()), float(truth[0].max())
    span = 0.1 * (vmax - vmin) or 1.0
    axes[0, 0].imshow(truth[0], cmap="gray", vmin=vmin, vmax=vmax)
    axes[0, 0].set_title("ground truth", fontsize=9)
    axes[1, 0].axis("off")
    for k, name in enumerate(names, start=1):
        img = outputs[name][0]
        axes[0, k].imshow(img, cmap="gray", vmin=vmin, vmax=vmax)
        axes[0, k].set_title(f"{name}\nPSNR {psnr(img, truth[0]):.2f} dB", fontsize=8)
        axes[1, k].imshow(img - truth[0], cmap="coolwarm", vmin=-span, vmax=span)
        axes[1, k].set_title("difference", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    save_figure(fig, path)


def evaluate(model_path: PathLike, data_path: PathLike, out: Optional[PathLike] = None,
             tune_fraction: float = 0.25, max_samples: Optional[int] = None, force: bool = False) -> dict[str, Any]:
    """Score a model on a simulated test file (see the module docstring). With ``out`` writes
    ``evaluation.json``, ``evaluation.md`` and ``evaluation.png`` there (refusing to overwrite without
    ``force``). Returns ``{"results": {method: metrics}, ...}``."""
    if not 0.0 < tune_fraction < 1.0:
        raise ValueError(f"tune_fraction must be in (0, 1), got {tune_fraction}")
    model = load_model(model_path)
    model.eval()
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        for name in ("evaluation.json", "evaluation.md", "evaluation.png"):
            check_writable(out_dir / name, force)
    from ..simulation.dataset import SimulatedDataset

    dataset = SimulatedDataset(data_path, keys=("sinograms",))
    views = view_indices(dataset.geometry, model.geometry)
    if isinstance(model, GeometryConversion):
        n = len(dataset) if max_samples is None else min(len(dataset), max_samples)
        n_tune = max(1, int(round(tune_fraction * n)))
        results, outputs, truth = _conversion_methods(model, Path(data_path), views, n_tune, max_samples)
    else:
        target = training_summary(model).get("target", "images")
        data = load_training_data(data_path, target, views, max_samples)
        n_tune = max(1, int(round(tune_fraction * data.inputs.shape[0])))
        if data.inputs.shape[0] - n_tune < 1:
            raise ValueError(f"{data_path}: too few samples to tune on {n_tune} and test on the rest")
        results, outputs = _fbp_methods(model, data.inputs[:n_tune], data.targets[:n_tune],
                                        data.inputs[n_tune:], data.targets[n_tune:])
        truth = data.targets[n_tune:]
    target = "target_sinograms" if isinstance(model, GeometryConversion) else target
    report = {"model": str(model_path), "data": str(data_path), "target": target, "n_tune": n_tune,
              "n_test": int(truth.shape[0]),
              "psnr_data_range": "max - min of each ground-truth image", "results": results}
    table = format_table(results)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_output(out_dir / "evaluation.json", force) as tmp:
            tmp.write_text(json.dumps(report, indent=2))
        with atomic_output(out_dir / "evaluation.md", force) as tmp:
            tmp.write_text(f"# Evaluation of {model_path} on {data_path}\n\n{n_tune} samples tune the analytic "
                           f"filters, {truth.shape[0]} are scored against `{target}` (what the model was trained "
                           f"for). PSNR data range: max − min of each ground-truth image.\n\n{table}\n")
        _figure(outputs, truth, out_dir / "evaluation.png")
    report["table"] = table
    return report
