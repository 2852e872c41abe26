"""The scores of a reconstruction, as ``recon evaluate`` and ``recon compare`` report them.

* Simulated test data (:func:`image_scores`), against the ground truth: RMSE (1/mm), PSNR (dB, data range =
  max − min of each ground-truth image), SSIM in both conventions of :mod:`recon.metrics` (``ssim``: Gaussian
  σ = 1.5; ``ssim_dival``: scikit-image's 7 × 7 uniform window, as DIVal), each as mean ± std over the images,
  and the edge sharpness — 10–90 % rise distance (mm) of the mean profile across the boundaries of
  ``truth > ½ max(truth)`` (:func:`recon.evaluation.quality.edge_spread`).
* A real scan (:func:`scan_scores`), against a reference reconstruction: RMSE, PSNR (data range of the
  reference), SSIM (both conventions); edge sharpness across the segmentation's boundaries; noise (std in the
  material away from edges); data consistency ``‖A x − p‖ / ‖p‖`` on the views used; and, with a true
  segmentation, the HTC2022 score (Matthews correlation of the Otsu-thresholded image with it).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..geometry import Geometry
from ..metrics import SSIM_CONVENTIONS, psnr, rmse, ssim
from ..operators import project
from .quality import edge_rise_distance, flat_region_noise, segmentation_mcc

__all__ = ["image_scores", "scan_scores", "relative_l2", "SSIM_KEYS"]

SSIM_KEYS = {"ssim": SSIM_CONVENTIONS["gaussian"], "ssim_dival": SSIM_CONVENTIONS["dival"]}
"""The score keys that hold an SSIM and the convention of each (written into every JSON report)."""


def _ssim_dival(image, reference):
    return ssim(image, reference, convention="dival")


def image_scores(images: torch.Tensor, truth: torch.Tensor, pixel_size: Optional[float] = None) -> dict[str, float]:
    """Mean and standard deviation of RMSE, PSNR and SSIM over a stack ``[n, N, N]``; with ``pixel_size``
    (mm) also the edge 10–90 % rise distance across the boundaries of ``truth > ½ max(truth)``."""
    out: dict[str, float] = {}
    for name, fn in (("rmse", rmse), ("psnr", psnr), ("ssim", ssim), ("ssim_dival", _ssim_dival)):
        values = torch.as_tensor(fn(images, truth)).reshape(-1).double()
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std()) if values.numel() > 1 else 0.0
    if pixel_size is not None:
        rises = []
        for image, t in zip(images.detach().cpu().numpy(), truth.detach().cpu().numpy()):
            segmentation = t > 0.5 * t.max()
            if segmentation.any() and not segmentation.all():
                rises.append(edge_rise_distance(image, segmentation, pixel_size))
        rises = [r for r in rises if np.isfinite(r)]
        if rises:
            out["edge_rise_mm"] = float(np.mean(rises))
            out["edge_rise_mm_std"] = float(np.std(rises, ddof=1)) if len(rises) > 1 else 0.0
    return out


def relative_l2(x: torch.Tensor, ref: torch.Tensor) -> float:
    """``‖x − ref‖ / ‖ref‖`` over all elements (e.g. of converted sinograms against the exact ones)."""
    return float(((x.double() - ref.double()) ** 2).sum().sqrt() / (ref.double() ** 2).sum().sqrt())


def scan_scores(image: np.ndarray, reference: np.ndarray, segmentation: np.ndarray, sinogram: np.ndarray,
                geometry: Geometry, true_segmentation: bool) -> dict[str, float]:
    """The measures of one reconstruction ``image`` ``[N, N]`` of a real scan (see the module docstring):
    against ``reference`` (same grid), across the boundaries of ``segmentation`` (binary), its data consistency
    with ``sinogram`` (the views used, in ``geometry``), and the HTC2022 score if ``true_segmentation``."""
    px = geometry.pixel_size
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64))
    p = np.asarray(sinogram, dtype=np.float64)
    residual = project(x, geometry).numpy() - p
    out = {"rmse": rmse(image, reference), "psnr": psnr(image, reference), "ssim": ssim(image, reference),
           "ssim_dival": _ssim_dival(image, reference), "edge_rise_mm": edge_rise_distance(image, segmentation, px),
           "noise_std": flat_region_noise(image, segmentation, px),
           "data_consistency": float(np.linalg.norm(residual) / np.linalg.norm(p))}
    if true_segmentation:
        out["segmentation_mcc"] = segmentation_mcc(image, segmentation)
    return out
