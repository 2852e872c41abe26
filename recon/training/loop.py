"""``recon train``: fit a known-operator model to a simulated dataset.

Config (TOML)::

    [data]
    file = "htc_train.h5"     # written by `recon simulate` (relative to the config; --data overrides)
    views = 60                # optional: use this many evenly spaced views of the dataset's scan
    angles = [0.0, 90.0]      # optional (instead of views): the views on this arc, degrees (limited angle,
                              # short scan); a model trained on it applies to any start of its arc length
    target = "images"         # image models: "images" (the phantoms) or "full_view_fbp" (Ram-Lak FBP of
                              # every simulated view on a 2× finer grid, averaged down: how a real
                              # full-data reference is made; see recon.targets)
    val_fraction = 0.1        # held-out part for validation
    max_samples = 1000        # optional cap

    [model]
    type = "learned_fbp"      # learned_fbp | view_upsampled_fbp | fan_to_parallel | parallel_to_fan
    filter = "ram-lak"        # analytic start (any window of recon.fbp)
    cutoff = 1.0
    learn = "filter"          # filter | view_filters | weights, joined with "+"
    filter_basis = 64         # optional: hat functions of the filter correction (default: every bin)
    weight_basis = [8, 16]    # optional: smooth weights (default: every element)
    positivity = false        # learned_fbp only
    complete_views = false    # learned_fbp on an arc: complete it to the circle with the mean measured view
    grid_pixel = 0.15         # conversion only, mm (default: target isocentre pitch)
    factor = 6                # view_upsampled_fbp, and conversions from a uniform full scan: angular
                              # upsampling U with a learnable 2-D filter (also view_knots, det_knots,
                              # det_max: its basis, see recon.models.view_upsampled)

    [training]
    epochs = 20
    batch_size = 8
    lr = 1e-3
    loss = "mse"              # or "mse+ssim" (normalised MSE + ssim_weight · (1 − SSIM)), images only
    ssim_weight = 0.5
    seed = 0
    lstsq_check = true        # also compute the least-squares optimum of the shared filter
    init = "analytic"         # "lstsq": start from the least-squares filter fitted on lstsq_samples
    lstsq_samples = 32        #   training samples (relative ridge: ridge), then refine with Adam;
    ridge = 1e-6              # "tuned" (learned_fbp): start from the limited-angle FBP (window, cut-off,
                              #   end taper, scale) tuned on lstsq_samples samples; "tuned+lstsq": both

Targets: image models are trained against the dataset's ``images`` or its ``full_view_fbp``; conversion
networks against its ``target_sinograms`` (sinogram-domain MSE; the dataset must have been simulated with a
``[target_geometry]``).

The run folder receives ``config.toml``, ``checkpoint.pt`` (written atomically after every epoch, so
``--resume`` continues exactly where it stopped: the data order of each epoch depends only on the seed and
the epoch), ``model.pt`` (:func:`recon.models.load_model`), ``metrics.csv`` / ``metrics.json``,
``loss.png`` and ``filter.png``.

Under ``torchrun --nproc_per_node N`` the same command trains with DistributedDataParallel (gloo on CPU,
NCCL on GPU), each process on its share of every epoch; only rank 0 writes files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
import torch.distributed as dist

from ..geometry import Geometry, evenly_spaced_views
from ..io.atomic import atomic_output
from ..io.config import load_toml, parse_toml
from ..metrics import ssim
from ..models import (FanToParallel, KnownOperatorModel, LearnedFBP, ParallelToFan, ViewUpsampledFBP, fit_filter,
                     mean_squared_error, save_model)

__all__ = ["TrainConfig", "parse_train_config", "load_train_config", "build_model", "TrainingData",
           "load_training_data", "read_dataset", "train"]

PathLike = Union[str, os.PathLike]

MODEL_TYPES = {"learned_fbp": LearnedFBP, "view_upsampled_fbp": ViewUpsampledFBP, "fan_to_parallel": FanToParallel,
               "parallel_to_fan": ParallelToFan}
IMAGE_TARGETS = ("images", "full_view_fbp")
INITS = ("analytic", "lstsq", "tuned", "tuned+lstsq")

_SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "data": {"file": (str,), "views": (int,), "angles": (list,), "val_fraction": (float, int), "max_samples": (int,),
             "target": (str,)},
    "model": {"type": (str,), "filter": (str,), "cutoff": (float, int), "learn": (str, list),
              "filter_basis": (int,), "weight_basis": (list,), "positivity": (bool,), "grid_pixel": (float, int),
              "grid_size": (int,), "factor": (int,), "view_knots": (list,), "det_knots": (int,),
              "det_max": (float, int), "complete_views": (bool,)},
    "training": {"epochs": (int,), "batch_size": (int,), "lr": (float, int), "loss": (str,),
                 "ssim_weight": (float, int), "seed": (int,), "lstsq_check": (bool,), "device": (str,),
                 "init": (str,), "lstsq_samples": (int,), "ridge": (float, int)},
}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"val_fraction": 0.1},
    "model": {"type": "learned_fbp", "filter": "ram-lak", "cutoff": 1.0, "learn": "filter"},
    "training": {"epochs": 10, "batch_size": 8, "lr": 1e-3, "loss": "mse", "ssim_weight": 0.5, "seed": 0,
                 "lstsq_check": False, "device": "cpu", "init": "analytic", "lstsq_samples": 32, "ridge": 1e-6},
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


def _validate(raw: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    unknown = sorted(set(raw) - set(_SCHEMA))
    if unknown:
        raise ValueError(f"{source}: unknown section(s) {unknown}; expected {sorted(_SCHEMA)}")
    tables = {}
    for section, schema in _SCHEMA.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise ValueError(f"{source}: [{section}] must be a table")
        for key, value in table.items():
            if key not in schema:
                raise ValueError(f"{source}: [{section}] unknown key {key!r}; allowed: {sorted(schema)}")
            if isinstance(value, bool) and bool not in schema[key] or not isinstance(value, schema[key]):
                names = " or ".join(t.__name__ for t in schema[key])
                raise ValueError(f"{source}: [{section}] {key} must be {names}, got {value!r}")
        tables[section] = {**_DEFAULTS[section], **table}
    t, d, m = tables["training"], tables["data"], tables["model"]
    if m["type"] not in MODEL_TYPES:
        raise ValueError(f"{source}: [model] type must be one of {sorted(MODEL_TYPES)}, got {m['type']!r}")
    for key, low in (("epochs", 1), ("batch_size", 1)):
        if t[key] < low:
            raise ValueError(f"{source}: [training] {key} must be >= {low}, got {t[key]}")
    if not t["lr"] > 0:
        raise ValueError(f"{source}: [training] lr must be > 0, got {t['lr']}")
    if t["loss"] not in ("mse", "mse+ssim"):
        raise ValueError(f"{source}: [training] loss must be 'mse' or 'mse+ssim', got {t['loss']!r}")
    if t["init"] not in INITS:
        raise ValueError(f"{source}: [training] init must be one of {INITS}, got {t['init']!r}")
    if t["init"].startswith("tuned") and m["type"] != "learned_fbp":
        raise ValueError(f"{source}: [training] init {t['init']!r} applies to learned_fbp models")
    learn = m["learn"] if isinstance(m["learn"], str) else "+".join(map(str, m["learn"]))
    if t["init"].endswith("lstsq") and "view_filters" in learn:
        raise ValueError(f"{source}: [training] init {t['init']!r} fits a shared filter; this model learns "
                         "view_filters")
    if "angles" in d:
        if "views" in d:
            raise ValueError(f"{source}: [data] give views or angles, not both")
        a = d["angles"]
        if len(a) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                  for v in a):
            raise ValueError(f"{source}: [data] angles must be [start, stop] in degrees, got {a!r}")
    if t["lstsq_samples"] < 1 or t["ridge"] < 0:
        raise ValueError(f"{source}: [training] needs lstsq_samples >= 1 and ridge >= 0")
    if "target" in d and d["target"] not in IMAGE_TARGETS:
        raise ValueError(f"{source}: [data] target must be one of {IMAGE_TARGETS}, got {d['target']!r}")
    if not 0.0 < d["val_fraction"] < 1.0:
        raise ValueError(f"{source}: [data] val_fraction must be in (0, 1), got {d['val_fraction']}")
    return tables


def parse_train_config(text: str, source: str = "<config>", base: Optional[PathLike] = None) -> TrainConfig:
    """Validate a training config given as TOML text; relative data paths resolve against ``base``."""
    tables = _validate(parse_toml(text, source), source)
    return TrainConfig(tables["data"], tables["model"], tables["training"], text,
                       Path(base) if base is not None else Path.cwd())


def load_train_config(path: PathLike) -> TrainConfig:
    """Read and validate a training config (errors name the file, section and key)."""
    path = Path(path)
    load_toml(path)  # existence and syntax, with the file's name in the message
    return parse_train_config(path.read_text(encoding="utf-8"), str(path), path.resolve().parent)


# ---- data ----------------------------------------------------------------------------------------------------

@dataclass
class TrainingData:
    """Everything training needs, in memory: inputs ``[n, n_views, n_det]`` float32 (line integrals in
    ``geometry``) and targets (images ``[n, N, N]`` μ in 1/mm, or sinograms in ``target_geometry``)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    geometry: Geometry
    target_geometry: Optional[Geometry]
    path: Path


