"""The HTC2022 limited-angle challenge, scored the official way (``recon benchmark htc2022``).

**The challenge** (Helsinki Tomography Challenge 2022, FIPS): seven levels of difficulty, the arc shrinking from
90° (level 1) by 10° a level to 30° (level 7), three phantoms a level (``a b c``; 21 in all), 0.5° between views,
both arc ends measured (181 views at 90°). A reconstruction is a 512 × 512 segmentation (0 = air, 1 = acrylic)
on the organisers' grid (0.148 mm), compared with the organisers' segmentation of the full-data FBP by the
Matthews correlation coefficient; a level's score is the sum over its three phantoms (at most 3), the total the
sum over the levels (at most 21).

**Segmentation.** The organisers made their ground truth by Otsu thresholding the full-data FBP.
``"htc2022"`` (default) reproduces that the way their MATLAB code does it (``imbinarize`` /
``graythresh``): Otsu's level on a 256-bin histogram of the image scaled by its maximum (values below 0 count as
0), and ``image > level``. On the five training phantoms it gives the organisers' ``*_recon_fbp_seg.mat`` from
their ``*_recon_fbp.mat`` to 5–63 pixels of 262 144 (MCC ≥ 0.9995; tests/evaluation/test_htc2022.py checks the
bundled one). ``"otsu"`` is Otsu's threshold over the image's own range (scikit-image's ``threshold_otsu``,
:func:`recon.evaluation.quality.otsu_threshold`), the segmentation ``recon compare`` reports.

**Data** (:func:`find_phantoms`): the challenge's test set (``htc2022_0<level><a|b|c>_limited.mat`` with
``htc2022_0<level><x>_recon_fbp_seg.mat``; the organisers' own limited-angle FBP segmentations
``*_recon_fbp_seg_limited.mat`` where present, a reference row) or the five training phantoms
(``htc2022_<name>_full.mat`` with ``*_full_recon_fbp_seg.mat``), whose full scans are cut to each level's arc
at several start angles. Each level's score is then three times the mean MCC over its reconstructions — the
challenge's sum when there are three.

**Methods** of a level (:func:`level_methods`), all on the grid of the level's model (else the organisers'):
Ram-Lak FBP; the limited-angle FBP baselines tuned on the model's simulated training data; TV (``tv``,
Chambolle–Pock, :func:`level_tv`), the classical method a learned one must beat — λ tuned per level on
:data:`~recon.evaluation.baselines.TV_SAMPLES` training scans of the level's model cut to the level's arc from 0°
(cached beside the run), or one λ given for every level; and the level's model: one trained for that arc, or one
model of many arcs (:class:`recon.models.UnrolledNetwork` with ``arcs``) serving every level in its range. Each
reconstruction is timed (wall clock, the model applied to the scan included): ``seconds`` per method and level.

Reference: A. Meaney, F. Silva de Moura, S. Siltanen, "Helsinki Tomography Challenge 2022 open tomographic
dataset (HTC 2022)", doi:10.5281/zenodo.6984868; https://fips.fi/data-challenges/helsinki-tomography-challenge-2022/
"""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from tqdm import tqdm

from ..analytic.tv import TV_ITERATIONS, TunedTV
from ..geometry import Geometry
from ..io import read_scan
from ..io.formats import HTC_EFFECTIVE_PIXEL_SIZE, HTC_IMAGE_SIZE, read_htc_reference
from ..io.references import resample_to_grid
from ..io.scan import Scan
from ..models import KnownOperatorModel, apply_model, training_summary
from .._logging import progress_disabled
from .baselines import TV_SAMPLES, arc_training_baselines, stored_arc_recipes, tv_arc_baseline
from .methods import Method, applicable_baselines, baseline_methods, model_method, tv_method
from .quality import matthews_correlation, otsu_bin, otsu_threshold

__all__ = ["LEVELS", "SEGMENTATIONS", "Phantom", "htc2022_threshold", "segment", "find_phantoms", "level_arcs",
           "level_tv", "level_methods", "score_level", "TV_ID"]

PathLike = Union[str, os.PathLike]
TVSetting = Union[None, str, float]  # no TV, "tune" (λ tuned per level on the model's training data), or λ

LEVELS = {1: 90, 2: 80, 3: 70, 4: 60, 5: 50, 6: 40, 7: 30}
"""Challenge level → arc length in degrees."""

