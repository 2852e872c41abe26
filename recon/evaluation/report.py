"""Reports of ``recon evaluate`` and ``recon compare``: markdown tables and figures (PNG, written atomically).

Tables list each method by its label with its stable id (the key of the JSON files) in the last column; under
every table with PSNR, SSIM or RMSE columns a sentence names the region they were scored in
(:data:`recon.evaluation.scores.REGIONS`) and the SSIM conventions.
"""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np
import torch

from ..io.outputs import Reconstruction, display_window, plain_text, pyplot, save_figure
from ..metrics import SSIM_CONVENTIONS, psnr
from .scores import REGIONS, check_region, region_mask

__all__ = ["format_table", "format_report", "format_summary", "evaluation_figure", "comparison_figures",
           "summarise_scans", "region_note"]

PathLike = Union[str, os.PathLike]

_EVALUATION_COLUMNS = {"sinogram_rel_l2": "{:.4f}", "rmse": "{:.3e}", "psnr": "{:.2f}", "ssim": "{:.4f}",
                       "ssim_dival": "{:.4f}", "edge_rise_mm": "{:.3f}", "seconds_per_image": "{:.3f}"}
_SCAN_COLUMNS = [("psnr", "PSNR (dB)", "{:.2f}"), ("ssim", "SSIM (Gaussian)", "{:.4f}"),
                 ("ssim_dival", "SSIM (DIVal)", "{:.4f}"), ("rmse", "RMSE (1/mm)", "{:.2e}"),
                 ("edge_rise_mm", "edge 10–90 % (mm)", "{:.3f}"), ("noise_std", "noise std (1/mm)", "{:.2e}"),
                 ("data_consistency", "‖Ax−p‖/‖p‖", "{:.4f}"), ("segmentation_mcc", "seg. MCC (Otsu)", "{:.4f}"),
                 ("seconds", "time (s)", "{:.2f}")]


SSIM_NOTE = (f"SSIM (Gaussian), key `ssim`: {SSIM_CONVENTIONS['gaussian']}; SSIM (DIVal), key `ssim_dival`: "
             f"{SSIM_CONVENTIONS['dival']}.")
"""The sentence under every table with SSIM columns: which convention each is."""

_REGION_SCORES = ("psnr", "ssim", "ssim_dival", "rmse")


def region_note(region: str) -> str:
    """The sentence naming where PSNR, SSIM and RMSE were scored, e.g. ``PSNR/SSIM/RMSE inside the field of view
    (the inscribed disc of the image grid).``"""
    return f"PSNR/SSIM/RMSE {REGIONS[check_region(region)]}."


def _notes(cols: Sequence[str], region: str) -> list[str]:
    """The sentences under a table with the score columns ``cols``: the region, the SSIM conventions."""
    notes = [region_note(region)] if any(c in _REGION_SCORES for c in cols) else []
    notes += [SSIM_NOTE] if any(c.startswith("ssim") for c in cols) else []
    return [line for note in notes for line in ("", note)]


def format_table(results: dict[str, dict[str, Any]], labels: dict[str, str], region: str = "fov") -> str:
    """Markdown table of ``{id: {metric: value}}`` (``value ± std`` where ``<metric>_std`` is given), with the
    region PSNR/SSIM/RMSE were scored in (``region``, :data:`~recon.evaluation.scores.REGIONS`) and the SSIM
    conventions named under it."""
    cols = [c for c in _EVALUATION_COLUMNS if any(c in r for r in results.values())]
    lines = ["| method | " + " | ".join(cols) + " | id |", "|---|" + "---|" * len(cols) + "---|"]
    for method_id, r in results.items():
        cells = []
        for c in cols:
            fmt = _EVALUATION_COLUMNS[c]
            if c not in r:
                cells.append("")
            elif f"{c}_std" in r:
                cells.append((fmt + " ± " + fmt).format(r[c], r[f"{c}_std"]))
            else:
                cells.append(fmt.format(r[c]))
        lines.append(f"| {labels[method_id]} | " + " | ".join(cells) + f" | `{method_id}` |")
    return "\n".join(lines + _notes(cols, region))


