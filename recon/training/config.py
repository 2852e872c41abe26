"""The training config of ``recon train``: one schema and one validation path (``TypeError`` for a value of
the wrong type, ``ValueError`` for a wrong value; messages name the file, the section and the key).

Config (TOML)::

    [data]
    file = "htc_train.h5"     # written by `recon simulate` (relative to the config; the data argument overrides)
    views = 60                # optional: use this many evenly spaced views of the dataset's scan
    angles = [0.0, 90.0]      # optional (instead of views): the views on this arc, degrees (limited angle,
                              # short scan); a model trained on it applies to any start of its arc length
    arcs = [30.0, 90.0]       # optional (unrolled models, instead of views/angles): one model for every arc
                              # of 30°–90° at any start; each batch an arc drawn from the full scans
                              # (recon.training.arcs)
    target = "images"         # image models: "images" (the phantoms) or "full_view_fbp" (Ram-Lak FBP of
                              # every simulated view on a 2× finer grid, averaged down: how a real
                              # full-data reference is made; see recon.simulation.targets)
    val_fraction = 0.1        # held-out part for validation
    max_samples = 1000        # optional cap

    [model]
    type = "learned_fbp"      # learned_fbp | view_upsampled_fbp | fan_to_parallel | parallel_to_fan |
                              # learned_gradient_descent | learned_gradient_descent_cg |
                              # learned_primal_dual (recon.models.unrolled) | learned_fdk (cone beam)
    filter = "ram-lak"        # analytic start (any window of recon.fbp)
    cutoff = 1.0
    learn = "filter"          # filter | view_filters | weights, joined with "+"
    filter_basis = 64         # optional: hat functions of the filter correction (default: every bin)
    weight_basis = [8, 16]    # optional: smooth weights (default: every element)
    positivity = false        # image models: clamp the output at 0 (μ ≥ 0)
    complete_views = false    # learned_fbp on an arc: complete it to the circle with the mean measured view
    grid_pixel = 0.15         # conversion only, mm (default: target isocentre pitch)
    grid_size = 512           # conversion only, pixels of that grid (default: covers the field of view)
    factor = 6                # view_upsampled_fbp, and conversions from a uniform full scan: angular
                              # upsampling U with a learnable 2-D filter; for unrolled networks the
                              # view interpolation of their analytic start
    view_knots = [0.0, 1.0, 2.0]  # that filter's basis (recon.models.view_upsampled): angular hats, knots
    det_knots = 10            # in units of V/2 (default: DEFAULT_VIEW_KNOTS), and detector hats evenly
    det_max = 0.8             # spaced over [0, det_max] × Nyquist
    iterations = 5            # unrolled networks: iterations (one A and one Aᵀ each), CNN width,
    channels = 32             # memory channels (learned_primal_dual) and the attenuation scale of the
    memory = 5                # CNNs' inputs (1/mm); the dilation of each 3×3 convolution of a CNN
    mu_scale = 0.04           # (its length: the depth)
    dilations = [1, 2, 1]
    coarse = 4                # > 1: every CNN also sees its input pooled 4× (a two-level U-Net)
    cg_steps = 4              # learned_gradient_descent_cg: conjugate-gradient steps of data consistency
                              # after every update (each one A and one Aᵀ)

    [training]
    epochs = 20
    batch_size = 8
    lr = 1e-3
    loss = "mse"              # or "mse+ssim" (normalised MSE + ssim_weight · (1 − SSIM)), or
    ssim_weight = 0.5         # "mse+segmentation" (normalised MSE + segmentation_weight · cross-entropy of a
    segmentation_weight = 0.1 # soft threshold at half the target's maximum), images only
    seed = 0
    device = "cpu"            # or "cuda", "cuda:1" (the command line's --device overrides it)
    schedule = "constant"     # or "cosine": the learning rate falls from lr to 0 over the epochs asked for
    grad_clip = 0.0           # > 0: clip the gradient's norm at this value (unrolled networks)
    lstsq_check = true        # also compute the least-squares optimum of the shared filter
    init = "analytic"         # "lstsq": start from the least-squares filter fitted on lstsq_samples
    lstsq_samples = 32        #   training samples (relative ridge: ridge), then refine with Adam;
    ridge = 1e-6              # "tuned" (learned_fbp): start from the limited-angle FBP (window, cut-off,
                              #   end taper, scale) tuned on lstsq_samples samples; "tuned+lstsq": both

Targets: image models are trained against the dataset's ``images`` or its ``full_view_fbp``; conversion
networks against its ``target_sinograms`` (sinogram-domain MSE; the dataset must have been simulated with a
``[target_geometry]``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ..analytic.arcs import arc_view_indices
from ..io.config import load_toml, parse_toml
from ..models.registry import MODELS
from ..models.unrolled import UnrolledNetwork
from ..simulation.dataset import SimulatedDataset
from .losses import LOSSES

__all__ = ["TrainConfig", "parse_train_config", "load_train_config", "IMAGE_TARGETS", "INITS", "SCHEMA", "DEFAULTS"]

PathLike = Union[str, os.PathLike]

IMAGE_TARGETS = ("images", "full_view_fbp")
INITS = ("analytic", "lstsq", "tuned", "tuned+lstsq")
SCHEDULES = ("constant", "cosine")

SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "data": {"file": (str,), "views": (int,), "angles": (list,), "arcs": (list,), "val_fraction": (float, int),
             "max_samples": (int,), "target": (str,)},
    "model": {"type": (str,), "filter": (str,), "cutoff": (float, int), "learn": (str, list),
              "filter_basis": (int,), "weight_basis": (list,), "positivity": (bool,), "grid_pixel": (float, int),
              "grid_size": (int,), "factor": (int,), "view_knots": (list,), "det_knots": (int,),
              "det_max": (float, int), "complete_views": (bool,), "iterations": (int,), "channels": (int,),
              "memory": (int,), "mu_scale": (float, int), "dilations": (list,), "coarse": (int,),
              "cg_steps": (int,)},
    "training": {"epochs": (int,), "batch_size": (int,), "lr": (float, int), "loss": (str,),
                 "ssim_weight": (float, int), "seed": (int,), "lstsq_check": (bool,), "device": (str,),
                 "init": (str,), "lstsq_samples": (int,), "ridge": (float, int),
                 "segmentation_weight": (float, int), "schedule": (str,), "grad_clip": (float, int)},
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"val_fraction": 0.1},
    "model": {"type": "learned_fbp", "filter": "ram-lak", "cutoff": 1.0, "learn": "filter"},
    "training": {"epochs": 10, "batch_size": 8, "lr": 1e-3, "loss": "mse", "ssim_weight": 0.5, "seed": 0,
                 "lstsq_check": False, "device": "cpu", "init": "analytic", "lstsq_samples": 32, "ridge": 1e-6,
                 "segmentation_weight": 0.1, "schedule": "constant", "grad_clip": 0.0},
}


@dataclass
class TrainConfig:
    """A validated training config: the three tables with defaults filled in, the text it came from and the
    folder relative paths are resolved against."""

    data: dict[str, Any]
    model: dict[str, Any]
    training: dict[str, Any]
    text: str
    base: Path = field(default_factory=Path.cwd)

    @property
    def image_model(self) -> bool:
        """Whether the model reconstructs images (else it converts sinograms)."""
        return MODELS[self.model["type"]].output_kind == "image"

    @property
    def target(self) -> str:
        """The dataset the model learns: ``[data] target`` (images, full_view_fbp) or ``target_sinograms``."""
        return self.data.get("target", "images") if self.image_model else "target_sinograms"

    def data_path(self, data: Optional[PathLike] = None) -> Path:
        """The training file: ``data`` if given, else ``[data] file`` relative to the config."""
        if data is not None:
            return Path(data)
        if "file" not in self.data:
            raise ValueError("no training data: give a data file (HDF5) or [data] file in the config")
        return self.base / self.data["file"]

    @property
    def arcs(self) -> Optional[tuple[float, float]]:
        """``[data] arcs`` (shortest, longest in degrees), or ``None``."""
        return tuple(float(a) for a in self.data["arcs"]) if "arcs" in self.data else None

    def views(self, path: PathLike) -> Union[None, int, np.ndarray]:
        """``[data] views`` (a count), or the indices of the views on ``[data] angles`` (degrees) in the scan
        of the file at ``path``, in order along the arc; ``None`` (every view) for ``[data] arcs``."""
        if "angles" not in self.data:
            return self.data.get("views")
        start, stop = (math.radians(float(v)) for v in self.data["angles"])
        length = (stop - start) % (2 * math.pi) or 2 * math.pi
        return arc_view_indices(SimulatedDataset(path, keys=("sinograms",)).geometry, length, start)


def _tables(raw: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """The three tables with the defaults filled in; unknown sections/keys and values of the wrong type refused."""
    unknown = sorted(set(raw) - set(SCHEMA))
    if unknown:
        raise ValueError(f"{source}: unknown section(s) {unknown}; expected {sorted(SCHEMA)}")
    tables = {}
    for section, schema in SCHEMA.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise TypeError(f"{source}: [{section}] must be a table")
        for key, value in table.items():
            if key not in schema:
                raise ValueError(f"{source}: [{section}] unknown key {key!r}; allowed: {sorted(schema)}")
            if isinstance(value, bool) and bool not in schema[key] or not isinstance(value, schema[key]):
                names = " or ".join(t.__name__ for t in schema[key])
                raise TypeError(f"{source}: [{section}] {key} must be {names}, got {value!r}")
        tables[section] = {**DEFAULTS[section], **table}
    return tables


def _check_training(t: dict[str, Any], m: dict[str, Any], source: str) -> None:
    for key, low in (("epochs", 1), ("batch_size", 1), ("lstsq_samples", 1)):
        if t[key] < low:
            raise ValueError(f"{source}: [training] {key} must be >= {low}, got {t[key]}")
    if not t["lr"] > 0 or t["ridge"] < 0 or t["segmentation_weight"] < 0:
        raise ValueError(f"{source}: [training] needs lr > 0, ridge >= 0 and segmentation_weight >= 0, got "
                         f"{t['lr']}, {t['ridge']} and {t['segmentation_weight']}")
    if t["schedule"] not in SCHEDULES:
        raise ValueError(f"{source}: [training] schedule must be one of {SCHEDULES}, got {t['schedule']!r}")
    if not (math.isfinite(t["grad_clip"]) and t["grad_clip"] >= 0):
        raise ValueError(f"{source}: [training] grad_clip must be >= 0 (0: no clipping), got {t['grad_clip']}")
    if t["loss"] not in LOSSES:
        raise ValueError(f"{source}: [training] loss must be one of {LOSSES}, got {t['loss']!r}")
    if t["init"] not in INITS:
        raise ValueError(f"{source}: [training] init must be one of {INITS}, got {t['init']!r}")
    if t["init"].startswith("tuned") and m["type"] != "learned_fbp":
        raise ValueError(f"{source}: [training] init {t['init']!r} applies to learned_fbp models")
    learn = m["learn"] if isinstance(m["learn"], str) else "+".join(map(str, m["learn"]))
    if t["init"].endswith("lstsq") and "view_filters" in learn:
        raise ValueError(f"{source}: [training] init {t['init']!r} fits a shared filter; this model learns "
                         "view_filters")


def _check_data(d: dict[str, Any], image_model: bool, loss: str, kind: str, source: str) -> None:
    if "arcs" in d:
        if "views" in d or "angles" in d:
            raise ValueError(f"{source}: [data] arcs draws arcs from the full scans: give it without views or angles")
        if not issubclass(MODELS[kind], UnrolledNetwork):
            raise ValueError(f"{source}: [data] arcs needs a model that takes any arc (learned_gradient_descent, "
                             f"learned_primal_dual), not {kind}")
        a = d["arcs"]
        if len(a) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                  for v in a) or not 0 < a[0] <= a[1] < 360:
            raise ValueError(f"{source}: [data] arcs must be [shortest, longest] in degrees, 0 < shortest <= "
                             f"longest < 360, got {a!r}")
    if "angles" in d:
        if "views" in d:
            raise ValueError(f"{source}: [data] give views or angles, not both")
        a = d["angles"]
        if len(a) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                  for v in a):
            raise ValueError(f"{source}: [data] angles must be [start, stop] in degrees, got {a!r}")
    if "target" in d:
        if not image_model:
            raise ValueError(f"{source}: [data] target applies to image models; a {kind} model learns "
                             "target_sinograms")
        if d["target"] not in IMAGE_TARGETS:
            raise ValueError(f"{source}: [data] target must be one of {IMAGE_TARGETS}, got {d['target']!r}")
    if loss != "mse" and not image_model:
        raise ValueError(f"{source}: [training] loss {loss!r} needs image targets (an image model)")
    if not 0.0 < d["val_fraction"] < 1.0:
        raise ValueError(f"{source}: [data] val_fraction must be in (0, 1), got {d['val_fraction']}")


def parse_train_config(text: str, source: str = "<config>", base: Optional[PathLike] = None) -> TrainConfig:
    """Validate a training config given as TOML text; relative data paths resolve against ``base``."""
    tables = _tables(parse_toml(text, source), source)
    t, d, m = tables["training"], tables["data"], tables["model"]
    if m["type"] not in MODELS:
        raise ValueError(f"{source}: [model] type must be one of {sorted(MODELS)}, got {m['type']!r}")
    _check_training(t, m, source)
    _check_data(d, MODELS[m["type"]].output_kind == "image", t["loss"], m["type"], source)
    return TrainConfig(d, m, t, text, Path(base) if base is not None else Path.cwd())


def load_train_config(path: PathLike) -> TrainConfig:
    """Read and validate a training config (errors name the file, section and key)."""
    path = Path(path)
    load_toml(path)  # existence and syntax, with the file's name in the message
    return parse_train_config(path.read_text(encoding="utf-8"), str(path), path.resolve().parent)
