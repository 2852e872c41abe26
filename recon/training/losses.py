"""Training losses: the mean squared error, and MSE + SSIM for image models."""

from __future__ import annotations

import torch

from ..metrics import ssim

__all__ = ["LOSSES", "training_loss"]

LOSSES = ("mse", "mse+ssim")


def training_loss(out: torch.Tensor, target: torch.Tensor, kind: str = "mse", ssim_weight: float = 0.5) -> torch.Tensor:
    """``"mse"``: mean squared error over all elements; ``"mse+ssim"`` (images ``[..., N, N]``): the MSE
    normalised by the mean of ``target²`` plus ``ssim_weight · (1 − mean SSIM)`` (:func:`recon.metrics.ssim`),
    so that both terms are dimensionless and the same weight suits every attenuation scale."""
    mse = torch.mean((out - target) ** 2)
    if kind == "mse":
        return mse
    if kind != "mse+ssim":
        raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}")
    scale = torch.mean(target ** 2).clamp_min(torch.finfo(target.dtype).tiny)
    return mse / scale + ssim_weight * (1.0 - ssim(out, target).mean())
