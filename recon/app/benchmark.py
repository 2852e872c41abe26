"""``recon benchmark htc2022 DATA_DIR --model ARC=RUN ... --out OUT``: the HTC2022 limited-angle challenge scored
the official way (:mod:`recon.evaluation.htc2022`) for the given limited-angle models, the analytic baselines
tuned on their training data and, for the challenge's test set, the organisers' own limited-angle FBP
segmentations.

Writes ``OUT/benchmark.json`` (the record: :data:`SCHEMA`), ``OUT/benchmark.md`` (the per-level table, made
from the record alone by :func:`recon.evaluation.htc2022_report.format_benchmark`) and ``OUT/level_<k>.png``
(each method's segmentation of the level's first arc), as one set, never over an existing report without
``force``. The record holds what regenerates the table: the software versions, the command, the data folder and
phantoms, the start angles, the segmentation procedure, and per model its file's SHA-256, its training config
(with the seeds) and the checksum of its training data.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from .._version import __version__
from ..evaluation.htc2022 import LEVELS, SEGMENTATIONS, find_phantoms, score_level
from ..evaluation.htc2022_report import format_benchmark, level_figure, totals
from ..io.atomic import atomic_folder, check_writable
from ..models import KnownOperatorModel, load_model, training_summary

__all__ = ["benchmark_htc2022", "parse_models", "SCHEMA", "SCHEMA_ID"]

PathLike = Union[str, os.PathLike]
SCHEMA_ID = "urn:recon-ct:benchmark:htc2022:1"

_SCORE = {"type": "object", "required": ["label", "params", "score", "mean_mcc", "n", "per_scan"],
          "properties": {"label": {"type": "string"}, "params": {"type": "object"},
                         "score": {"type": "number", "minimum": -3, "maximum": 3},
                         "mean_mcc": {"type": "number", "minimum": -1, "maximum": 1},
                         "n": {"type": "integer", "minimum": 1},
                         "per_scan": {"type": "array", "items": {
                             "type": "object", "required": ["phantom", "start_deg", "mcc"],
                             "properties": {"phantom": {"type": "string"}, "start_deg": {"type": "number"},
                                            "mcc": {"type": "number", "minimum": -1, "maximum": 1}}}}}}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
    "title": "recon benchmark htc2022 record", "type": "object",
    "required": ["schema", "benchmark", "created", "command", "software", "data", "starts_deg", "segmentation",
                 "segmentation_procedure", "models", "levels", "totals"],
    "properties": {
        "schema": {"const": SCHEMA_ID}, "benchmark": {"const": "htc2022"}, "created": {"type": "string"},
        "command": {"type": "string"},
        "software": {"type": "object", "required": ["recon", "torch", "numpy", "python", "platform"]},
        "data": {"type": "object", "required": ["folder", "kind", "phantoms"],
                 "properties": {"kind": {"enum": ["challenge", "training"]},
                                "phantoms": {"type": "array", "items": {"type": "string"}}}},
        "starts_deg": {"type": "array", "items": {"type": "number"}},
        "segmentation": {"enum": sorted(SEGMENTATIONS)}, "segmentation_procedure": {"type": "string"},
        "models": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["path", "sha256", "class", "config", "seeds", "training_data"]}},
        "levels": {"type": "array", "items": {
            "type": "object", "required": ["level", "arc_deg", "n_views", "methods"],
            "properties": {"level": {"type": "integer", "minimum": 1, "maximum": 7},
                           "arc_deg": {"type": "number"}, "methods": {"additionalProperties": _SCORE}}}},
        "totals": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["total", "levels"]}},
    },
}
"""JSON Schema (draft 2020-12) of ``benchmark.json``."""


def parse_models(items: Sequence[str]) -> dict[int, Path]:
    """``["90=runs/limited_90", ...]`` → ``{90: Path(...)}``; the arc (degrees) must be a challenge level's."""
    models: dict[int, Path] = {}
    for item in items:
        arc, sep, path = str(item).partition("=")
        try:
            degrees = int(arc)
        except ValueError:
            degrees = None
        if degrees is None or not path:
            raise ValueError(f"--model takes ARC=RUN (ARC the arc in degrees, one of {sorted(LEVELS.values())}), "
                             f"got {item!r}")
        if degrees not in LEVELS.values():
            raise ValueError(f"--model {item}: {degrees}° is no HTC2022 level; the levels' arcs are "
                             f"{sorted(LEVELS.values(), reverse=True)}")
        if degrees in models:
            raise ValueError(f"--model: two models for the {degrees}° level")
        models[degrees] = Path(path)
    return models


