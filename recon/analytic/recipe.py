"""The fair analytic baseline: FBP with the window and cut-off tuned on data (DIVal-style grid search).

A learned model must be compared with the best analytic FBP a user could get by choosing a filter, not only
with Ram-Lak. :func:`tune_fbp` evaluates every window of :mod:`recon.filters` at a grid of cut-offs on
tuning data with known ground truth and returns the one with the lowest mean squared error. For sparse
full scans it can also search the angular upsampling of view-interpolated FBP (:mod:`recon.views`), the
analytic method a sparse-view learned model has to beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from .filtered_backprojection import FBP, fbp
from .filters import WINDOWS
from ..geometry import Geometry
from .views import upsample_views

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
    upsample: int = 1

    def describe(self) -> str:
        views = f"views interpolated ×{self.upsample}, " if self.upsample > 1 else ""
        return f"{views}{self.filter}, cut-off {self.cutoff:g}"

    def restricted(self, factors: Sequence[int]) -> "TunedFilter":
        """The best of the scored choices whose view-interpolation factor is one of ``factors``."""
        return _best(self.scores, factors)

    def reconstruct(self, sinogram, geometry: Geometry, backend: Optional[str] = None):
        """FBP of ``sinogram`` ``[..., V, D]`` (torch or numpy) in ``geometry`` with this choice."""
        if self.upsample > 1:
            sinogram, geometry = upsample_views(sinogram, geometry, self.upsample)
        return fbp(sinogram, geometry, self.filter, self.cutoff, backend=backend, warn=False)


def tune_fbp(sinograms: torch.Tensor, images: torch.Tensor, geometry: Geometry,
             windows: Sequence[str] = WINDOWS, cutoffs: Sequence[float] = DEFAULT_CUTOFFS,
             batch_size: int = 16, backend: Optional[str] = None, upsample: Sequence[int] = (1,)) -> TunedFilter:
    """Grid-search the FBP filter on ``sinograms`` ``[n, n_views, n_det]`` (line integrals in ``geometry``)
    against ``images`` ``[n, N, N]`` (μ, 1/mm). Ram-Lak has no window, so only its cut-off is searched.
    ``upsample``: view-interpolation factors to search as well (> 1 needs a uniform full scan); the score
    keys are then ``(window, cutoff, factor)``."""
    if sinograms.shape[0] != images.shape[0] or sinograms.shape[0] == 0:
        raise ValueError(f"need matching, non-empty sinograms and images, got {tuple(sinograms.shape)} and "
                         f"{tuple(images.shape)}")
    scores: dict = {}
    for factor in upsample:
        sino, geom = upsample_views(sinograms, geometry, factor) if factor > 1 else (sinograms, geometry)
        for window in windows:
            for cutoff in cutoffs:
                layer = FBP(geom, window, float(cutoff), dtype=sino.dtype, backend=backend, warn=False)
                total = 0.0
                with torch.no_grad():
                    for i in range(0, sino.shape[0], batch_size):
                        out = layer(sino[i:i + batch_size])
                        total += float(((out.double() - images[i:i + batch_size].double()) ** 2).sum())
                key = (window, float(cutoff)) if tuple(upsample) == (1,) else (window, float(cutoff), int(factor))
                scores[key] = total / images.numel()
    return _best(scores, upsample)


def _best(scores: dict, factors: Sequence[int]) -> TunedFilter:
    """The lowest-MSE entry of ``scores`` (keys ``(window, cutoff)`` or ``(window, cutoff, factor)``) among
    the view-interpolation ``factors``."""
    items = [(key, mse) for key, mse in scores.items() if (key[2] if len(key) > 2 else 1) in tuple(factors)]
    if not items:
        raise ValueError(f"no scored choice with a view-interpolation factor in {tuple(factors)}")
    key, mse = min(items, key=lambda item: item[1])
    return TunedFilter(key[0], key[1], mse, scores, key[2] if len(key) > 2 else 1)
