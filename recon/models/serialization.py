"""Saving and loading known-operator models together with the geometry they were built for."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any, Optional, Union

import torch

from .._checks import one_line
from .._version import __version__
from ..io.atomic import atomic_output
from .base import KnownOperatorModel
from .registry import MODELS, model_class

__all__ = ["save_model", "load_model", "training_summary", "state_checksum", "record_checksum", "record_intact"]

FORMAT = "recon-model-v1"


def state_checksum(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over a state dict's names, dtypes, shapes and bytes (in name order): a file whose tensor
    bytes were changed after saving no longer matches the checksum stored in it."""
    digest = hashlib.sha256()
    for name in sorted(state):
        _feed_tensor(digest, name, state[name])
    return digest.hexdigest()


def _feed_tensor(digest: Any, label: str, tensor: torch.Tensor) -> None:
    """Add ``"<label>|<dtype>|<shape>|"`` and the tensor's bytes to ``digest``."""
    tensor = tensor.detach().cpu().contiguous()
    digest.update(f"{label}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
    digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")


def _feed(digest: Any, value: Any) -> None:
    """Add ``value`` (nested dicts, lists, tensors, numbers, strings) to ``digest``, each item with its type."""
    if isinstance(value, torch.Tensor):
        _feed_tensor(digest, "T", value)
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}|".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}|".encode())
        for item in value:
            _feed(digest, item)
    elif value is None or isinstance(value, (bool, int, float, str, torch.dtype)):
        digest.update(f"{type(value).__name__}|{value!r}|".encode())
    else:
        raise TypeError(f"cannot checksum a {type(value).__name__}")


def record_checksum(record: Any) -> str:
    """SHA-256 over a whole record — nested dicts (in key order), lists, tensors (dtype, shape, bytes), numbers,
    strings: a model or checkpoint file none of whose stored values (parameters, configuration, geometry,
    metadata, epoch) changed after saving matches the checksum stored in it."""
    digest = hashlib.sha256()
    _feed(digest, record)
    return digest.hexdigest()


def record_intact(record: dict, key: str) -> bool:
    """Whether a loaded ``record`` (a model payload, a checkpoint) matches the :func:`record_checksum` it stores
    under ``key`` — over everything but that key; True for a record that stores none (written before recon 0.2),
    False for one that holds values no saved record holds."""
    stored = record.get(key)
    if stored is None:
        return True
    try:
        return stored == record_checksum({k: v for k, v in record.items() if k != key})
    except TypeError:
        return False


def load_refusal(err: BaseException) -> str:
    """Why ``torch.load(..., weights_only=True)`` refused a file, as one line without torch's advice to retry with
    ``weights_only=False`` (which would run the code a crafted file carries)."""
    if isinstance(err, pickle.UnpicklingError):
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), "")
        return ("it holds Python objects that would run code when loaded; recon never loads those"
                + (f" ({detail.rstrip('.')})" if detail else ""))
    return one_line(err)


def _non_finite(state: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors of ``state`` holding NaN or Inf."""
    return [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def save_model(model: KnownOperatorModel, path: Union[str, os.PathLike], force: bool = False,
               extra: Optional[dict[str, Any]] = None) -> Path:
    """Write ``model`` (class, constructor config with its geometries, parameters and buffers) to ``path``
    atomically; refuses to overwrite an existing file unless ``force``. ``extra`` (JSON-like) is stored
    alongside, e.g. training metadata."""
    name = type(model).__name__
    if type(model) not in MODELS.values():
        raise TypeError(f"cannot save a {name}; known models: {sorted(c.__name__ for c in MODELS.values())}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    bad = _non_finite(state)
    if bad:
        raise ValueError(f"{path}: not saved: the model's {', '.join(bad)} hold NaN/Inf values")
    payload = {"format": FORMAT, "recon_version": __version__, "class": name, "config": model.config(),
               "state_dict": state, "sha256": state_checksum(state), "extra": extra or {}}
    payload["record_sha256"] = record_checksum(payload)  # the whole record: a flipped bit anywhere is caught
    with atomic_output(path, force) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_model(path: Union[str, os.PathLike], map_location: Union[str, torch.device] = "cpu"
               ) -> KnownOperatorModel:
    """Load a model written by :func:`save_model` (or a training run's ``model.pt``; a run folder stands for
    its ``model.pt``). The stored extra metadata is available as ``model.metadata``, the file as
    ``model.path``."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many kinds for corrupt or foreign files
        raise ValueError(f"{path}: not a readable recon model ({load_refusal(err)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a recon model file (expected format {FORMAT!r})")
    try:
        cls = model_class(str(payload.get("class")))
    except ValueError:
        raise ValueError(f"{path}: unknown model class {payload.get('class')!r}") from None
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a recon model file (no state dict of tensors)")
    stored = payload.get("sha256")  # files of recon 0.1 carry none
    if stored is not None and stored != state_checksum(state):
        raise ValueError(f"{path}: the model's parameters are corrupt (their checksum does not match the one "
                         "stored in the file)")
    if not record_intact(payload, "record_sha256"):
        raise ValueError(f"{path}: the model file is corrupt: its stored configuration, geometry or metadata "
                         "changed after saving (the record's checksum does not match the one stored in it)")
    bad = _non_finite(state)
    if bad:
        raise ValueError(f"{path}: the model's {', '.join(bad)} hold NaN/Inf values")
    extra = payload.get("extra", {})
    if not isinstance(payload.get("config"), dict) or not isinstance(extra, dict) \
            or not isinstance(extra.get("summary", {}) or {}, dict):
        raise ValueError(f"{path}: not a recon model file (its config, metadata or training summary is not a table)")
    try:
        model = cls.from_config(payload["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: the model's stored configuration is unusable ({one_line(err)})") from None
    model.to(next(iter(state.values())).dtype if state else torch.float32)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:  # missing, unexpected or mis-shaped tensors
        raise ValueError(f"{path}: the stored parameters do not fit a {cls.__name__} ({one_line(err)})") from None
    model.metadata = payload.get("extra", {})
    model.path = path
    return model


def training_summary(model: KnownOperatorModel) -> dict[str, Any]:
    """The ``summary`` a ``recon train`` run stored with a loaded model (training data, target, tuned
    baselines, ...); empty for models built in memory."""
    return getattr(model, "metadata", {}).get("summary") or {}
