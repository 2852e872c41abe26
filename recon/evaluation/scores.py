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

RMSE, PSNR and SSIM are scored in a ``region`` (:data:`REGIONS`): by default ``"fov"``, the field of view — the
inscribed disc of the image grid (:func:`recon.metrics.field_of_view`), the region every method has data for
(outside it FBP of truncated data leaves a smooth artefact and TV or positivity-constrained methods return ~0, so
scoring the whole square rewards reproducing that artefact); ``"square"`` scores the whole grid. PSNR's data range
is then the reference's max − min inside the region. The other measures do not depend on the region.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ..geometry import Geometry
from ..metrics import SSIM_CONVENTIONS, field_of_view, psnr, rmse, ssim
from ..operators import project
from .quality import edge_rise_distance, flat_region_noise, segmentation_mcc

__all__ = ["image_scores", "scan_scores", "relative_l2", "check_region", "region_mask", "SSIM_KEYS", "REGIONS"]

SSIM_KEYS = {"ssim": SSIM_CONVENTIONS["gaussian"], "ssim_dival": SSIM_CONVENTIONS["dival"]}
"""The score keys that hold an SSIM and the convention of each (written into every JSON report)."""


REGIONS = {"fov": "inside the field of view (the inscribed disc of the image grid)",
           "square": "over the whole square image grid"}
"""Where RMSE, PSNR and SSIM are scored: each region's id (``--region``) and the words reports name it by."""


def check_region(region: str) -> str:
    """``region`` if it is one of :data:`REGIONS`, else a ``ValueError`` naming them."""
    if region not in REGIONS:
        raise ValueError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
    return region


def region_mask(region: str, shape: Sequence[int]) -> Optional[np.ndarray]:
    """The mask of ``region`` (:data:`REGIONS`) for images of ``shape`` ``[..., N, N]``: the field of view
    (:func:`recon.metrics.field_of_view`) for ``"fov"``, ``None`` (every pixel) for ``"square"``."""
    if check_region(region) == "square":
        return None
    h, w = shape[-2:]
    if h != w:
        raise ValueError(f"the field of view is the inscribed disc of a square grid; the images are {h}×{w}")
    return field_of_view(h)


def _ssim_dival(image, reference, mask=None):
    return ssim(image, reference, convention="dival", mask=mask)


def _measures(mask: Optional[np.ndarray]):
    """The region-dependent measures: ``(key, function of (image, reference))``."""
    return (("rmse", lambda x, r: rmse(x, r, mask=mask)), ("psnr", lambda x, r: psnr(x, r, mask=mask)),
            ("ssim", lambda x, r: ssim(x, r, mask=mask)), ("ssim_dival", lambda x, r: _ssim_dival(x, r, mask)))


def image_scores(images: torch.Tensor, truth: torch.Tensor, pixel_size: Optional[float] = None,
                 region: str = "fov") -> dict[str, float]:
    """Mean and standard deviation of RMSE, PSNR and SSIM over a stack ``[n, N, N]``, scored in ``region``
    (:data:`REGIONS`); with ``pixel_size`` (mm) also the edge 10–90 % rise distance across the boundaries of
    ``truth > ½ max(truth)``."""
    out: dict[str, float] = {}
    for name, fn in _measures(region_mask(region, truth.shape)):
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
                geometry: Geometry, true_segmentation: bool, region: str = "fov") -> dict[str, float]:
    """The measures of one reconstruction ``image`` ``[N, N]`` of a real scan (see the module docstring):
    against ``reference`` (same grid; RMSE, PSNR, SSIM in ``region``, :data:`REGIONS`), across the boundaries of
    ``segmentation`` (binary), its data consistency with ``sinogram`` (the views used, in ``geometry``), and the
    HTC2022 score if ``true_segmentation``."""
    px = geometry.pixel_size
    measures = _measures(region_mask(region, np.shape(reference)))
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64))
    p = np.asarray(sinogram, dtype=np.float64)
    residual = project(x, geometry).numpy() - p
    out = {name: fn(image, reference) for name, fn in measures}
    out.update(edge_rise_mm=edge_rise_distance(image, segmentation, px),
               noise_std=flat_region_noise(image, segmentation, px),
               data_consistency=float(np.linalg.norm(residual) / np.linalg.norm(p)))
    if true_segmentation:
        out["segmentation_mcc"] = segmentation_mcc(image, segmentation)
    return out
