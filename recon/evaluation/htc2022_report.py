"""The report of ``recon benchmark htc2022``: the per-level table (markdown, from the JSON record alone, so a table
can be regenerated from ``benchmark.json``) and one figure per level (PNG)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ..io.outputs import plain_text, pyplot, save_figure
from .htc2022 import ORGANISERS_ID, TV_ID
from .methods import BASELINES

__all__ = ["row_label", "row_labels", "method_ids", "totals", "format_benchmark", "level_figure"]

PathLike = Union[str, os.PathLike]


def row_label(method_id: str, how: Optional[str] = None) -> str:
    """The table row of a method id, the same at every level (the tuned parameters differ per level); ``how``:
    what the row says of the models (``"one per arc"``) or of TV's λ (``"tuned on training data"``)."""
    if method_id == ORGANISERS_ID:
        return "organisers' limited-angle FBP segmentation"
    if method_id.startswith("model_"):
        return f"learned model ({how or 'one per arc'})"
    if method_id == TV_ID:
        return f"{BASELINES[TV_ID].name}, λ {how or 'tuned on training data'}"
    base, clipped = method_id.removesuffix("_clipped"), method_id.endswith("_clipped")
    name = BASELINES[base].name if base in BASELINES else base
    tuned = " tuned on training data" if base != "fbp_ram_lak" else ""
    return f"{name}{tuned}{', clipped at 0' if clipped else ''}"


def row_labels(record: dict[str, Any]) -> dict[str, str]:
    """:func:`row_label` of every method of a record: the models' row says whether one model served each arc or
    one model of many arcs served several (its range), TV's row how λ was found."""
    levels = record["levels"]
    labels = {i: row_label(i) for i in method_ids(levels)}
    keys = sorted({lv.get("model") for lv in levels if lv.get("model")}, key=str)
    if keys and any(not k.isdigit() for k in keys):
        ranges = [k for k in keys if not k.isdigit()]
        names = sorted({record["models"][k]["class"] for k in ranges if k in record["models"]})
        served = ("one per arc and " if len(ranges) < len(keys) else "") + "one model of " + " and ".join(
            _arcs(k) for k in ranges) + " arcs"
        labels.update({i: row_label(i, ", ".join(names + [served])) for i in labels if i.startswith("model_")})
    tv = [lv["methods"][TV_ID]["params"].get("tuned") for lv in levels if TV_ID in lv["methods"]]
    if tv:
        labels[TV_ID] = row_label(TV_ID, "given" if tv[0] == "with λ given" else tv[0])
    return labels


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
    labels = row_labels(record)
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
        lines.append(f"| {labels[i]} | " + " | ".join(cells) + f" | {total['total']:.3f}{note} | `{i}` |")
    lines += ["", "Reconstructions per level: " + ", ".join(
        f"L{lv['level']} {next(iter(lv['methods'].values()))['n'] if lv['methods'] else 0}" for lv in levels) + ".",
        "", "Models: " + ("; ".join(f"{_arcs(key)} `{m['path']}`" + _serves(m, key)
                                    for key, m in record["models"].items()) or "none") + "."]
    lines += _tv_note(levels) + _seconds_table(record, ids, labels)
    lines += ["", f"recon {record['software']['recon']}, torch {record['software']['torch']}; regenerate with "
            f"`{record['command']}`.", ""]
    lines += [f"![level {lv['level']}](level_{lv['level']}.png)" for lv in levels]
    return "\n".join(lines + [""])


def _arcs(key: str) -> str:
    """A model key of the record as degrees: ``"90"`` → ``90°``, ``"30-90"`` → ``30°–90°``."""
    return key.replace("-", "°–") + "°"


def _panel_title(level: dict[str, Any], method_id: str) -> str:
    if method_id == TV_ID:
        return f"{BASELINES[TV_ID].name}, λ {level['methods'][TV_ID]['params']['lam']:g}"
    key = level.get("model")
    if method_id.startswith("model_") and key and not key.isdigit():
        return f"learned model ({_arcs(key)})"
    return row_label(method_id)


def _serves(model: dict[str, Any], key: str) -> str:
    served = model.get("serves_deg") or []
    return f" (serves {', '.join(f'{a}°' for a in served)})" if not key.isdigit() and served else ""


def _tv_note(levels: list[dict[str, Any]]) -> list[str]:
    """A line with TV's λ per level and how it was found."""
    tv = [(lv, lv["methods"][TV_ID]["params"]) for lv in levels if TV_ID in lv["methods"]]
    if not tv:
        return []
    per = ", ".join(f"L{lv['level']} {p['lam']:g}" for lv, p in tv)
    first = tv[0][1]
    if first.get("tuned") == "tuned on training data":
        how = (f"tuned per level (MSE against the training target, {first.get('samples', '?')} simulated training "
               f"scans of the level's model cut to its arc from 0°)")
    else:
        how = "given (`--tv-lambda`)"
    return ["", f"TV (`tv`, {first['n_iter']} Chambolle–Pock iterations): λ {how} — {per}."]


def _seconds_table(record: dict[str, Any], ids: list[str], labels: dict[str, str]) -> list[str]:
    """Seconds per reconstruction per method and level (absent from records without timings)."""
    levels = record["levels"]
    if not any("seconds" in e for lv in levels for e in lv["methods"].values()):
        return []
    threads = record["software"].get("threads")
    lines = ["", "Seconds per reconstruction (wall clock, mean over the level's arcs"
             + (f", {threads} threads" if threads else "") + "; the model's includes applying it to the scan):", "",
             "| method | " + " | ".join(f"L{lv['level']} {lv['arc_deg']}°" for lv in levels) + " |",
             "|---|" + "---|" * len(levels)]
    for i in ids:
        if not any("seconds" in lv["methods"].get(i, {}) for lv in levels):
            continue
        cells = [_seconds(lv["methods"][i]["seconds"]) if "seconds" in lv["methods"].get(i, {}) else "—"
                 for lv in levels]
        lines.append(f"| {labels[i]} | " + " | ".join(cells) + " |")
    return lines


def _seconds(value: float) -> str:
    return f"{value:.3g}"


def level_figure(level: dict[str, Any], example: dict[str, Any], path: PathLike) -> Path:
    """Each method's segmentation of the level's example arc (:func:`recon.evaluation.htc2022.score_level`),
    with its MCC, and the ground truth last."""
    plt = pyplot()
    segs = example["segmentations"]
    names = [i for i in method_ids([level]) if i in segs]
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(2.4 * (len(names) + 1), 3.0), squeeze=False)
    panels = [(segs[i], f"{_panel_title(level, i)}: MCC {example['mcc'][i]:.3f}") for i in names]
    for ax, (image, title) in zip(axes[0], panels + [(example["truth"], "ground truth")]):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(plain_text(textwrap.fill(title, 30)), fontsize=7, parse_math=False)
        ax.axis("off")
    fig.suptitle(plain_text(f"level {level['level']} ({level['arc_deg']}°): {example['phantom']}, arc from "
                            f"{example['start_deg']:g}°"), fontsize=9, parse_math=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return save_figure(fig, path)