def _scan_table(scores: dict[str, dict[str, float]], labels: dict[str, str], region: str) -> list[str]:
    cols = [c for c in _SCAN_COLUMNS if any(c[0] in s for s in scores.values())]
    lines = ["| method | " + " | ".join(c[1] for c in cols) + " | id |", "|---|" + "---|" * len(cols) + "---|"]
    for method_id, s in scores.items():
        lines.append(f"| {labels[method_id]} | " + " | ".join(c[2].format(s[c[0]]) if c[0] in s else "" for c in cols)
                     + f" | `{method_id}` |")
    return lines + _notes([c[0] for c in cols], region)


def format_report(scores: dict[str, dict[str, float]], labels: dict[str, str], context: dict[str, Any],
                  title: str) -> str:
    """The ``report.md`` of one compared scan: what was used, where it was scored (``context["region_id"]``,
    default ``"fov"``), the table, the figures."""
    region = context.get("region_id", "fov")
    lines = [f"# {title}", "", f"Views used: {context['n_views_used']} of {context['n_views_full']}. "
             f"Reference: {context.get('reference', 'given file')}. "
             f"Segmentation: {context.get('segmentation', 'given file')}. PSNR/SSIM/RMSE {REGIONS[region]}; PSNR "
             "data range: max − min of the reference there.", "", *_scan_table(scores, labels, region)]
    if context.get("baselines_left_out"):
        lines += ["", f"Left out — the baselines tuned on a model's training data: {context['baselines_left_out']}."]
    lines += ["", "![comparison](comparison.png)", "", "![profile](profile.png)", ""]
    return "\n".join(lines)


