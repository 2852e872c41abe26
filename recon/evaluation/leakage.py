"""Test samples that are training samples: a model scored on the phantoms it was trained on is not held out.

``recon simulate`` is deterministic: the same config and seed give byte-identical samples, so a test file made
"the obvious way" (the training config, its seed) is the training file again. :func:`training_overlap` compares
the phantoms (``images``, SHA-256 of each sample) of a test file with those of the model's training file (found
as for the tuned baselines: :func:`recon.evaluation.training_data.find_training_file`); ``recon evaluate``
warns and writes the overlap into its report.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional

from ..io.checksums import file_sha256
from ..models import KnownOperatorModel
from ..simulation.dataset import SimulatedDataset
from .training_data import find_training_file

__all__ = ["training_overlap", "warn_overlap"]

SHOWN = 5  # sample indices named in the message


def training_overlap(model: KnownOperatorModel, data_path: Path) -> Optional[dict[str, Any]]:
    """``{"n": shared, "of": test samples, "indices": [...], "training_data": path, "same_file": bool}`` when
    test samples of ``data_path`` are phantoms of the model's training file; None when none are, or when the run
    records no training file that can be found."""
    train = find_training_file(model)
    if train is None:
        return None
    test = SimulatedDataset(data_path, keys=("images",))
    same_file = file_sha256(train) == file_sha256(data_path)
    if same_file:
        shared = list(range(len(test)))
    else:
        seen = set(SimulatedDataset(train, keys=("images",)).sample_digests())
        shared = [i for i, d in enumerate(test.sample_digests()) if d in seen]
    if not shared:
        return None
    return {"n": len(shared), "of": len(test), "indices": shared, "training_data": str(train),
            "same_file": same_file}


def overlap_text(overlap: dict[str, Any], data_path: Path) -> str:
    """The sentence that says it (warning and report)."""
    shown = ", ".join(map(str, overlap["indices"][:SHOWN])) + (", …" if overlap["n"] > SHOWN else "")
    what = "is the model's training file" if overlap["same_file"] else \
        f"shares phantoms with the model's training file {overlap['training_data']}"
    return (f"{data_path} {what}: {overlap['n']} of {overlap['of']} test samples are training samples "
            f"(samples {shown}), so their scores are not held out; simulate the test file with another seed "
            "(recon simulate --config … --seed 1)")


def warn_overlap(model: KnownOperatorModel, data_path: Path) -> Optional[dict[str, Any]]:
    """:func:`training_overlap`, said in a warning when there is one; returns it with its ``text``."""
    overlap = training_overlap(model, data_path)
    if overlap is not None:
        overlap["text"] = overlap_text(overlap, data_path)
        warnings.warn(overlap["text"])
    return overlap
