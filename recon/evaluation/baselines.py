"""Tuned baselines of a trained model, computed once per run: a tuned baseline depends on the model and its
training data, not on the scan it is compared on.

* :func:`training_baselines` — FBP and view-interpolated FBP tuned on (a part of) the run's simulated
  training data against the target the model was trained for, and the limited-angle recipes its training
  tuned (``init = "tuned"``);
* :func:`conversion_windows` — the parallel-FBP windows after interpolation rebinning and after a conversion
  network, tuned on the network's training data.

Both are cached beside the run (``tuned_baselines.json`` next to ``model.pt``), keyed by the model file's
checksum, the training file's checksum and what was searched, so ``recon compare`` on
many scans tunes once; a stale, unreadable or edited cache (each entry carries its checksum) is recomputed, an
unwritable folder just not cached. The training file is found by :mod:`recon.evaluation.training_data` (as
recorded if its checksum matches, else by checksum nearby); a missing one is named in a warning and in the
report, and the baselines tuned on it are left out.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from .._version import __version__
from ..analytic.arcs import arc_view_indices
from ..analytic.filters import WINDOWS
from ..analytic.rebinning import Rebinning
from ..analytic.recipe import CUTOFFS, FBPRecipe, TunedRecipe, tune_recipe
from ..analytic.tv import LAMBDAS, TV_ITERATIONS, TunedTV
from ..geometry import view_indices
from ..io.atomic import atomic_output
from ..io.checksums import file_sha256
from ..models import GeometryConversion, KnownOperatorModel, training_summary
from ..simulation.dataset import SimulatedDataset, load_samples, read_dataset
from .methods import tune_baselines
from .training_data import find_training_file

__all__ = ["training_baselines", "arc_training_baselines", "tv_training_baseline", "tv_arc_baseline",
           "conversion_windows", "stored_arc_recipes", "conversions", "convert_both", "CACHE_NAME"]

CACHE_NAME = "tuned_baselines.json"
CACHE_ENTRIES = 32  # entries a cache keeps (a model of many arcs has one per arc and baseline kind)
TUNING_SAMPLES = 16  # training samples the baselines are tuned on
TV_SAMPLES = 4  # training samples TV's λ is tuned on (each λ costs TV_ITERATIONS projections and backprojections)


def conversions(model: GeometryConversion) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The two ways to convert source sinograms ``[n, V_s, D_s]`` (in ``model.geometry``) to the model's output
    geometry: interpolation rebinning (``"rebin_fbp"``) and the network (``"model"``, input cast to its dtype)."""
    rebinning = Rebinning(model.geometry, model.output_geometry)
    dtype = model.dtype
    return {"rebin_fbp": rebinning, "model": lambda sinograms: model(sinograms.to(dtype))}


def convert_both(model: GeometryConversion, sinograms: torch.Tensor, batch: int = 16) -> dict[str, torch.Tensor]:
    """Source sinograms ``[n, V_s, D_s]`` (in ``model.geometry``) converted to the model's output geometry by
    interpolation rebinning (``"rebin_fbp"``) and by the network (``"model"``), ``[n, V_t, D_t]`` each."""
    model.eval()
    with torch.no_grad():
        return {name: torch.cat([convert(sinograms[i:i + batch]) for i in range(0, len(sinograms), batch)])
                for name, convert in conversions(model).items()}


def stored_arc_recipes(models: Sequence[KnownOperatorModel]) -> dict[str, TunedRecipe]:
    """The limited-angle recipes the models' training tuned (``init = "tuned"``) by baseline id — plain:
    ``limited_angle_fbp``, views completed: ``view_completion_fbp`` — the first model's where several have one."""
    found: dict[str, TunedRecipe] = {}
    for d in (training_summary(m).get("limited_angle_baseline") for m in models):
        if d:
            tuned = _tuned_from_dict(d)
            found.setdefault("view_completion_fbp" if tuned.recipe.complete_views else "limited_angle_fbp", tuned)
    return found


def _entry_sha256(key: Any, baselines: Any) -> str:
    """The checksum of a cache entry (its key and tuned values, canonical JSON): an edited entry is not used."""
    return hashlib.sha256(json.dumps([key, baselines], sort_keys=True).encode()).hexdigest()