def load_training_data(path: PathLike, target: str = "images", views: Union[None, int, np.ndarray] = None,
                       max_samples: Optional[int] = None) -> TrainingData:
    """Read a ``recon simulate`` file: noisy sinograms as inputs and ``target`` as targets: ``images``,
    ``target_sinograms``, or ``full_view_fbp`` (computed here from every view of the noisy sinograms, see
    :func:`recon.targets.full_view_fbp`). ``views``: a number of evenly spaced views to keep, or the view
    indices themselves (e.g. from :func:`recon.geometry.view_indices`); ``max_samples`` caps the count."""
    import h5py

    from ..simulation.dataset import SimulatedDataset
    from ..simulation.targets import full_view_fbp

    computed = target == "full_view_fbp"
    ds = SimulatedDataset(path, keys=("sinograms",) if computed else ("sinograms", target))
    n = len(ds) if max_samples is None else min(len(ds), max_samples)
    full_geometry = geometry = ds.geometry
    if views is None:
        idx = np.arange(geometry.n_views)
    elif np.ndim(views) == 0:
        idx = evenly_spaced_views(geometry.n_views, int(views))
    else:
        idx = np.asarray(views, dtype=np.int64)
    geometry = geometry.replace(angles=geometry.angles[idx])
    targets = torch.empty((n,) + geometry.image_shape) if computed else None
    with h5py.File(path, "r") as f:
        inputs = np.empty((n, idx.size, geometry.n_det), dtype=np.float32)
        for i in range(0, n, 64):  # chunk by chunk: the file holds every view, memory only the selected
            chunk = f["sinograms"][i:min(n, i + 64)]
            inputs[i:i + 64] = chunk[:, idx, :]
            if computed:
                targets[i:i + 64] = full_view_fbp(torch.from_numpy(np.ascontiguousarray(chunk)), full_geometry)
    if not computed:
        targets = read_dataset(path, target, n)
    return TrainingData(torch.from_numpy(inputs), targets, geometry, ds.target_geometry, Path(path))