SEGMENTATIONS = {
    "htc2022": "Otsu's level on a 256-bin histogram of the image scaled by its maximum (the organisers' MATLAB "
               "graythresh/imbinarize)",
    "otsu": "Otsu's threshold over the image's range (scikit-image threshold_otsu)",
}

ORGANISERS_ID = "organisers_fbp_seg_limited"
TV_ID = "tv"
ARC_BASELINES = ("limited_angle_fbp", "view_completion_fbp")


def htc2022_threshold(image: np.ndarray) -> float:
    """The organisers' threshold (see the module docstring): MATLAB's ``graythresh`` on ``image / max(image)``
    (negative values as 0), in the image's units."""
    image = np.asarray(image, dtype=np.float64)
    peak = float(image.max())
    if not np.isfinite(peak) or peak <= 0:
        raise ValueError(f"cannot segment an image whose maximum is {peak:g} (no material above 0)")
    bins = np.rint(np.clip(image / peak, 0.0, 1.0) * 255).astype(np.int64)
    return otsu_bin(np.bincount(bins.ravel(), minlength=256)) / 255.0 * peak


def segment(image: np.ndarray, procedure: str = "htc2022") -> np.ndarray:
    """Binary segmentation (uint8, 1 = material) of a reconstruction by one of :data:`SEGMENTATIONS`."""
    if procedure not in SEGMENTATIONS:
        raise ValueError(f"segmentation must be one of {sorted(SEGMENTATIONS)}, got {procedure!r}")
    threshold = htc2022_threshold(image) if procedure == "htc2022" else otsu_threshold(image)
    return (np.asarray(image) > threshold).astype(np.uint8)


@dataclass(frozen=True)
class Phantom:
    """One phantom of a data folder: its ``name`` (``01a``, ``ta``, ...), the challenge ``level`` (``None`` for
    a training phantom), the ``scan`` file (limited-angle for the test set, full for training), the ground-truth
    segmentation ``truth`` and, for the test set, the organisers' limited-angle FBP segmentation if present."""

    name: str
    level: Optional[int]
    scan: Path
    truth: Path
    organisers: Optional[Path] = None


