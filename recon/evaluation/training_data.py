"""Finding a trained model's simulated training data again, for the baselines tuned on it.

A run records its training file as an absolute path, with the SHA-256 and size of its bytes (since recon 0.2;
older runs record a path only, perhaps relative to the folder training ran in). The file is taken where the run
recorded it only if its checksum still matches; otherwise — moved, renamed, or replaced by another file of the
same name — the file is searched by checksum among the HDF5 files (``*.h5``, ``*.hdf5``) of the recorded folder,
the run folder, the folder above it and the current folder (only files of the recorded size are read). What could
not be found is said once per model in a warning and by :func:`training_data_problem`, which ``recon compare``
writes into its report.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Optional

from ..io.checksums import file_sha256
from ..models import KnownOperatorModel, training_summary

__all__ = ["find_training_file", "training_data_problem"]

SUFFIXES = (".h5", ".hdf5")


def _matches(path: Path, sha256: str, size: Optional[int]) -> bool:
    try:
        return path.is_file() and (size is None or path.stat().st_size == size) and file_sha256(path) == sha256
    except OSError:
        return False


def _search(folders: list[Path], sha256: str, size: Optional[int]) -> Optional[Path]:
    """The first HDF5 file in ``folders`` (not below them) whose bytes have ``sha256``."""
    seen = set()
    for folder in folders:
        try:
            entries = sorted(folder.iterdir()) if folder.is_dir() else []
        except OSError:
            continue
        for path in entries:
            if path.suffix.lower() in SUFFIXES and path.resolve() not in seen:
                seen.add(path.resolve())
                if _matches(path, sha256, size):
                    return path
    return None


def _locate(model: KnownOperatorModel) -> tuple[Optional[Path], str]:
    """(the training file or None, why it is not there: "" when found or when the run records none)."""
    summary = training_summary(model)
    data = summary.get("data")
    if not data:
        return None, ""
    recorded, run = Path(data), Path(getattr(model, "path", None) or ".").parent
    sha256, size = summary.get("data_file_sha256"), summary.get("data_bytes")
    if sha256:
        if _matches(recorded, sha256, size):
            return recorded, ""
        found = _search([recorded.parent, run, run.parent, Path(os.getcwd())], sha256, size)
        if found is not None:
            return found, ""
        state = "has changed since training" if recorded.is_file() else "is not found"
        return None, (f"its training data {data} {state}, and no HDF5 file with its SHA-256 {sha256[:12]}… lies "
                      "beside it, beside the run or above it, or in the current folder")
    candidates = [recorded] if recorded.is_absolute() else [recorded, run / recorded, run.parent / recorded]
    for candidate in candidates + [run / recorded.name, run.parent / recorded.name]:
        if candidate.is_file():  # a run before recon 0.2: found by path alone
            return candidate, ""
    return None, f"its training data {data} is not found (as recorded, beside the run or above it)"


def find_training_file(model: KnownOperatorModel) -> Optional[Path]:
    """The model's simulated training file (see the module's docstring), or None; warns once per model when
    the run records one that cannot be found, saying that the baselines tuned on it are left out."""
    path, problem = _locate(model)
    model._training_data_problem = problem
    if problem and not getattr(model, "_missing_data_said", False):
        model._missing_data_said = True
        warnings.warn(f"{getattr(model, 'path', 'the model')}: {problem}: the baselines tuned on it are left out")
    return path


def training_data_problem(model: KnownOperatorModel) -> str:
    """Why the baselines tuned on the model's training data are left out ("" when they are not)."""
    if not hasattr(model, "_training_data_problem"):
        find_training_file(model)
    return model._training_data_problem
