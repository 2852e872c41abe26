"""The report of ``recon benchmark htc2022``: the per-level table (markdown, from the JSON record alone, so a table
can be regenerated from ``benchmark.json``) and one figure per level (PNG)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..io.outputs import plain_text, pyplot, save_figure
from .htc2022 import ORGANISERS_ID
from .methods import BASELINES

__all__ = ["row_label", "method_ids", "totals", "format_benchmark", "level_figure"]

PathLike = Union[str, os.PathLike]


def row_label(method_id: str) -> str:
    """The table row of a method id, the same at every level (the tuned parameters differ per level)."""
    if method_id == ORGANISERS_ID:
        return "organisers' limited-angle FBP segmentation"
    if method_id.startswith("model_"):
        return "learned model (one per arc)"
    base, clipped = method_id.removesuffix("_clipped"), method_id.endswith("_clipped")
    name = BASELINES[base].name if base in BASELINES else base
    tuned = " tuned on training data" if base != "fbp_ram_lak" else ""
    return f"{name}{tuned}{', clipped at 0' if clipped else ''}"


def method_ids(levels: list[dict[str, Any]]) -> list[str]:
    """Every method id of the record's levels, in first-seen order (baselines, then models, then the
    organisers' row)."""
    ids: list[str] = []
    for level in levels:
        ids += [i for i in level["methods"] if i not in ids]
    return sorted(ids, key=lambda i: (i == ORGANISERS_ID, i.startswith("model_")))


def totals(levels: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method: the sum of its level scores and how many levels it was scored on (a total over fewer than
    all levels is not comparable with one over all seven)."""
    out = {}
    for i in method_ids(levels):
        scored = [lv["methods"][i]["score"] for lv in levels if i in lv["methods"]]
        out[i] = {"total": float(np.sum(scored)), "levels": len(scored)}
    return out


def format_benchmark(record: dict[str, Any]) -> str:
    """``benchmark.md`` from a ``benchmark.json`` record."""
    levels = record["levels"]
    ids = method_ids(levels)
    sums = record["totals"]
    head = " | ".join(f"L{lv['level']} {lv['arc_deg']}°" for lv in levels)
    lines = [f"# HTC2022 limited-angle benchmark on {record['data']['kind']} data", "",
             f"Data: `{record['data']['folder']}` — {', '.join(record['data']['phantoms'])}"
             + (f"; arcs cut at {', '.join(f'{s:g}°' for s in record['starts_deg'])}"
                if record['data']['kind'] == "training" else "") + ".",
             f"Segmentation: `{record['segmentation']}` — {record['segmentation_procedure']}.",
             "Score per level: Matthews correlation of the segmentation with the organisers' segmentation of the "
             "full-data FBP, three times the mean over the level's reconstructions (the challenge's sum over its "
             "three phantoms; at most 3). Total: the sum over the levels scored (at most 3 per level).", "",
             f"| method | {head} | total | id |", "|---|" + "---|" * (len(levels) + 2)]
    for i in ids:
        cells = [f"{lv['methods'][i]['score']:.3f}" if i in lv["methods"] else "—" for lv in levels]
        total = sums[i]
        note = "" if total["levels"] == len(levels) else f" ({total['levels']} levels)"
        lines.append(f"| {row_label(i)} | " + " | ".join(cells) + f" | {total['total']:.3f}{note} | `{i}` |")
    lines += ["", "Reconstructions per level: " + ", ".join(
        f"L{lv['level']} {next(iter(lv['methods'].values()))['n'] if lv['methods'] else 0}" for lv in levels) + ".",
        "", "Models: " + ("; ".join(f"{arc}° `{m['path']}`" for arc, m in record["models"].items()) or "none") + ".",
        "", f"recon {record['software']['recon']}, torch {record['software']['torch']}; regenerate with "
            f"`{record['command']}`.", ""]
    lines += [f"![level {lv['level']}](level_{lv['level']}.png)" for lv in levels]
    return "\n".join(lines + [""])


def level_figure(level: dict[str, Any], example: dict[str, Any], path: PathLike) -> Path:
    """Each method's segmentation of the level's example arc (:func:`recon.evaluation.htc2022.score_level`),
    with its MCC, and the ground truth last."""
    plt = pyplot()
    segs = example["segmentations"]
    names = [i for i in method_ids([level]) if i in segs]
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(2.4 * (len(names) + 1), 3.0), squeeze=False)
    panels = [(segs[i], f"{row_label(i)}: MCC {example['mcc'][i]:.3f}") for i in names]
    for ax, (image, title) in zip(axes[0], panels + [(example["truth"], "ground truth")]):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(plain_text(textwrap.fill(title, 30)), fontsize=7, parse_math=False)
        ax.axis("off")
    fig.suptitle(plain_text(f"level {level['level']} ({level['arc_deg']}°): {example['phantom']}, arc from "
                            f"{example['start_deg']:g}°"), fontsize=9, parse_math=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return save_figure(fig, path)