def _model_arc(model: KnownOperatorModel) -> float:
    a = np.degrees(np.unwrap(np.sort(model.geometry.angles)))
    return float(a[-1] - a[0])


def _described(model: KnownOperatorModel, path: Path) -> dict[str, Any]:
    """What the record keeps of a model: its file, training config (seeds included) and training data."""
    file = path / "model.pt" if path.is_dir() else path
    summary = training_summary(model)
    return {"path": str(path), "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
            "class": type(model).__name__, "learned": model.learned_parts(),
            "config": getattr(model, "metadata", {}).get("config", ""),
            "seeds": {"training": summary["seed"]} if "seed" in summary else {},
            "training_data": {k: summary[k] for k in ("data", "n_train", "n_val", "target") if k in summary}}


def _load(models: Mapping[int, PathLike]) -> dict[int, KnownOperatorModel]:
    loaded = {}
    for arc, path in models.items():
        model = load_model(path)
        span = _model_arc(model)
        if abs(span - arc) > 1.0:
            raise ValueError(f"--model {arc}={path}: the model reconstructs a {span:.4g}° arc, not {arc}°")
        loaded[arc] = model.eval()
    return loaded


def benchmark_htc2022(data_dir: PathLike, out: PathLike, models: Mapping[int, PathLike] = (),
                      starts_deg: Sequence[float] = (0.0, 90.0, 180.0, 270.0), segmentation: str = "htc2022",
                      levels: Optional[Sequence[int]] = None, force: bool = False,
                      command: Optional[str] = None) -> dict[str, Any]:
    """Score every level (or ``levels``) on ``data_dir`` and write the report to ``out`` (see the module
    docstring); ``models`` maps an arc in degrees to a trained run or model file. Returns the record."""
    models = dict(models or {})
    if segmentation not in SEGMENTATIONS:
        raise ValueError(f"segmentation must be one of {sorted(SEGMENTATIONS)}, got {segmentation!r}")
    levels = sorted(levels or LEVELS)
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise ValueError(f"levels must be among 1…7, got {bad}")
    out = Path(out)
    for name in ("benchmark.json", "benchmark.md"):
        check_writable(out / name, force)
    phantoms = find_phantoms(data_dir)
    loaded = _load(models)
    starts = tuple(float(s) for s in starts_deg)
    files: dict = {}  # each phantom's scan and segmentation, read once for all levels
    scored = [score_level(lv, phantoms, loaded.get(LEVELS[lv]), starts, segmentation, files) for lv in levels]
    scored = [s for s in scored if s["methods"]]
    if not scored:
        raise ValueError(f"{data_dir}: no scan of the levels {levels}")
    record = {
        "schema": SCHEMA_ID, "benchmark": "htc2022", "created": datetime.now(timezone.utc).isoformat(),
        "command": command or "recon.app.benchmark.benchmark_htc2022(...)",
        "software": {"recon": __version__, "torch": torch.__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0], "platform": platform.platform()},
        "data": {"folder": str(data_dir), "kind": "challenge" if phantoms[0].level is not None else "training",
                 "phantoms": [p.name for p in phantoms]},
        "starts_deg": list(starts), "segmentation": segmentation,
        "segmentation_procedure": SEGMENTATIONS[segmentation],
        "models": {str(arc): _described(loaded[arc], Path(path)) for arc, path in sorted(models.items())},
        "levels": [{k: v for k, v in s.items() if k != "example"} for s in scored]}
    record["totals"] = totals(record["levels"])
    with atomic_folder(out, ["benchmark.md"], force) as stage:
        for s, level in zip(scored, record["levels"]):
            level_figure(level, s["example"], stage / f"level_{s['level']}.png")
        (stage / "benchmark.json").write_text(json.dumps(record, indent=2))
        (stage / "benchmark.md").write_text(format_benchmark(record))
    return record
