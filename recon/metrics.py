"""Image quality metrics, batched, in torch (numpy in → float out).

Conventions (stated because papers differ):

* ``rmse`` in the image's units (1/mm for attenuation images).
* ``psnr = 10 log10(data_range² / MSE)`` dB, with ``data_range = max(reference) − min(reference)`` of each
  reference image unless given. Identical images give ``inf``.
* ``ssim`` — Wang et al. (IEEE TIP 2004), ``K1 = 0.01``, ``K2 = 0.03``, ``C_i = (K_i · data_range)²``, mean over
  the valid (unpadded) window positions, in one of two conventions (:data:`SSIM_CONVENTIONS`):

  - ``"gaussian"`` (default): Wang's Gaussian window σ = 1.5 px (11 × 11), population (co)variances — the same as
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=data_range)``;
  - ``"dival"``: scikit-image's defaults, which DIVal's LoDoPaB tables and most deep-learning CT papers report —
    a 7 × 7 uniform window, sample (co)variances (``n / (n − 1)`` with ``n = 49``), the ground truth's data range:
    ``skimage.metrics.structural_similarity(..., data_range=data_range)``.

  The two differ by a few hundredths on CT images (the uniform window is smaller and so sees more noise):
  name the convention beside every SSIM you report.

All functions take ``[..., H, W]`` tensors or arrays and return one value per leading index (a float for
a single image).

References
----------
Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality assessment: from error
visibility to structural similarity", *IEEE Trans. Image Process.* 13(4), 600–612 (2004).
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch

__all__ = ["rmse", "psnr", "ssim", "data_range", "SSIM_CONVENTIONS"]

SSIM_CONVENTIONS = {
    "gaussian": "SSIM, Gaussian window σ = 1.5 px (Wang et al. 2004)",
    "dival": "SSIM, 7 × 7 uniform window, sample covariance (scikit-image defaults, as DIVal)",
}
"""Each SSIM convention :func:`ssim` knows and the words reports name it by."""

ArrayLike = Union[np.ndarray, torch.Tensor]


def _as_tensor(x: ArrayLike) -> torch.Tensor:
    t = torch.as_tensor(x)
    return t if t.is_floating_point() else t.double()


def _out(value: torch.Tensor, single: bool):
    return float(value) if single else value


def data_range(reference: ArrayLike) -> torch.Tensor:
    """``max − min`` of each reference image ``[..., H, W]`` → ``[...]``."""
    ref = _as_tensor(reference)
    return ref.amax(dim=(-2, -1)) - ref.amin(dim=(-2, -1))


def rmse(image: ArrayLike, reference: ArrayLike):
    """Root-mean-square error per image."""
    x, ref = _as_tensor(image), _as_tensor(reference)
    value = ((x.double() - ref.double()) ** 2).mean(dim=(-2, -1)).sqrt()
    return _out(value, value.ndim == 0)


def psnr(image: ArrayLike, reference: ArrayLike, data_range_: Optional[float] = None):
    """Peak signal-to-noise ratio (dB) per image; ``data_range_`` defaults to the reference's max − min."""
    x, ref = _as_tensor(image).double(), _as_tensor(reference).double()
    mse = ((x - ref) ** 2).mean(dim=(-2, -1))
    rng = data_range(ref) if data_range_ is None else torch.as_tensor(float(data_range_), dtype=torch.float64)
    value = 10.0 * torch.log10(rng ** 2 / mse)  # identical images: inf
    return _out(value, value.ndim == 0)


def _gaussian_window(sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    radius = int(3.5 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _filter(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of ``x`` ``[B, 1, H, W]``."""
    k = w.numel()
    x = torch.nn.functional.conv2d(x, w.view(1, 1, 1, k))
    return torch.nn.functional.conv2d(x, w.view(1, 1, k, 1))


def _ssim_window(convention: str, sigma: float, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, float]:
    """The separable window of a convention and its covariance factor (1, or n / (n − 1) for sample covariances)."""
    if convention == "gaussian":
        return _gaussian_window(sigma, dtype, device), 1.0
    if convention == "dival":
        n = 7
        return torch.full((n,), 1.0 / n, dtype=dtype, device=device), n * n / (n * n - 1.0)
    raise ValueError(f"ssim convention must be one of {sorted(SSIM_CONVENTIONS)}, got {convention!r}")


def ssim(image: ArrayLike, reference: ArrayLike, data_range_: Optional[float] = None, sigma: float = 1.5,
         convention: str = "gaussian"):
    """Structural similarity per image of ``image`` against ``reference`` ``[..., H, W]`` in the ``convention``
    ``"gaussian"`` (Wang's window of std ``sigma`` px) or ``"dival"`` (scikit-image's defaults; see the module
    docstring); ``data_range_`` defaults to each reference's max − min. Differentiable for torch input."""
    x, ref = _as_tensor(image), _as_tensor(reference)
    dtype = torch.promote_types(x.dtype, ref.dtype)
    x, ref = x.to(dtype), ref.to(dtype)
    lead = x.shape[:-2]
    xb = x.reshape((-1, 1) + tuple(x.shape[-2:]))
    rb = ref.reshape((-1, 1) + tuple(ref.shape[-2:]))
    rng = data_range(ref).reshape(-1) if data_range_ is None else torch.full((xb.shape[0],), float(data_range_))
    rng = rng.to(dtype=dtype, device=x.device).view(-1, 1, 1, 1)
    c1, c2 = (0.01 * rng) ** 2, (0.03 * rng) ** 2
    w, cov_norm = _ssim_window(convention, sigma, dtype, x.device)
    if min(x.shape[-2:]) < w.numel():
        raise ValueError(f"ssim needs images of at least {w.numel()}×{w.numel()} pixels, got {tuple(x.shape[-2:])}")
    mu_x, mu_r = _filter(xb, w), _filter(rb, w)
    sxx = cov_norm * (_filter(xb * xb, w) - mu_x ** 2)
    srr = cov_norm * (_filter(rb * rb, w) - mu_r ** 2)
    sxr = cov_norm * (_filter(xb * rb, w) - mu_x * mu_r)
    s = ((2 * mu_x * mu_r + c1) * (2 * sxr + c2)) / ((mu_x ** 2 + mu_r ** 2 + c1) * (sxx + srr + c2))
    value = s.mean(dim=(-3, -2, -1)).reshape(lead)
    return _out(value, len(lead) == 0)
