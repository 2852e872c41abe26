"""The one conversion of an operator's input — numpy array or torch tensor — to a float tensor, shared by the 2-D
(:mod:`.functional`) and cone-beam (:mod:`.cone`) operators."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["float_tensor"]


def float_tensor(name: str, kind: str, data: Any) -> tuple[torch.Tensor, bool]:
    """``(tensor, was_numpy)`` for a float32/float64 numpy array or torch tensor (no copy where none is needed);
    ``TypeError`` naming ``name`` and ``kind`` for anything else."""
    was_numpy = isinstance(data, np.ndarray)
    if was_numpy:
        if data.dtype.kind != "f":
            raise TypeError(f"{name}: {kind} must be float32 or float64, got numpy dtype {data.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(data))
    elif isinstance(data, torch.Tensor):
        x = data
    else:
        raise TypeError(f"{name}: {kind} must be a torch.Tensor or numpy.ndarray, got {type(data).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name}: {kind} must be float32 or float64, got {x.dtype} "
                        "(convert with .float() or .double())")
    return x, was_numpy