def summarise_scans(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Over the compared scans: per method the mean of every score, the per-scan values, and in how many
    scans it has the best PSNR and the best SSIM among all methods; the region they were scored in (``region``:
    its words, ``region_id``: its id; that of the first result, default ``"fov"``)."""
    names = [r["scan"] for r in results]
    region = results[0].get("region_id", "fov") if results else "fov"
    if any(r.get("region_id", "fov") != region for r in results):
        raise ValueError("the scans were scored in different regions; summarise scans scored alike")
    methods: dict[str, Any] = {}
    for r in results:
        for method_id, s in r["scores"].items():
            entry = methods.setdefault(method_id, {"label": r["methods"][method_id]["label"], "per_scan": {}})
            entry["per_scan"][r["scan"]] = s
    for method_id, entry in methods.items():
        per = entry["per_scan"].values()
        keys = sorted({k for s in per for k in s})
        entry["mean"] = {k: float(np.mean([s[k] for s in per if k in s and math.isfinite(s[k])] or [math.nan]))
                         for k in keys}
        entry["n_scans"] = len(entry["per_scan"])
    for metric in ("psnr", "ssim"):
        for r in results:
            best = max(r["scores"], key=lambda m: r["scores"][m].get(metric, -math.inf))
            methods[best].setdefault(f"best_{metric}", 0)
            methods[best][f"best_{metric}"] += 1
    return {"region": REGIONS[region], "region_id": region, "scans": names, "methods": methods}


def format_summary(summary: dict[str, Any], title: str) -> str:
    """``summary.md``: the mean scores per method over the scans and how often each is best."""
    means = {m: e["mean"] for m, e in summary["methods"].items()}
    labels = {m: e["label"] for m, e in summary["methods"].items()}
    region = summary.get("region_id", "fov")
    lines = [f"# {title}", "", f"{len(summary['scans'])} scans: " + ", ".join(Path(s).name for s in summary["scans"]),
             "", "Mean over the scans:", "", *_scan_table(means, labels, region), "",
             "| method | best PSNR | best SSIM (Gaussian) | id |",
             "|---|---|---|---|"]
    for m, e in summary["methods"].items():
        lines.append(f"| {e['label']} | {e.get('best_psnr', 0)} of {e['n_scans']} | {e.get('best_ssim', 0)} of "
                     f"{e['n_scans']} | `{m}` |")
    best = f"Best: the highest PSNR / SSIM (Gaussian) of all methods on a scan, {REGIONS[region]}."
    return "\n".join(lines + ["", best, ""])


def evaluation_figure(outputs: dict[str, torch.Tensor], labels: dict[str, str], truth: torch.Tensor,
                      path: PathLike, region: str = "fov") -> Path:
    """The first test image of every method beside the ground truth, with difference images; the PSNR in each
    title is scored in ``region``."""
    plt = pyplot()
    names = list(outputs)
    truth = truth.detach().cpu().numpy()
    mask = region_mask(region, truth.shape)
    images = {k: v.detach().cpu().numpy() for k, v in outputs.items()}
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(3.2 * (len(names) + 1), 6.6), layout="constrained")
    vmin, vmax = float(truth[0].min()), float(truth[0].max())
    span = 0.1 * (vmax - vmin) or 1.0
    axes[0, 0].imshow(truth[0], cmap="gray", vmin=vmin, vmax=vmax)
    axes[0, 0].set_title("ground truth", fontsize=9)
    axes[1, 0].axis("off")
    for k, name in enumerate(names, start=1):
        img = images[name][0]
        axes[0, k].imshow(img, cmap="gray", vmin=vmin, vmax=vmax)
        score = psnr(img, truth[0], mask=mask)
        axes[0, k].set_title(f"{textwrap.fill(plain_text(labels[name]), 34)}\nPSNR {score:.2f} dB",
                             fontsize=8, parse_math=False)
        axes[1, k].imshow(img - truth[0], cmap="coolwarm", vmin=-span, vmax=span)
        axes[1, k].set_title("difference", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"PSNR {REGIONS[region]}", fontsize=9)
    return save_figure(fig, path)


def comparison_figures(out: Path, recs: dict[str, Reconstruction], reference: np.ndarray,
                       segmentation: np.ndarray, scores: dict[str, dict[str, float]], region: str = "fov") -> None:
    """``comparison.png`` (every method in one grey window with its difference from the reference, the PSNR and
    SSIM of ``scores``, scored in ``region``) and ``profile.png`` (the image row crossing the most edges of the
    segmentation)."""
    plt = pyplot()
    names = list(recs)
    vmin, vmax = display_window(reference)
    span = 0.25 * (vmax - vmin)
    # constrained layout sizes each row's titles (several lines above the first row) so that none is hidden
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(3.0 * (len(names) + 1), 6.6), layout="constrained")
    axes[0, 0].imshow(reference, cmap="gray", vmin=vmin, vmax=vmax)
    axes[0, 0].set_title("reference", fontsize=8)
    axes[1, 0].imshow(segmentation, cmap="gray")
    axes[1, 0].set_title("segmentation", fontsize=8)
    for k, name in enumerate(names, start=1):
        img = recs[name].image
        axes[0, k].imshow(img, cmap="gray", vmin=vmin, vmax=vmax)
        axes[0, k].set_title(textwrap.fill(plain_text(recs[name].method), 34) + f"\nPSNR {scores[name]['psnr']:.2f} "
                             f"dB, SSIM {scores[name]['ssim']:.3f}", fontsize=7, parse_math=False)
        axes[1, k].imshow(img - reference, cmap="coolwarm", vmin=-span, vmax=span)
        axes[1, k].set_title("− reference", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"PSNR, SSIM (Gaussian) {REGIONS[region]}", fontsize=8)
    save_figure(fig, out / "comparison.png")
    row = int(np.argmax(np.abs(np.diff(segmentation.astype(int), axis=1)).sum(axis=1)))
    fig, ax = plt.subplots(figsize=(8, 4))
    x = next(iter(recs.values())).geometry.pixel_coords
    ax.plot(x, reference[row], "k", lw=2, label="reference")
    for name in names:
        ax.plot(x, recs[name].image[row], lw=1, label=recs[name].method)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("μ (1/mm)")
    ax.set_title(f"profile along image row {row} (y = {x[::-1][row]:.1f} mm)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, out / "profile.png")
