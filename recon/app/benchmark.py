"""``recon benchmark htc2022 DATA_DIR --model ARC=RUN ... --out OUT``: the HTC2022 limited-angle challenge scored
the official way (:mod:`recon.evaluation.htc2022`) for the given limited-angle models, the analytic baselines
tuned on their training data (TV among them) and, for the challenge's test set, the organisers' own
limited-angle FBP segmentations.

Models: ``--model ARC=RUN`` gives the level of that arc (degrees) its model — one trained for that arc, or a
model of many arcs whose range holds it; ``--model RUN`` (or ``all=RUN``) gives a model of many arcs
(:class:`recon.models.UnrolledNetwork` with ``arcs``) every level whose arc lies in its range, loaded once. The
record keys a model by its arc (``"90"``) or, given as ``RUN``, by its range (``"30-90"``); every level records
the key of the model that served it (``"model"``, ``null`` for none). A model of one arc without ``ARC=``, a
model for an arc outside its range and two models for one level are refused.

TV (id ``tv``): at every level with a model, λ tuned on that model's simulated training data cut to the
level's arc (cached beside the run); ``tv_lambda`` (``--tv-lambda``) uses one λ at every level instead (and
gives levels without a model a TV row), ``tv=False`` (``--no-tv``) drops the row. Every method's reconstruction
is timed: ``seconds``, the mean per level (the record's ``software.threads`` says on how many threads).

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
import math
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .._version import __version__
from ..analytic.tv import LAMBDAS
from ..evaluation.baselines import TV_SAMPLES
from ..evaluation.htc2022 import LEVELS, SEGMENTATIONS, find_phantoms, score_level
from ..evaluation.htc2022_report import format_benchmark, level_figure, totals
from ..io.atomic import atomic_folder, check_writable
from ..models import KnownOperatorModel, load_model, training_summary

__all__ = ["benchmark_htc2022", "parse_models", "assign_models", "SCHEMA", "SCHEMA_ID"]

PathLike = Union[str, os.PathLike]
ModelSpec = Tuple[Optional[int], Path]  # (the level's arc in degrees, or None: every level in the model's range)
SCHEMA_ID = "urn:recon-ct:benchmark:htc2022:1"

_SCORE = {"type": "object", "required": ["label", "params", "score", "mean_mcc", "n", "per_scan"],
          "properties": {"label": {"type": "string"}, "params": {"type": "object"},
                         "score": {"type": "number", "minimum": -3, "maximum": 3},
                         "mean_mcc": {"type": "number", "minimum": -1, "maximum": 1},
                         "n": {"type": "integer", "minimum": 1},
                         "seconds": {"type": "number", "minimum": 0},
                         "per_scan": {"type": "array", "items": {
                             "type": "object", "required": ["phantom", "start_deg", "mcc"],
                             "properties": {"phantom": {"type": "string"}, "start_deg": {"type": "number"},
                                            "mcc": {"type": "number", "minimum": -1, "maximum": 1},
                                            "seconds": {"type": "number", "minimum": 0}}}}}}
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
        "tv": {"type": ["object", "null"], "required": ["lambda", "tuned"],
               "properties": {"lambda": {"type": ["number", "null"], "minimum": 0}, "tuned": {"type": "boolean"},
                              "samples": {"type": "integer"}, "lambdas": {"type": "array"}}},
        "models": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["path", "sha256", "class", "config", "seeds", "training_data"],
            "properties": {"arcs": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                           "serves_deg": {"type": "array", "items": {"type": "integer"}}}}},
        "levels": {"type": "array", "items": {
            "type": "object", "required": ["level", "arc_deg", "n_views", "methods"],
            "properties": {"level": {"type": "integer", "minimum": 1, "maximum": 7},
                           "arc_deg": {"type": "number"}, "model": {"type": ["string", "null"]},
                           "methods": {"additionalProperties": _SCORE}}}},
        "totals": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["total", "levels"]}},
    },
}
"""JSON Schema (draft 2020-12) of ``benchmark.json``."""


def parse_models(items: Sequence[str]) -> list[ModelSpec]:
    """``--model`` values → ``[(arc or None, path)]``: ``ARC=RUN`` (a model for the level of that arc, in degrees)
    or ``RUN`` / ``all=RUN`` (``None``: a model of many arcs, for every level in its range — checked once the model
    is loaded, :func:`assign_models`)."""
    models: list[ModelSpec] = []
    for item in items:
        arc, sep, path = str(item).partition("=")
        if not sep:
            arc, path = "all", arc
        word = arc.strip().lower()
        if not path or not (word == "all" or word.isdigit()):
            raise ValueError(f"--model takes ARC=RUN (ARC the arc in degrees, one of {sorted(LEVELS.values())}) or "
                             f"RUN (a model of many arcs, for every level in its range), got {item!r}")
        degrees = None if word == "all" else int(word)
        if degrees is not None and degrees not in LEVELS.values():
            raise ValueError(f"--model {item}: {degrees}° is no HTC2022 level; the levels' arcs are "
                             f"{sorted(LEVELS.values(), reverse=True)}")
        if degrees is not None and any(degrees == d for d, _ in models):
            raise ValueError(f"--model: two models for the {degrees}° level")
        models.append((degrees, Path(path)))
    return models


def _model_arc(model: KnownOperatorModel) -> float:
    a = np.degrees(np.unwrap(np.sort(model.geometry.angles)))
    return float(a[-1] - a[0])


def _arc_range(model: KnownOperatorModel) -> Optional[tuple[float, float, float]]:
    """``(shortest, longest, tolerance)`` in degrees of a model of many arcs (tolerance: half its view step, as
    :meth:`recon.models.UnrolledNetwork.check_geometry` allows), ``None`` for a model of one arc."""
    arcs = getattr(model, "arcs", None)
    if arcs is None:
        return None
    return float(arcs[0]), float(arcs[1]), 0.5 * math.degrees(model.step) + 1e-6


def _described(model: KnownOperatorModel, path: Path, serves: Sequence[int]) -> dict[str, Any]:
    """What the record keeps of a model: its file, training config (seeds included), training data, its arc
    range (a model of many arcs) and the arcs it serves."""
    file = path / "model.pt" if path.is_dir() else path
    summary = training_summary(model)
    span = _arc_range(model)
    return {"path": str(path), "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
            "class": type(model).__name__, "learned": model.learned_parts(),
            "config": getattr(model, "metadata", {}).get("config", ""),
            "seeds": {"training": summary["seed"]} if "seed" in summary else {},
            "training_data": {k: summary[k] for k in ("data", "n_train", "n_val", "target") if k in summary},
            **({"arcs": [span[0], span[1]]} if span else {}), "serves_deg": sorted(serves, reverse=True)}


def _normalised(models: Union[Mapping[Any, PathLike], Sequence[ModelSpec], None]) -> list[ModelSpec]:
    """``{arc: path}`` (``"all"`` for a model of many arcs), or :func:`parse_models`' list, as that list."""
    if not models:
        return []
    pairs = models.items() if isinstance(models, Mapping) else models
    return [(None if arc in (None, "all") else int(arc), Path(path)) for arc, path in pairs]