def _cached(model: KnownOperatorModel, what: dict[str, Any], compute: Callable[[], dict[str, Any]],
            decode: Optional[Callable[[dict[str, Any]], Any]] = None) -> dict[str, Any]:
    """``compute()`` (``{id: TunedRecipe or TunedTV}``), or its result stored beside the model's run for the same
    model file, data and search; ``decode`` reads a stored entry back (default: a :class:`TunedRecipe`)."""
    decode = decode or _tuned_from_dict
    path = getattr(model, "path", None)
    data = find_training_file(model)
    if path is None or data is None:
        return compute()
    key = {**what, "model_sha256": file_sha256(path), "data_sha256": file_sha256(data), "windows": list(WINDOWS),
           "cutoffs": list(CUTOFFS), "samples": TUNING_SAMPLES, "recon_version": __version__}
    cache = Path(path).parent / CACHE_NAME
    entries: dict[str, Any] = {}
    try:
        entries = json.loads(cache.read_text())
        for entry in entries.get("entries", []):
            if entry.get("key") == key:
                if entry.get("sha256") == _entry_sha256(key, entry["baselines"]):
                    return {i: decode(d) for i, d in entry["baselines"].items()}
                warnings.warn(f"{cache}: an entry was changed after it was written; its baselines are tuned again")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # unreadable or malformed: tuned again
        entries = {}
    tuned = compute()
    kept = [e for e in entries.get("entries", []) if isinstance(e, dict) and e.get("key") != key]
    kept = kept[-(CACHE_ENTRIES - 1):]
    stored = json.loads(json.dumps({i: t.to_dict() for i, t in tuned.items()}))  # as it will read back
    try:
        with atomic_output(cache, force=True) as tmp:
            tmp.write_text(json.dumps({"entries": kept + [{"key": key, "baselines": stored,
                                                           "sha256": _entry_sha256(key, stored)}]}, indent=1))
    except OSError:
        pass
    return tuned


def _tuned_from_dict(d: dict[str, Any]) -> TunedRecipe:
    return TunedRecipe(FBPRecipe.from_dict(d), float(d.get("mse", float("nan"))))


def _training_samples(model: KnownOperatorModel, data: Path):
    views = view_indices(SimulatedDataset(data, keys=("sinograms",)).geometry, model.geometry)
    return load_samples(data, training_summary(model).get("target", "images"), views, max_samples=TUNING_SAMPLES)


def _arc_samples(model: KnownOperatorModel, data: Path, arc_deg: float, n: int):
    """``(samples, geometry)``: up to ``n`` samples of the training file's full scans cut to the arc of
    ``arc_deg`` degrees from 0° (a model of many arcs, :class:`recon.models.UnrolledNetwork` with ``arcs``, was
    trained on every arc of its range) against the model's training target, and their geometry: the cut arc of
    the file's geometry (angles unwrapped along the arc) on the file's image grid, where the targets are."""
    full = SimulatedDataset(data, keys=("sinograms",)).geometry
    idx = arc_view_indices(full, math.radians(arc_deg), 0.0)
    samples = load_samples(data, training_summary(model).get("target", "images"), idx, max_samples=n)
    return samples, samples.geometry.replace(angles=np.unwrap(full.angles[idx]))


def arc_training_baselines(model: KnownOperatorModel, ids: Sequence[str], arc_deg: Optional[float] = None
                           ) -> dict[str, TunedRecipe]:
    """The arc baselines of ``ids`` among ``limited_angle_fbp`` and ``view_completion_fbp`` tuned on up to
    :data:`TUNING_SAMPLES` samples of a limited-angle model's simulated training data (cached beside the run like
    :func:`training_baselines`); empty if the run recorded no readable file. ``recon compare`` uses the recipes
    the training tuned instead (:func:`stored_arc_recipes`); ``recon benchmark`` needs both kinds for every
    model, whichever one its training tuned. ``arc_deg``: tune on the training scans cut to that arc from 0°
    instead of the model's own views (a model of many arcs, for each arc it serves)."""
    ids = [i for i in ids if i in ("limited_angle_fbp", "view_completion_fbp")]
    data = find_training_file(model)
    if model.output_kind != "image" or data is None or not ids:
        return {}

    def compute() -> dict[str, TunedRecipe]:
        if arc_deg is None:
            samples, geometry = _training_samples(model, data), model.geometry
        else:
            samples, geometry = _arc_samples(model, data, arc_deg, TUNING_SAMPLES)
        return tune_baselines(ids, samples.inputs, samples.targets, geometry, [model])

    what = {"what": "arc baselines", "ids": ids, **({} if arc_deg is None else {"arc_deg": float(arc_deg)})}
    try:
        return _cached(model, what, compute)
    except (ValueError, OSError):
        return {}


