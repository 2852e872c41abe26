"""``recon train``: fit a known-operator model to a simulated dataset (config: :mod:`recon.training.config`).

Training runs in named steps — the run folder, the data and the model, the analytic or least-squares start,
the least-squares check, the epochs, the outputs. The run folder receives ``config.toml``, ``checkpoint.pt``
(written atomically after every epoch, so resuming continues exactly where it stopped: the data order of each
epoch depends only on the seed and the epoch), ``model.pt`` (:func:`recon.models.load_model`),
``metrics.csv`` / ``metrics.json``, ``loss.png`` and ``filter.png``.

Under ``torchrun --nproc_per_node N`` the same command trains with DistributedDataParallel (gloo on CPU,
NCCL on GPU), each process on its share of every epoch; only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import torch
import torch.distributed as dist
from tqdm import tqdm

from .._checks import integer, one_line, torch_device
from ..io.atomic import atomic_output
from ..io.checksums import file_sha256
from ..io.locks import LOCK_NAME, folder_lock
from ..models import KnownOperatorModel, build_model, fit_filter, mean_squared_error, save_model, tune_start
from ..models.serialization import load_refusal, record_checksum, record_intact, state_checksum
from ..simulation.dataset import Samples, load_samples
from .._logging import logger, progress_disabled
from .arcs import ArcSampler
from .config import TrainConfig, load_train_config
from .figures import plot_filter, plot_loss
from .losses import training_loss

__all__ = ["train", "load_checkpoint"]

PathLike = Union[str, os.PathLike]
RUN_FILES = ("checkpoint.pt", "model.pt", "metrics.csv", "metrics.json", "loss.png", "filter.png", "config.toml")


@dataclass
class _Run:
    """What the steps of one training run share."""

    cfg: TrainConfig
    settings: dict[str, Any]
    out: Path
    rank: int
    world: int
    progress: bool
    data: Samples = None
    model: KnownOperatorModel = None
    device: torch.device = None
    train_idx: torch.Tensor = None
    val_idx: torch.Tensor = None
    optimiser: torch.optim.Optimizer = None
    history: list = field(default_factory=list)
    start_epoch: int = 0
    checkpoint: dict = field(default_factory=dict)
    baseline: Optional[dict] = None
    lstsq: Optional[dict] = None
    data_sha256: str = ""
    arcs: Optional[ArcSampler] = None

    def loss(self, net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epoch: int, batch: int) -> torch.Tensor:
        """The training loss of one batch (of training ``epoch``, or validation for ``epoch = -1``); with
        ``[data] arcs`` the batch's full scans are cut to the batch's arc first."""
        kwargs = {}
        if self.arcs is not None:
            idx, geometry = self.arcs.validation(batch) if epoch < 0 else self.arcs.draw(self.seed, epoch, batch)
            x, kwargs = x[:, torch.from_numpy(idx).to(x.device)], {"geometry": geometry}
        s = self.settings
        return training_loss(net(x, **kwargs), y, s["loss"], float(s["ssim_weight"]), float(s["segmentation_weight"]))

    @property
    def seed(self) -> int:
        return int(self.settings["seed"])

    def batches(self, indices: torch.Tensor, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for i in range(0, len(indices), size):
            j = indices[i:i + size]
            yield self.data.inputs[j].to(self.device), self.data.targets[j].to(self.device)

    def say(self, message: str) -> None:
        if self.progress and self.rank == 0:
            logger.info(message)


class TrainingDiverged(ValueError):
    """The training or validation loss became NaN/Inf: nothing of that epoch is kept."""


def _distributed() -> tuple[int, int]:
    """Initialise torch.distributed under torchrun (``WORLD_SIZE`` > 1); returns (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The data order of ``epoch``: a permutation that depends only on (seed, epoch)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))