def assign_models(models: Sequence[ModelSpec]) -> tuple[dict[str, tuple[KnownOperatorModel, Path]], dict[int, str]]:
    """Load the models (each file once per ``--model``) and give every level its model: ``({key: (model, path)},
    {arc: key})``. Key: the arc (``"90"``) for ``ARC=RUN``, ``"<shortest>-<longest>"`` (``"30-90"``) for a model
    of many arcs given as ``RUN``, which serves every level whose arc lies in its range. Refused: a model of one
    arc given without ``ARC=`` or for another arc, a model of many arcs for an arc outside its range, two models
    for one level."""
    loaded: dict[str, tuple[KnownOperatorModel, Path]] = {}
    served: dict[int, str] = {}
    for arc, path in models:
        model = load_model(path).eval()
        span = _arc_range(model)
        if arc is None and span is None:
            one = _model_arc(model)
            raise ValueError(f"--model {path}: a model of one arc ({one:.4g}°) serves one level: give it as "
                             f"{round(one)}={path}")
        if arc is None:
            arcs, key = [a for a in LEVELS.values() if span[0] - span[2] <= a <= span[1] + span[2]], \
                f"{span[0]:g}-{span[1]:g}"
            if not arcs:
                raise ValueError(f"--model {path}: it reconstructs arcs of {span[0]:g}°–{span[1]:g}°, no HTC2022 "
                                 f"level's ({sorted(LEVELS.values(), reverse=True)})")
        else:
            arcs, key = [arc], str(arc)
            if span is not None and not span[0] - span[2] <= arc <= span[1] + span[2]:
                raise ValueError(f"--model {arc}={path}: the model reconstructs arcs of {span[0]:g}°–{span[1]:g}°, "
                                 f"not {arc}°")
            if span is None and abs(_model_arc(model) - arc) > 1.0:
                raise ValueError(f"--model {arc}={path}: the model reconstructs a {_model_arc(model):.4g}° arc, "
                                 f"not {arc}°")
        for a in arcs:
            if a in served:
                raise ValueError(f"--model: two models for the {a}° level ({loaded[served[a]][1]} and {path})")
            served[a] = key
        loaded[key] = (model, path)
    return loaded, served


