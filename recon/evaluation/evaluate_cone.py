"""``recon evaluate`` for a cone-beam model (:class:`recon.models.LearnedFDK`) on a simulated test file of volumes.

As for 2-D models (:mod:`recon.evaluation.evaluate`): the first ``tune_fraction`` of the samples tunes the analytic
baseline, the rest is scored. Methods: FDK with Ram-Lak (Parker weights for short scans: :func:`recon.fdk`), FDK with
the window × cut-off that minimises the MSE on the tuning samples, and the model. Scores: RMSE, PSNR and SSIM of
every slice of every volume (inside the inscribed disc of each slice by default), mean and standard deviation over
the slices the phantom reaches, and the seconds per volume; ``evaluation.png`` shows the central slices across the three axes and a
profile along z through the centre, where FDK's cone-angle loss shows.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any, Optional, Union

import torch

from ..analytic.fdk import fdk
from ..analytic.filters import WINDOWS
from ..io.atomic import atomic_folder
from ..io.outputs import pyplot, save_figure
from ..models import LearnedFDK
from ..simulation.dataset import load_samples
from .report import format_table
from .scores import REGIONS, SSIM_KEYS, image_scores

__all__ = ["evaluate_cone", "tune_fdk", "volume_figure", "slices_of"]

PathLike = Union[str, os.PathLike]
CUTOFFS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def tune_fdk(x: torch.Tensor, y: torch.Tensor, geometry: Any, grid: Any) -> tuple[str, float]:
    """The window and cut-off of :func:`recon.fdk` with the least MSE against ``y`` on the samples ``x``."""
    best = None
    for window, cutoff in itertools.product(WINDOWS, CUTOFFS):
        if window == "ram-lak" and cutoff < 1.0:
            continue
        mse = float(torch.mean((fdk(x, geometry, grid, window, cutoff, warn=False) - y) ** 2))
        if best is None or mse < best[0]:
            best = (mse, window, cutoff)
    return best[1], best[2]


def slices_of(v: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Volumes ``[n, nz, ny, nx]`` as the slices ``[k, ny, nx]`` the scores take (those ``keep`` marks)."""
    return v.reshape((-1,) + tuple(v.shape[-2:]))[keep]


def evaluate_cone(model: LearnedFDK, model_path: PathLike, data_path: PathLike, out: Optional[Path],
                  tune_fraction: float, max_samples: Optional[int], force: bool, region: str) -> dict[str, Any]:
    """Score ``model`` on the cone-beam test file ``data_path`` (see the module docstring)."""
    data = load_samples(data_path, "images", None, max_samples)
    if data.volume != model.grid:
        raise ValueError(f"{data_path}: its volumes are on {data.volume!r}; the model reconstructs {model.grid!r}")
    model.check_geometry(data.geometry, "test data")
    n_tune = max(1, int(round(tune_fraction * data.inputs.shape[0])))
    if data.inputs.shape[0] - n_tune < 1:
        raise ValueError(f"{data_path}: too few samples to tune on {n_tune} and test on the rest")
    window, cutoff = tune_fdk(data.inputs[:n_tune].double(), data.targets[:n_tune].double(), model.geometry,
                              model.grid)
    x, truth = data.inputs[n_tune:], data.targets[n_tune:]
    methods = {"fdk": ("FDK (Ram-Lak)", lambda p: fdk(p, model.geometry, model.grid, warn=False)),
               "fdk_tuned": (f"FDK ({window}, cut-off {cutoff:g}; tuned)",
                             lambda p: fdk(p, model.geometry, model.grid, window, cutoff, warn=False)),
               "model_1": (f"learned FDK ({model.learned_parts()})", lambda p: model(p.to(model.dtype)))}
    flat = truth.reshape((-1,) + tuple(truth.shape[-2:]))
    keep = flat.amax(dim=(-2, -1)) > flat.amin(dim=(-2, -1))  # slices the phantom reaches (PSNR needs a range)
    results, outputs = {}, {}
    for key, (label, method) in methods.items():
        start = time.perf_counter()
        with torch.no_grad():
            volumes = torch.stack([method(p) for p in x]).float()
        seconds = (time.perf_counter() - start) / x.shape[0]
        outputs[key] = volumes
        results[key] = {**image_scores(slices_of(volumes, keep), slices_of(truth, keep), model.grid.voxel_size[2], region),
                        "seconds_per_volume": seconds}
    labels = {k: label for k, (label, _) in methods.items()}
    table = format_table(results, labels, region)
    report = {"model": str(model_path), "data": str(data_path), "target": "images (volumes)", "n_tune": n_tune,
              "n_test": int(truth.shape[0]), "region": REGIONS[region] + ", slice by slice (slices the phantom reaches)",
              "n_slices_scored": int(keep.sum()), "region_id": region,
              "ssim_conventions": SSIM_KEYS, "methods": {k: {"label": v} for k, v in labels.items()},
              "results": results, "fdk_tuned": {"window": window, "cutoff": cutoff}}
    if out is not None:
        with atomic_folder(out, ["evaluation.md"], force) as stage:
            (stage / "evaluation.json").write_text(json.dumps(report, indent=2))
            volume_figure([("phantom", truth[0].numpy())] + [(labels[k], v[0].numpy()) for k, v in outputs.items()],
                          model.grid, stage / "evaluation.png")
            (stage / "evaluation.md").write_text(
                f"# Evaluation of {model_path} on {data_path}\n\n{n_tune} volumes tune FDK's window, "
                f"{truth.shape[0]} are scored against the phantoms, slice by slice {REGIONS[region]}.\n\n{table}\n")
    report["table"] = table
    return report


def volume_figure(volumes: list[tuple[str, Any]], grid: Any, path: Path) -> None:
    """Central axial and coronal slices of every ``(name, volume [nz, ny, nx])`` on the first one's scale, and the
    profile along z through the centre (where FDK's cone-angle loss shows)."""
    plt = pyplot()
    nz, ny, nx = volumes[0][1].shape
    vmin, vmax = 0.0, 1.1 * float(volumes[0][1].max())  # the phantom's range: every method on one scale
    fig, axes = plt.subplots(2, len(volumes) + 1, figsize=(3.2 * (len(volumes) + 1), 6.4), constrained_layout=True)
    for j, (name, v) in enumerate(volumes):
        axes[0, j].imshow(v[nz // 2], cmap="gray", vmin=vmin, vmax=vmax)
        axes[0, j].set_title(f"{name}\naxial, central slice", fontsize=8)
        axes[1, j].imshow(v[:, ny // 2], cmap="gray", vmin=vmin, vmax=vmax, aspect="auto")
        axes[1, j].set_title("coronal", fontsize=8)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    z = grid.z
    for name, v in volumes:
        axes[0, -1].plot(z, v[:, ny // 2, nx // 2], label=name, lw=1)
    axes[0, -1].set_xlabel("z (mm)")
    axes[0, -1].set_ylabel("μ (1/mm)")
    axes[0, -1].set_title("profile along z through the centre", fontsize=8)
    axes[0, -1].legend(fontsize=6)
    axes[1, -1].axis("off")
    save_figure(fig, path)