def _selected_views(data_table: dict[str, Any], path: PathLike) -> Union[None, int, np.ndarray]:
    """``[data] views`` (a count), or the indices of the views on ``[data] angles`` (degrees) in the file's
    scan, in order along the arc."""
    if "angles" not in data_table:
        return data_table.get("views")
    from ..simulation.dataset import SimulatedDataset
    from ..analytic.arcs import arc_view_indices

    start, stop = (math.radians(float(v)) for v in data_table["angles"])
    length = (stop - start) % (2 * math.pi) or 2 * math.pi
    return arc_view_indices(SimulatedDataset(path, keys=("sinograms",)).geometry, length, start)


def read_dataset(path: PathLike, key: str, n: Optional[int] = None) -> torch.Tensor:
    """The first ``n`` (default all) samples of dataset ``key`` of a ``recon simulate`` file, float32."""
    import h5py

    with h5py.File(path, "r") as f:
        return torch.from_numpy(np.asarray(f[key][:n], dtype=np.float32))


def build_model(model_table: dict[str, Any], geometry: Geometry, target_geometry: Optional[Geometry] = None,
                dtype: torch.dtype = torch.float32, warn: bool = True) -> KnownOperatorModel:
    """The model of a config's ``[model]`` table for data in ``geometry`` (→ ``target_geometry``); ``warn``:
    whether an image model warns about limited-angle data (not when the arc was asked for)."""
    m = dict(model_table)
    kind = m.pop("type")
    if "weight_basis" in m:
        m["weight_basis"] = tuple(m["weight_basis"])
    misplaced = {"learned_fbp": ("grid_pixel", "grid_size", "factor", "view_knots", "det_knots", "det_max"),
                 "view_upsampled_fbp": ("grid_pixel", "grid_size", "learn", "filter_basis", "weight_basis",
                                        "complete_views")}.get(
        kind, ("positivity", "complete_views"))
    for key in misplaced:
        if key in m and (key != "learn" or m[key] != "filter"):
            raise ValueError(f"[model] {key} does not apply to a {kind} model")
    if kind == "learned_fbp":
        return LearnedFBP(geometry, dtype=dtype, warn=warn, **m)
    if kind == "view_upsampled_fbp":
        m.pop("learn", None)
        return ViewUpsampledFBP(geometry, dtype=dtype, warn=warn, **m)
    if target_geometry is None:
        raise ValueError(f"a {kind} model needs a dataset with target sinograms (simulate with [target_geometry])")
    return MODEL_TYPES[kind](geometry, target_geometry, dtype=dtype, **m)