def benchmark_htc2022(data_dir: PathLike, out: PathLike,
                      models: Union[Mapping[Any, PathLike], Sequence[ModelSpec], None] = None,
                      starts_deg: Sequence[float] = (0.0, 90.0, 180.0, 270.0), segmentation: str = "htc2022",
                      levels: Optional[Sequence[int]] = None, force: bool = False, command: Optional[str] = None,
                      tv: bool = True, tv_lambda: Optional[float] = None) -> dict[str, Any]:
    """Score every level (or ``levels``) on ``data_dir`` and write the report to ``out`` (see the module
    docstring). ``models``: ``{arc in degrees: run or model file}`` — or ``{"all": run}`` for a model of many arcs,
    serving every level in its range — or :func:`parse_models`' list (several models of many arcs); see
    :func:`assign_models`. ``tv``: a TV row at every level, λ tuned on the level's model's training data, or
    ``tv_lambda`` at every level (the only TV row of a level without a model). Returns the record."""
    specs = _normalised(models)
    if segmentation not in SEGMENTATIONS:
        raise ValueError(f"segmentation must be one of {sorted(SEGMENTATIONS)}, got {segmentation!r}")
    if tv_lambda is not None and not (math.isfinite(tv_lambda) and tv_lambda >= 0):
        raise ValueError(f"the TV λ must be a number ≥ 0, got {tv_lambda!r}")
    levels = sorted(levels or LEVELS)
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise ValueError(f"levels must be among 1…7, got {bad}")
    out = Path(out)
    for name in ("benchmark.json", "benchmark.md"):
        check_writable(out / name, force)
    phantoms = find_phantoms(data_dir)
    loaded, served = assign_models(specs)
    starts = tuple(float(s) for s in starts_deg)
    tv_setting = None if not tv else ("tune" if tv_lambda is None else float(tv_lambda))
    files: dict = {}  # each phantom's scan and segmentation, read once for all levels
    scored = []
    for lv in levels:
        key = served.get(LEVELS[lv])
        s = score_level(lv, phantoms, loaded[key][0] if key else None, starts, segmentation, files, tv_setting)
        if s["methods"]:
            scored.append({**s, "model": key})
    if not scored:
        raise ValueError(f"{data_dir}: no scan of the levels {levels}")
    record = _record(data_dir, phantoms, starts, segmentation, command, tv_setting)
    record["models"] = {key: _described(model, Path(path), [a for a, k in served.items() if k == key])
                        for key, (model, path) in loaded.items()}
    record["levels"] = [{k: v for k, v in s.items() if k != "example"} for s in scored]
    record["totals"] = totals(record["levels"])
    with atomic_folder(out, ["benchmark.md"], force) as stage:
        for s, level in zip(scored, record["levels"]):
            level_figure(level, s["example"], stage / f"level_{s['level']}.png")
        (stage / "benchmark.json").write_text(json.dumps(record, indent=2))
        (stage / "benchmark.md").write_text(format_benchmark(record))
    return record


def _record(data_dir: PathLike, phantoms: list, starts: tuple[float, ...], segmentation: str,
            command: Optional[str], tv_setting: Any) -> dict[str, Any]:
    """The record's head: what the scores depend on besides the models and the levels."""
    return {
        "schema": SCHEMA_ID, "benchmark": "htc2022", "created": datetime.now(timezone.utc).isoformat(),
        "command": command or "recon.app.benchmark.benchmark_htc2022(...)",
        "software": {"recon": __version__, "torch": torch.__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0], "platform": platform.platform(),
                     "threads": torch.get_num_threads()},
        "data": {"folder": str(data_dir), "kind": "challenge" if phantoms[0].level is not None else "training",
                 "phantoms": [p.name for p in phantoms]},
        "starts_deg": list(starts), "segmentation": segmentation,
        "segmentation_procedure": SEGMENTATIONS[segmentation],
        "tv": None if tv_setting is None else {
            "lambda": None if tv_setting == "tune" else tv_setting,
            "tuned": tv_setting == "tune",
            **({"samples": TV_SAMPLES, "lambdas": list(LAMBDAS)} if tv_setting == "tune" else {})}}
