"""Training losses: the mean squared error, and for image models MSE + SSIM or MSE + a soft segmentation loss."""

from __future__ import annotations

import torch

from ..metrics import ssim

__all__ = ["LOSSES", "training_loss"]

LOSSES = ("mse", "mse+ssim", "mse+segmentation")
#: Width of the soft threshold of the segmentation loss, as a fraction of the target's maximum.
SOFT_WIDTH = 0.1


def soft_segmentation_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy between ``sigmoid((out − t) / (w·m))`` and the segmentation ``target > t`` of
    images ``[B, N, N]``, with ``m`` the target's maximum per image, ``t = m/2`` and ``w`` =
    :data:`SOFT_WIDTH`: a differentiable stand-in for thresholding (the HTC2022 score segments by Otsu's
    threshold, about half the material's value)."""
    peak = target.flatten(-2).amax(-1).clamp_min(torch.finfo(target.dtype).tiny)[..., None, None]
    mask = (target > 0.5 * peak).to(out.dtype)
    logits = (out - 0.5 * peak) / (SOFT_WIDTH * peak)
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, mask)


def training_loss(out: torch.Tensor, target: torch.Tensor, kind: str = "mse", ssim_weight: float = 0.5,
                  segmentation_weight: float = 0.1) -> torch.Tensor:
    """``"mse"``: mean squared error over all elements; ``"mse+ssim"`` (images ``[..., N, N]``): the MSE
    normalised by the mean of ``target²`` plus ``ssim_weight · (1 − mean SSIM)`` (:func:`recon.metrics.ssim`),
    so that both terms are dimensionless and the same weight suits every attenuation scale;
    ``"mse+segmentation"``: the normalised MSE plus ``segmentation_weight`` × :func:`soft_segmentation_loss`."""
    mse = torch.mean((out - target) ** 2)
    if kind == "mse":
        return mse
    if kind not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}")
    normalised = mse / torch.mean(target ** 2).clamp_min(torch.finfo(target.dtype).tiny)
    if kind == "mse+ssim":
        return normalised + ssim_weight * (1.0 - ssim(out, target).mean())
    return normalised + segmentation_weight * soft_segmentation_loss(out, target)