# ---- the training loop ---------------------------------------------------------------------------------------

def _distributed() -> tuple[int, int]:
    """Initialise torch.distributed under torchrun (``WORLD_SIZE`` > 1); returns (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _loss(out: torch.Tensor, target: torch.Tensor, kind: str, ssim_weight: float) -> torch.Tensor:
    mse = torch.mean((out - target) ** 2)
    if kind == "mse":
        return mse
    scale = torch.mean(target ** 2).clamp_min(torch.finfo(target.dtype).tiny)
    return mse / scale + ssim_weight * (1.0 - ssim(out, target).mean())


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The data order of ``epoch``: a permutation that depends only on (seed, epoch)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))


def _prepare_run_dir(out: Path, resume: bool, force: bool) -> None:
    if resume:
        if not (out / "checkpoint.pt").is_file():
            raise FileNotFoundError(f"{out}: no checkpoint.pt to resume from")
        return
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"{out} already exists and is not empty; pass --resume to continue its training "
                                  "or --force to start over")
        for name in ("checkpoint.pt", "model.pt", "metrics.csv", "metrics.json", "loss.png", "filter.png",
                     "config.toml"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_output(path, force=True) as tmp:
        torch.save(state, tmp)


def _write_metrics(out: Path, history: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    with atomic_output(out / "metrics.csv", force=True) as tmp:
        tmp.write_text(buf.getvalue())
    with atomic_output(out / "metrics.json", force=True) as tmp:
        tmp.write_text(json.dumps({"history": history, **summary}, indent=2))


def train(config: Union[PathLike, TrainConfig], out: PathLike, data: Optional[PathLike] = None,
          resume: bool = False, force: bool = False, epochs: Optional[int] = None, progress: bool = True
          ) -> dict[str, Any]:
    """Train the model of ``config`` and write the run folder ``out`` (see the module docstring).

    ``data`` overrides ``[data] file``; ``epochs`` overrides ``[training] epochs`` (e.g. to extend a run
    with ``resume``). Returns the summary written to ``metrics.json``.
    """
    from tqdm import tqdm

    cfg = config if isinstance(config, TrainConfig) else load_train_config(config)
    rank, world = _distributed()
    t_cfg = dict(cfg.training)
    if epochs is not None:
        t_cfg["epochs"] = epochs
    out = Path(out)
    if rank == 0:
        _prepare_run_dir(out, resume, force)
    if world > 1:
        dist.barrier()
    data_path = Path(data) if data is not None else None
    if data_path is None:
        if "file" not in cfg.data:
            raise ValueError("no training data: give --data FILE.h5 or [data] file in the config")
        data_path = cfg.base / cfg.data["file"]
    image_model = MODEL_TYPES[cfg.model["type"]].output_kind == "image"
    target_key = cfg.data.get("target", "images") if image_model else "target_sinograms"
    if not image_model and "target" in cfg.data:
        raise ValueError(f"[data] target applies to image models; a {cfg.model['type']} model learns "
                         "target_sinograms")
    if cfg.training["loss"] != "mse" and not image_model:
        raise ValueError("loss 'mse+ssim' needs image targets (learned_fbp, view_upsampled_fbp)")
    td = load_training_data(data_path, target_key, _selected_views(cfg.data, data_path), cfg.data.get("max_samples"))
    device = torch.device(t_cfg["device"] if t_cfg["device"] != "cuda" or torch.cuda.is_available() else "cpu")
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    seed = int(t_cfg["seed"])
    torch.manual_seed(seed)
    model = build_model(cfg.model, td.geometry, td.target_geometry, warn="angles" not in cfg.data).to(device)
    n = td.inputs.shape[0]
    n_val = max(1, int(round(cfg.data["val_fraction"] * n)))
    if n - n_val < 1:
        raise ValueError(f"{data_path}: {n} samples are too few for a validation split of {cfg.data['val_fraction']}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    params = model.learnable_parameters()
    if not params:
        raise ValueError("[model] learn selects no learnable parameters")
    optimiser = torch.optim.Adam(params, lr=float(t_cfg["lr"]))
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if resume:
        ckpt = torch.load(out / "checkpoint.pt", map_location=device, weights_only=False)
        if ckpt["config_text"] != cfg.text:
            raise ValueError(f"{out}: the checkpoint was made with a different config; resume with the same one")
        model.load_state_dict(ckpt["model"])
        optimiser.load_state_dict(ckpt["optimizer"])
        history, start_epoch = ckpt["history"], ckpt["epoch"]
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    batch = int(t_cfg["batch_size"])

    def batches(indices: torch.Tensor, size: int):
        for i in range(0, len(indices), size):
            j = indices[i:i + size]
            yield td.inputs[j].to(device), td.targets[j].to(device)

    baseline = None
    if t_cfg["init"].startswith("tuned") and start_epoch == 0:  # every process tunes the same start
        from ..analytic.arcs import tune_start

        t_fit = time.perf_counter()
        j = train_idx[:int(t_cfg["lstsq_samples"])]
        baseline = tune_start(model, td.inputs[j], td.targets[j])
        if progress and rank == 0:
            print(f"tuned limited-angle FBP start on {len(j)} samples: "
                  f"{'views completed, ' if baseline.complete_views else ''}{baseline.describe()}, mse "
                  f"{baseline.mse:.4g} ({time.perf_counter() - t_fit:.0f} s)", flush=True)
        baseline = baseline.to_dict()
    elif resume and start_epoch > 0:
        baseline = ckpt.get("baseline")
    if t_cfg["init"].endswith("lstsq") and start_epoch == 0:  # every process fits the same (deterministic) start
        t_fit = time.perf_counter()
        fit = fit_filter(model, batches(train_idx[:int(t_cfg["lstsq_samples"])], 2), ridge=float(t_cfg["ridge"]))
        if progress and rank == 0:
            print(f"least-squares start on {fit.n_samples} samples: mse {fit.loss_before:.4g} → {fit.loss:.4g} "
                  f"({time.perf_counter() - t_fit:.0f} s)", flush=True)
    lstsq = None
    if t_cfg["lstsq_check"] and rank == 0 and not model.filter.per_view and start_epoch == 0:
        probe = build_model(cfg.model, td.geometry, td.target_geometry, warn=False).to(device)
        probe.load_state_dict(model.state_dict())
        fit = fit_filter(probe, batches(train_idx, batch))
        lstsq = {"loss": fit.loss, "val_loss": mean_squared_error(probe, batches(val_idx, batch)),
                 "loss_analytic": fit.loss_before}
    elif resume and start_epoch > 0:
        lstsq = ckpt.get("lstsq")
    if rank == 0:
        with atomic_output(out / "config.toml", force=True) as tmp:
            tmp.write_text(cfg.text)
    t_start = time.perf_counter()
    for epoch in range(start_epoch, int(t_cfg["epochs"])):
        order = train_idx[_epoch_order(len(train_idx), seed, epoch)]
        order = order[:len(order) // world * world]  # equal shards: every process takes the same number of steps
        shard = order[rank::world]
        net.train()
        total, count = 0.0, 0
        bar = tqdm(batches(shard, batch), total=-(-len(shard) // batch), desc=f"epoch {epoch + 1}/{t_cfg['epochs']}",
                   leave=False, disable=None if progress and rank == 0 else True)  # None: only on a terminal
        t0 = time.perf_counter()
        for x, y in bar:
            optimiser.zero_grad(set_to_none=True)
            loss = _loss(net(x), y, t_cfg["loss"], float(t_cfg["ssim_weight"]))
            loss.backward()
            optimiser.step()
            total += loss.item() * len(x)
            count += len(x)
            bar.set_postfix(loss=f"{total / count:.4g}")
        stats = torch.tensor([total, count, 0.0, 0.0], dtype=torch.float64)
        model.eval()
        with torch.no_grad():
            for x, y in batches(val_idx[rank::world], batch):
                stats[2] += float(_loss(model(x), y, t_cfg["loss"], float(t_cfg["ssim_weight"]))) * len(x)
                stats[3] += len(x)
        if world > 1:
            dist.all_reduce(stats)
        row = {"epoch": epoch + 1, "train_loss": float(stats[0] / stats[1]),
               "val_loss": float(stats[2] / max(stats[3], 1)), "seconds": round(time.perf_counter() - t0, 3)}
        history.append(row)
        if rank == 0:
            _save_checkpoint(out / "checkpoint.pt", {
                "epoch": epoch + 1, "model": model.state_dict(), "optimizer": optimiser.state_dict(),
                "history": history, "config_text": cfg.text, "seed": seed, "lstsq": lstsq, "baseline": baseline})
            if progress:
                print(f"epoch {epoch + 1:3d}: train {row['train_loss']:.5g}  val {row['val_loss']:.5g}  "
                      f"({row['seconds']:.1f} s)", flush=True)
    summary: dict[str, Any] = {
        "model": type(model).__name__, "learn": list(model.learn), "data": str(td.path), "target": target_key,
        "views": None if cfg.data.get("views") is None else int(cfg.data["views"]),
        "angles": cfg.data.get("angles"), "n_train": len(train_idx),
        "n_val": len(val_idx), "seed": seed, "world_size": world, "geometry": td.geometry.to_dict(),
        "train_seconds": round(time.perf_counter() - t_start, 3), "lstsq": lstsq}
    if baseline is not None:
        summary["limited_angle_baseline"] = baseline
    if rank == 0 and history:
        summary["final_train_mse"] = mean_squared_error(model, batches(train_idx, batch))
        if lstsq:
            summary["gap_to_lstsq"] = summary["final_train_mse"] / lstsq["loss"] - 1.0
        save_model(model, out / "model.pt", force=True, extra={"config": cfg.text, "summary": summary})
        _write_metrics(out, history, summary)
        from ..evaluation.report import plot_filter, plot_loss

        plot_loss(history, out / "loss.png", lstsq)
        plot_filter(model, out / "filter.png")
    if world > 1:
        dist.barrier()
    return summary