def tv_training_baseline(model: KnownOperatorModel, n_samples: int = TV_SAMPLES) -> Optional[TunedTV]:
    """TV with λ tuned (:data:`recon.analytic.tv.LAMBDAS`, :data:`~recon.analytic.tv.TV_ITERATIONS` iterations,
    float32) on ``n_samples`` samples of an image model's simulated training data against its target, cached
    beside the run; ``None`` if the run recorded no readable file (or for conversion networks)."""
    data = find_training_file(model)
    if model.output_kind != "image" or data is None:
        return None

    def compute() -> dict[str, TunedTV]:
        samples = _training_samples(model, data)
        x, y = samples.inputs[:n_samples].float(), samples.targets[:n_samples].float()
        return {"tv": TunedTV.tune(x, y, model.geometry)}

    try:
        return _cached(model, {"what": "tv", "samples": n_samples, "lambdas": list(LAMBDAS),
                               "n_iter": TV_ITERATIONS}, compute, TunedTV.from_dict)["tv"]
    except (ValueError, OSError):
        return None


def tv_arc_baseline(model: KnownOperatorModel, arc_deg: float, n_samples: int = TV_SAMPLES) -> Optional[TunedTV]:
    """TV with λ tuned for arcs of ``arc_deg`` degrees: :data:`~recon.analytic.tv.LAMBDAS`,
    :data:`~recon.analytic.tv.TV_ITERATIONS` iterations, float32, on ``n_samples`` of the model's simulated
    training scans cut to the arc from 0° (TV is equivariant under rotation: λ serves every start) against its
    training target, in the training data's geometry; cached beside the run per arc. ``None`` if the run
    recorded no readable file (or for conversion networks)."""
    data = find_training_file(model)
    if model.output_kind != "image" or data is None:
        return None

    def compute() -> dict[str, TunedTV]:
        samples, geometry = _arc_samples(model, data, arc_deg, n_samples)
        x, y = samples.inputs.float(), samples.targets.float()
        return {"tv": TunedTV.tune(x, y, geometry, LAMBDAS, TV_ITERATIONS)}

    try:
        return _cached(model, {"what": "tv arc", "arc_deg": float(arc_deg), "start_deg": 0.0, "tv_samples": n_samples,
                               "lambdas": list(LAMBDAS), "n_iter": TV_ITERATIONS}, compute, TunedTV.from_dict)["tv"]
    except (ValueError, OSError):
        return None


def training_baselines(model: KnownOperatorModel, ids: Sequence[str], models: Sequence[KnownOperatorModel] = ()
                       ) -> Optional[dict[str, TunedRecipe]]:
    """The baselines of ``ids`` among ``fbp_tuned`` and ``fbp_view_interpolated`` tuned on up to
    :data:`TUNING_SAMPLES` samples of an image model's simulated training data (against the target it was
    trained on; view-interpolation factors from ``models``), if the run recorded a file that is still readable;
    ``None`` otherwise (and for conversion networks)."""
    ids = [i for i in ids if i in ("fbp_tuned", "fbp_view_interpolated")]
    data = find_training_file(model)
    if model.output_kind != "image" or data is None or not ids:
        return None
    models = list(models) or [model]
    factors = sorted({int(m.factor) for m in models if getattr(m, "factor", None) is not None})

    def compute() -> dict[str, TunedRecipe]:
        samples = _training_samples(model, data)
        return tune_baselines(ids, samples.inputs, samples.targets, model.geometry, models)

    try:
        return _cached(model, {"what": "image baselines", "ids": ids, "factors": factors}, compute)
    except (ValueError, OSError):
        return None


def conversion_windows(model: GeometryConversion) -> Optional[dict[str, TunedRecipe]]:
    """Windows of the parallel FBP after interpolation rebinning (``"rebin_fbp"``) and after the conversion
    network (``"model"``), each tuned on up to :data:`TUNING_SAMPLES` samples of the network's simulated
    training data against their phantoms, if the run recorded a file that is still readable; else ``None``."""
    data = find_training_file(model)
    if data is None:
        return None

    def compute() -> dict[str, TunedRecipe]:
        samples = load_samples(data, "target_sinograms", None, max_samples=TUNING_SAMPLES)
        truth = read_dataset(data, "images", samples.inputs.shape[0])
        grid = model.output_geometry.replace(image_size=samples.geometry.image_size,
                                             pixel_size=samples.geometry.pixel_size)
        return {name: tune_recipe(p, truth, grid) for name, p in convert_both(model, samples.inputs).items()}

    try:
        return _cached(model, {"what": "conversion windows"}, compute)
    except (ValueError, OSError, KeyError):
        return None