def find_phantoms(data_dir: PathLike) -> list[Phantom]:
    """The challenge test phantoms in ``data_dir`` if it has any, else its training phantoms; a scan without its
    ground-truth segmentation is an error (the score needs it)."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder (expected the HTC2022 data folder)")
    found = []
    for scan in sorted(folder.glob("htc2022_*_limited.mat")):
        m = re.fullmatch(r"htc2022_0([1-7])([a-z])_limited\.mat", scan.name)
        if m is None or scan.name.endswith("_seg_limited.mat"):
            continue
        stem = f"htc2022_0{m[1]}{m[2]}"
        organisers = folder / f"{stem}_recon_fbp_seg_limited.mat"
        found.append(Phantom(f"0{m[1]}{m[2]}", int(m[1]), scan, folder / f"{stem}_recon_fbp_seg.mat",
                             organisers if organisers.exists() else None))
    if not found:
        for scan in sorted(folder.glob("htc2022_*_full.mat")):
            name = scan.name[len("htc2022_"):-len("_full.mat")]
            found.append(Phantom(name, None, scan, folder / f"htc2022_{name}_full_recon_fbp_seg.mat"))
    if not found:
        raise ValueError(f"{folder}: no HTC2022 scans (htc2022_0<level><x>_limited.mat or htc2022_<name>_full.mat)")
    missing = [p.truth.name for p in found if not p.truth.exists()]
    if missing:
        raise ValueError(f"{folder}: the ground-truth segmentation is missing for {len(missing)} scan(s): "
                         + ", ".join(missing))
    return found


def level_arcs(phantom: Phantom, scan: Scan, arc_deg: float, starts_deg: tuple[float, ...]
               ) -> list[tuple[float, Scan]]:
    """``(start°, scan)`` of every arc of ``arc_deg`` the phantom's ``scan`` (read from ``phantom.scan``) gives:
    a test phantom's limited-angle scan itself (its level's arc), or a training phantom's full scan cut at each
    start (both arc ends included)."""
    if phantom.level is not None:
        return [(float(np.degrees(scan.geometry.angles[0])), scan)]
    return [(s, scan.select_angles(math.radians(s), math.radians(s + arc_deg))) for s in starts_deg]


def level_tv(model: Optional[KnownOperatorModel], arc_deg: float, tv: TVSetting
             ) -> Optional[tuple[TunedTV, str, dict]]:
    """TV of one level, how its λ was found and what the record keeps of that, or ``None`` for no TV row: ``tv``
    ``None`` (no TV), a number (that λ at every level) or ``"tune"`` (λ tuned on :data:`TV_SAMPLES` samples of
    the level's model's training data cut to the level's arc from 0°,
    :func:`recon.evaluation.baselines.tv_arc_baseline`; no row when the level has no model, and no row with a
    warning when the model's training data cannot be read)."""
    if tv is None:
        return None
    if tv != "tune":
        return TunedTV(float(tv), TV_ITERATIONS), "with λ given", {}
    if model is None:
        return None
    tuned = tv_arc_baseline(model, arc_deg)
    if tuned is None:
        warnings.warn(f"no TV row at {arc_deg:g}°: the model's training data "
                      f"({training_summary(model).get('data') or 'not recorded'}) cannot be read to tune λ; "
                      "give λ with --tv-lambda", stacklevel=2)
        return None
    return tuned, "tuned on training data", {"samples": TV_SAMPLES, "tuned_arc_deg": float(arc_deg),
                                             "tuned_start_deg": 0.0}


def level_methods(scan: Scan, model: Optional[KnownOperatorModel], memo: dict,
                  tv: Optional[tuple[TunedTV, str, dict]] = None, arc_deg: Optional[float] = None
                  ) -> tuple[list[Method], Geometry]:
    """The methods of one arc and the geometry they reconstruct in (the scan's arc on the model's grid, else the
    organisers' grid): Ram-Lak FBP, the baselines tuned on the model's training data (limited-angle FBP, and
    with view completion when the model completes views: the recipe its training tuned, the other tuned now and
    cached beside the run; for a model of many arcs both tuned on its training scans cut to the level's arc
    ``arc_deg``), TV (``tv``: :func:`level_tv`) and the model, whose reconstruction time is its
    ``extra_seconds``."""
    models = [] if model is None else [model]
    grid = model.geometry if model is not None else scan.geometry.replace(image_size=HTC_IMAGE_SIZE,
                                                                          pixel_size=HTC_EFFECTIVE_PIXEL_SIZE)
    g = scan.geometry.replace(image_size=grid.image_size, pixel_size=grid.pixel_size)
    key = tuple(applicable_baselines(g, models, ids=ARC_BASELINES))
    if key not in memo:
        ranged = model is not None and getattr(model, "arcs", None) is not None
        tuned = {} if ranged else {k: v for k, v in stored_arc_recipes(models).items() if k in key}
        missing = [i for i in key if i not in tuned]
        arc = arc_deg if ranged else None
        memo[key] = {**tuned, **(arc_training_baselines(model, missing, arc) if model is not None else {})}
    # clipping at 0 cannot change the organisers' segmentation (negatives count as 0): no "_clipped" rows
    methods = [m for m in baseline_methods(g, memo[key], "tuned on training data") if not m.clip]
    if tv is not None:
        method = tv_method(tv[0], g, tv[1])
        methods.append(replace(method, params={**method.params, **tv[2]}))
    if model is not None:
        t0 = time.perf_counter()
        image = torch.from_numpy(apply_model(scan, model)[0])
        methods.append(model_method(1, model, lambda _, image=image: image,
                                    extra_seconds=time.perf_counter() - t0))
    return methods, g


def _on_truth_grid(image: np.ndarray, geometry: Geometry, truth: np.ndarray) -> np.ndarray:
    target = geometry.replace(image_size=truth.shape[0], pixel_size=HTC_EFFECTIVE_PIXEL_SIZE)
    return resample_to_grid(image, geometry.pixel_size, target)


def score_level(level: int, phantoms: list[Phantom], model: Optional[KnownOperatorModel],
                starts_deg: tuple[float, ...], procedure: str = "htc2022", files: Optional[dict] = None,
                tv: TVSetting = None) -> dict:
    """Every method's MCC on every arc of ``level`` (see the module docstring); ``files``: a dict that keeps the
    phantoms' scans and segmentations once read, so that scoring every level reads each file once; ``tv``: the
    TV row (:func:`level_tv`). Returns ``{"level", "arc_deg", "n_views", "methods": {id: {"label", "params",
    "score", "mean_mcc", "n", "seconds", "per_scan": [{"phantom", "start_deg", "mcc", "seconds"}]}}, "example":
    {"phantom", "start_deg", "truth", "segmentations": {id: ...}, "mcc": {id: ...}}}`` (the first arc of a phantom
    with holes, for the figure); ``seconds``: the wall-clock time of each reconstruction (the model's applied to
    the scan, the analytic methods' on the sinogram), the mean over the level's arcs."""
    arc = LEVELS[level]
    phantoms = [p for p in phantoms if p.level is None or LEVELS[p.level] == arc]  # test phantoms: this level's
    if not phantoms:
        return {"level": level, "arc_deg": arc, "n_views": None, "methods": {}, "example": {}}
    shown = next((p.name for p in phantoms if p.name != "solid_disc"), phantoms[0].name)  # one with holes
    example: dict[str, Any] = {"segmentations": {}, "mcc": {}}
    memo: dict = {}
    methods_out: dict[str, dict] = {}
    jobs = _level_jobs(phantoms, arc, starts_deg, {} if files is None else files)
    tuned_tv = level_tv(model, arc, tv)
    for phantom, truth, start, scan in tqdm(jobs, desc=f"level {level} ({arc}°)", unit="arc", disable=progress_disabled()):
        methods, g = level_methods(scan, model, memo, tuned_tv, arc)
        segs = _score_arc(methods, g, scan, truth, procedure, methods_out, phantom.name, start)
        if phantom.organisers is not None:
            segs[ORGANISERS_ID] = read_htc_reference(phantom.organisers)
            _add(methods_out, ORGANISERS_ID, {"label": "organisers' limited-angle FBP segmentation",
                                              "params": {"file": phantom.organisers.name}},
                 phantom.name, start, matthews_correlation(segs[ORGANISERS_ID], truth))
        if phantom.name == shown and not example["segmentations"]:
            example.update(phantom=phantom.name, start_deg=start, truth=(truth > 0).astype(np.uint8),
                           segmentations=segs, mcc={i: methods_out[i]["per_scan"][-1]["mcc"] for i in segs})
    for entry in methods_out.values():
        mccs = [s["mcc"] for s in entry["per_scan"]]
        entry.update(n=len(mccs), mean_mcc=float(np.mean(mccs)), score=3.0 * float(np.mean(mccs)))
        seconds = [s["seconds"] for s in entry["per_scan"] if "seconds" in s]
        if seconds:
            entry["seconds"] = float(np.mean(seconds))
    return {"level": level, "arc_deg": arc, "n_views": jobs[-1][3].n_views, "methods": methods_out,
            "example": example}


def _level_jobs(phantoms: list[Phantom], arc: float, starts_deg: tuple[float, ...], files: dict
                ) -> list[tuple[Phantom, np.ndarray, float, Scan]]:
    """``(phantom, truth, start°, scan)`` of every arc of the level, the files read once into ``files``."""
    jobs = []
    for phantom in phantoms:
        if phantom.name not in files:
            files[phantom.name] = (read_scan(phantom.scan), read_htc_reference(phantom.truth))
        full, truth = files[phantom.name]
        jobs += [(phantom, truth, start, scan) for start, scan in level_arcs(phantom, full, arc, starts_deg)]
    return jobs


def _score_arc(methods: list[Method], g: Geometry, scan: Scan, truth: np.ndarray, procedure: str, out: dict,
               phantom: str, start: float) -> dict[str, np.ndarray]:
    """Every method's segmentation of one arc, its MCC and reconstruction time added to ``out``."""
    x = torch.from_numpy(scan.sinogram.astype(np.float64))
    segs = {}
    for m in methods:
        t0 = time.perf_counter()
        image = m(x).numpy()
        seconds = time.perf_counter() - t0 + m.extra_seconds
        segs[m.id] = segment(_on_truth_grid(image, g, truth), procedure)
        _add(out, m.id, m.describe(), phantom, start, matthews_correlation(segs[m.id], truth), seconds)
    return segs


def _add(out: dict, method_id: str, described: dict, phantom: str, start: float, mcc: float,
         seconds: Optional[float] = None) -> None:
    entry = out.setdefault(method_id, {**described, "per_scan": []})
    entry["per_scan"].append({"phantom": phantom, "start_deg": start, "mcc": mcc,
                              **({} if seconds is None else {"seconds": seconds})})