def _prepare_run_dir(out: Path, resume: bool, force: bool) -> None:
    """Check the run folder (locked by the caller) and, for a new run with ``force``, clear the run's files."""
    if resume:
        if not (out / "checkpoint.pt").is_file():
            raise FileNotFoundError(f"{out}: no checkpoint.pt to resume from (the run failed or stopped before its "
                                    "first epoch ended): start over with --force")
        return
    if out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):
        if not force:
            hint = "resume its training (--resume) or" if (out / "checkpoint.pt").is_file() else \
                "it holds no checkpoint to resume from (a failed run?):"
            raise FileExistsError(f"{out} already exists and is not empty; {hint} start over with --force")
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _load_data_and_model(run: _Run, data: Optional[PathLike]) -> None:
    """The samples of the run (views or arc of the config), the device, the model and the train/val split."""
    cfg = run.cfg
    path = cfg.data_path(data)
    run.device = torch_device(run.settings["device"])
    run.data = load_samples(path, cfg.target, cfg.views(path), cfg.data.get("max_samples"))
    geometry, model_table = run.data.geometry, cfg.model
    if cfg.arcs is not None:  # one model for every arc: built for the longest, trained on arcs drawn per batch
        run.arcs = ArcSampler(geometry, *cfg.arcs)
        geometry, model_table = run.arcs.longest_arc(), {**cfg.model, "arcs": list(cfg.arcs)}
    # what --resume must find again: the SHA-256 of the samples (as of a model's parameters)
    run.data_sha256 = state_checksum({"inputs": run.data.inputs, "targets": run.data.targets})
    if run.world > 1 and run.device.type == "cuda":
        run.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    # the samples live on the device: no host round trip per batch
    run.data.inputs, run.data.targets = run.data.inputs.to(run.device), run.data.targets.to(run.device)
    torch.manual_seed(run.seed)
    run.model = build_model(model_table, geometry, run.data.target_geometry,
                            warn="angles" not in cfg.data, volume=run.data.volume).to(run.device)
    n = run.data.inputs.shape[0]
    n_val = max(1, int(round(cfg.data["val_fraction"] * n)))
    if n - n_val < 1:
        raise ValueError(f"{path}: {n} samples are too few for a validation split of {cfg.data['val_fraction']}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(run.seed))
    run.val_idx, run.train_idx = perm[:n_val], perm[n_val:]


def _optimiser_and_resume(run: _Run, resume: bool) -> None:
    params = run.model.learnable_parameters()
    if not params:
        raise ValueError("[model] learn selects no learnable parameters")
    run.optimiser = torch.optim.Adam(params, lr=float(run.settings["lr"]))
    if resume:
        ckpt = load_checkpoint(run.out / "checkpoint.pt", run.device)
        if ckpt["epoch"] > int(run.settings["epochs"]):
            raise ValueError(f"{run.out}: the checkpoint is at epoch {ckpt['epoch']}, beyond the config's "
                             f"{run.settings['epochs']} epochs")
        if ckpt["config_text"] != run.cfg.text:
            raise ValueError(f"{run.out}: the checkpoint was made with a different config; resume with the same one")
        if ckpt.get("data_sha256", run.data_sha256) != run.data_sha256:  # checkpoints before 0.2 carry none
            raise ValueError(f"{run.out}: the checkpoint was trained on other data than {run.data.path} (the samples' "
                             "checksums differ); resume with the data the run started with")
        try:
            run.model.load_state_dict(ckpt["model"])
            run.optimiser.load_state_dict(ckpt["optimizer"])
        except (RuntimeError, ValueError, TypeError, KeyError, AttributeError) as err:
            raise ValueError(f"{run.out}: the checkpoint's parameters do not fit the model of the config "
                             f"({one_line(err)[:200]}); start over with --force") from None
        run.history, run.start_epoch, run.checkpoint = ckpt["history"], ckpt["epoch"], ckpt
        if run.start_epoch > 0:
            run.baseline, run.lstsq = ckpt.get("baseline"), ckpt.get("lstsq")


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """A run's ``checkpoint.pt``, loaded without executing code (``weights_only``: tensors, dicts, lists,
    strings, numbers); a file that needs more, or lacks a key, is refused."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # torch raises many kinds for corrupt, foreign or code-carrying files
        raise ValueError(f"{path}: not a readable recon checkpoint; it is not loaded ({load_refusal(err)[:300]})") \
            from None
    missing = [k for k in ("epoch", "model", "optimizer", "history", "config_text") if not isinstance(ckpt, dict)
               or k not in ckpt]
    if missing:
        raise ValueError(f"{path}: not a recon checkpoint (missing {', '.join(missing)})")
    if not record_intact(ckpt, "sha256"):  # (checkpoints before recon 0.2 carry none)
        raise ValueError(f"{path}: the checkpoint is corrupt (its checksum does not match the one stored in it); "
                         "it is not resumed from: start over with --force")
    epoch, history = ckpt["epoch"], ckpt["history"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0 or not isinstance(history, list) \
            or len(history) != epoch:
        kept = len(history) if isinstance(history, list) else "no"
        raise ValueError(f"{path}: not a valid recon checkpoint (epoch {epoch!r} with {kept} epochs of history); "
                         "start over with --force")
    return ckpt


def _initialise(run: _Run) -> None:
    """The start of a new run: the tuned limited-angle recipe and/or the least-squares filter (every process
    computes the same deterministic start)."""
    init, n_fit = run.settings["init"], int(run.settings["lstsq_samples"])
    j = run.train_idx[:n_fit]
    if init.startswith("tuned"):
        t0 = time.perf_counter()
        tuned = tune_start(run.model, run.data.inputs[j], run.data.targets[j])
        run.say(f"tuned limited-angle FBP start on {len(j)} samples: "
                f"{'views completed, ' if tuned.recipe.complete_views else ''}{tuned.describe()}, mse "
                f"{tuned.mse:.4g} ({time.perf_counter() - t0:.0f} s)")
        run.baseline = tuned.to_dict()
    if init.endswith("lstsq"):
        t0 = time.perf_counter()
        fit = fit_filter(run.model, run.batches(j, 2), ridge=float(run.settings["ridge"]))
        run.say(f"least-squares start on {fit.n_samples} samples: mse {fit.loss_before:.4g} → {fit.loss:.4g} "
                f"({time.perf_counter() - t0:.0f} s)")


def _lstsq_check(run: _Run) -> None:
    """The least-squares optimum of the shared filter from the run's start: the loss training cannot beat."""
    if not run.settings["lstsq_check"] or run.rank != 0 or not run.model.has_filter or run.model.filter.per_view:
        return
    probe = build_model(run.cfg.model, run.data.geometry, run.data.target_geometry, warn=False,
                        volume=run.data.volume).to(run.device)
    probe.load_state_dict(run.model.state_dict())
    batch = int(run.settings["batch_size"])
    fit = fit_filter(probe, run.batches(run.train_idx, batch))
    run.lstsq = {"loss": fit.loss, "val_loss": mean_squared_error(probe, run.batches(run.val_idx, batch)),
                 "loss_analytic": fit.loss_before}


def _lr_factor(schedule: str, step: int, total: int) -> float:
    """The learning rate of ``step`` of ``total`` relative to ``[training] lr``: 1 (``constant``) or a half
    cosine from 1 to 0 over the run (``cosine``; Loshchilov & Hutter, SGDR, ICLR 2017)."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))
    return 1.0


def _epoch(run: _Run, net: torch.nn.Module, epoch: int) -> dict[str, Any]:
    """One epoch over this process's shard, then the validation loss (all-reduced); returns the history row."""
    s, batch = run.settings, int(run.settings["batch_size"])
    order = run.train_idx[_epoch_order(len(run.train_idx), run.seed, epoch)]
    shard = order[:len(order) // run.world * run.world][run.rank::run.world]  # equal shards: same step count
    net.train()
    total, count = 0.0, 0
    bar = tqdm(run.batches(shard, batch), total=-(-len(shard) // batch), desc=f"epoch {epoch + 1}/{s['epochs']}",
               leave=False, disable=progress_disabled() if run.progress and run.rank == 0 else True)
    t0 = time.perf_counter()
    show = bar.disable is False  # the progress bar's loss costs a device sync per step: only on a terminal
    steps = -(-len(shard) // batch)
    for b, (x, y) in enumerate(bar):
        run.optimiser.zero_grad(set_to_none=True)
        for group in run.optimiser.param_groups:  # a function of the step alone: resuming continues exactly
            group["lr"] = float(s["lr"]) * _lr_factor(s["schedule"], epoch * steps + b, int(s["epochs"]) * steps)
        loss = run.loss(net, x, y, epoch, b * run.world + run.rank)
        loss.backward()
        if float(s["grad_clip"]) > 0:
            torch.nn.utils.clip_grad_norm_(run.model.learnable_parameters(), float(s["grad_clip"]))
        run.optimiser.step()
        total = total + loss.detach().double() * len(x)
        count += len(x)
        if show:
            bar.set_postfix(loss=f"{float(total) / count:.4g}")
    stats = torch.tensor([float(total), count, 0.0, 0.0], dtype=torch.float64)
    run.model.eval()
    with torch.no_grad():
        for b, (x, y) in enumerate(run.batches(run.val_idx[run.rank::run.world], batch)):
            stats[2] += float(run.loss(run.model, x, y, -1, b * run.world + run.rank)) * len(x)
            stats[3] += len(x)
    if run.world > 1:
        dist.all_reduce(stats)
    train_loss, val_loss = float(stats[0] / stats[1]), float(stats[2] / max(stats[3], 1))
    if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
        raise TrainingDiverged(f"epoch {epoch + 1}: the training loss became {train_loss:.4g} and the validation "
                               f"loss {val_loss:.4g}; stopped without saving this epoch (the checkpoint of epoch "
                               f"{epoch} is kept): lower the learning rate")
    return {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
            "seconds": round(time.perf_counter() - t0, 3)}


def _save_checkpoint(run: _Run, epoch: int) -> None:
    state = {"epoch": epoch, "model": run.model.state_dict(), "optimizer": run.optimiser.state_dict(),
             "history": run.history, "config_text": run.cfg.text, "seed": run.seed, "lstsq": run.lstsq,
             "baseline": run.baseline, "data_sha256": run.data_sha256}
    state["sha256"] = record_checksum(state)  # the whole checkpoint: a flipped bit is not resumed from
    with atomic_output(run.out / "checkpoint.pt", force=True) as tmp:
        torch.save(state, tmp)


def _summary(run: _Run, seconds: float) -> dict[str, Any]:
    cfg, model = run.cfg, run.model
    data = Path(run.data.path).resolve()
    summary: dict[str, Any] = {
        "model": type(model).__name__, "learn": list(model.learn), "data": str(data),
        "data_file_sha256": file_sha256(data), "data_bytes": data.stat().st_size,  # found again by checksum
        "target": cfg.target,
        "views": None if cfg.data.get("views") is None else int(cfg.data["views"]),
        "angles": cfg.data.get("angles"), "arcs": cfg.data.get("arcs"), "n_train": len(run.train_idx), "n_val": len(run.val_idx), "seed": run.seed,
        "world_size": run.world, "geometry": run.data.geometry.to_dict(), "train_seconds": round(seconds, 3),
        "lstsq": run.lstsq}
    if run.baseline is not None:
        summary["limited_angle_baseline"] = run.baseline
    return summary


def _write_outputs(run: _Run, summary: dict[str, Any]) -> None:
    """``metrics.csv``/``metrics.json``, the figures and then ``model.pt`` (rank 0, after the last epoch)."""
    if run.arcs is None and run.model.has_filter:  # (an unrolled network is scored on its validation data only:
        # a pass over every training scan costs minutes there; the filter models need it for the lstsq gap)
        summary["final_train_mse"] = mean_squared_error(run.model, run.batches(run.train_idx,
                                                                               int(run.settings["batch_size"])))
    if run.lstsq:
        summary["gap_to_lstsq"] = summary["final_train_mse"] / run.lstsq["loss"] - 1.0
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(run.history[0]))
    writer.writeheader()
    writer.writerows(run.history)
    with atomic_output(run.out / "metrics.csv", force=True) as tmp:
        tmp.write_text(buf.getvalue())
    with atomic_output(run.out / "metrics.json", force=True) as tmp:
        tmp.write_text(json.dumps({"history": run.history, **summary}, indent=2))
    plot_loss(run.history, run.out / "loss.png", run.lstsq)
    if run.model.has_filter:
        plot_filter(run.model, run.out / "filter.png")
    # last: a run folder with model.pt is complete (a kill before it is resumed by writing the outputs again)
    save_model(run.model, run.out / "model.pt", force=True, extra={"config": run.cfg.text, "summary": summary})


def train(config: Union[PathLike, TrainConfig], out: PathLike, data: Optional[PathLike] = None,
          resume: bool = False, force: bool = False, epochs: Optional[int] = None, progress: bool = True,
          device: Optional[str] = None) -> dict[str, Any]:
    """Train the model of ``config`` and write the run folder ``out`` (see the module docstring).

    ``data`` overrides ``[data] file``; ``epochs`` overrides ``[training] epochs`` (e.g. to extend a run
    with ``resume``); ``device`` overrides ``[training] device`` ("cpu", "cuda", "cuda:1"; no silent fallback
    to the CPU). Returns the summary written to ``metrics.json``.
    """
    cfg = config if isinstance(config, TrainConfig) else load_train_config(config)
    rank, world = _distributed()
    overrides = {"epochs": epochs, "device": device}
    settings = {**cfg.training, **{k: v for k, v in overrides.items() if v is not None}}
    settings["epochs"] = integer("epochs", settings["epochs"], 1)
    torch_device(settings["device"])  # before anything is written
    run = _Run(cfg, settings, Path(out), rank, world, progress)
    with folder_lock(run.out) if rank == 0 else contextlib.nullcontext():  # one run per folder at a time
        return _train(run, cfg, settings, data, resume, force)


def _train(run: _Run, cfg: TrainConfig, settings: dict, data: Optional[PathLike], resume: bool, force: bool
           ) -> dict[str, Any]:
    """:func:`train` in its locked run folder."""
    rank, world = run.rank, run.world
    if rank == 0:
        _prepare_run_dir(run.out, resume, force)
    if world > 1:
        dist.barrier()
    _load_data_and_model(run, data)
    _optimiser_and_resume(run, resume)
    if run.start_epoch >= settings["epochs"] and (run.out / "model.pt").is_file():
        raise ValueError(f"{run.out}: the run has trained {run.start_epoch} epoch(s) already; ask for more epochs "
                         "to extend it")
    if run.start_epoch == 0:
        _initialise(run)
        _lstsq_check(run)
    if rank == 0:
        with atomic_output(run.out / "config.toml", force=True) as tmp:
            tmp.write_text(cfg.text)
    net = torch.nn.parallel.DistributedDataParallel(run.model) if world > 1 else run.model
    t_start = time.perf_counter()
    for epoch in range(run.start_epoch, int(settings["epochs"])):
        run.history.append(row := _epoch(run, net, epoch))
        if rank == 0:
            _save_checkpoint(run, epoch + 1)
            run.say(f"epoch {epoch + 1:3d}: train {row['train_loss']:.5g}  val {row['val_loss']:.5g}  "
                    f"({row['seconds']:.1f} s)")
    summary = _summary(run, time.perf_counter() - t_start)
    if rank == 0 and run.history:
        _write_outputs(run, summary)
    if world > 1:
        dist.barrier()
    return summary
