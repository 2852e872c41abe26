"""The fair analytic baseline: FBP with the window and cut-off tuned on data (DIVal-style grid search).

A learned model must be compared with the best analytic FBP a user could get by choosing a filter, not only
with Ram-Lak. :func:`tune_fbp` evaluates every window of :mod:`recon.filters` at a grid of cut-offs on
tuning data with known ground truth and returns the one with the lowest mean squared error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from .fbp import FBP
from .filters import WINDOWS
from .geometry import Geometry

__all__ = ["TunedFilter", "tune_fbp", "DEFAULT_CUTOFFS"]

DEFAULT_CUTOFFS = tuple(np.round(np.arange(0.3, 1.01, 0.1), 2))


@dataclass(frozen=True)
class TunedFilter:
    """The best window/cut-off (``filter``, ``cutoff``), its tuning MSE, and the MSE of every candidate
    (``scores``: ``{(window, cutoff): mse}``)."""

    filter: str
    cutoff: float
    mse: float
    scores: dict

    def describe(self) -> str:
        return f"{self.filter}, cut-off {self.cutoff:g}"


def tune_fbp(sinograms: torch.Tensor, images: torch.Tensor, geometry: Geometry,
             windows: Sequence[str] = WINDOWS, cutoffs: Sequence[float] = DEFAULT_CUTOFFS,
             batch_size: int = 16, backend: Optional[str] = None) -> TunedFilter:
    """Grid-search the FBP filter on ``sinograms`` ``[n, n_views, n_det]`` (line integrals in ``geometry``)
    against ``images`` ``[n, N, N]`` (μ, 1/mm). Ram-Lak has no window, so only its cut-off is searched."""
    if sinograms.shape[0] != images.shape[0] or sinograms.shape[0] == 0:
        raise ValueError(f"need matching, non-empty sinograms and images, got {tuple(sinograms.shape)} and "
                         f"{tuple(images.shape)}")
    scores: dict = {}
    for window in windows:
        for cutoff in cutoffs:
            layer = FBP(geometry, window, float(cutoff), dtype=sinograms.dtype, backend=backend, warn=False)
            total = 0.0
            with torch.no_grad():
                for i in range(0, sinograms.shape[0], batch_size):
                    out = layer(sinograms[i:i + batch_size])
                    total += float(((out.double() - images[i:i + batch_size].double()) ** 2).sum())
            scores[(window, float(cutoff))] = total / images.numel()
    (window, cutoff), mse = min(scores.items(), key=lambda item: item[1])
    return TunedFilter(window, cutoff, mse, scores)
