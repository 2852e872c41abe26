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

* The scored region: ``mask`` (bool ``[H, W]``, the same for every leading index; ``None``: the whole image)
  restricts each measure to the pixels it selects — the MSE of ``rmse``/``psnr`` is the mean over them, PSNR's
  data range is the reference's max − min inside them, and SSIM is the mean of its map over the valid window
  positions whose window *centre* lies inside them. :func:`field_of_view` is the usual such region: the
  inscribed disc of the grid, where every view of a scan has data (outside it FBP of truncated data leaves a
  smooth artefact that regularised methods do not reproduce, so scoring the whole square favours the artefact).

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

__all__ = ["rmse", "psnr", "ssim", "data_range", "field_of_view", "SSIM_CONVENTIONS"]

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


def field_of_view(image_size: int) -> np.ndarray:
    """The inscribed disc of an ``image_size`` × ``image_size`` grid, bool ``[N, N]``: the pixels whose centre lies
    within ``N / 2`` pixels of the grid centre ``((N − 1) / 2, (N − 1) / 2)`` — the region every view of a scan
    reconstructed on that grid covers (for a detector that spans the grid)."""
    n = int(image_size)
    if n < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    d = np.arange(n) - (n - 1) / 2.0
    return d[:, None] ** 2 + d[None, :] ** 2 <= (n / 2.0) ** 2


def _as_mask(mask: Optional[ArrayLike], shape: tuple, device: torch.device) -> Optional[torch.Tensor]:
    """``mask`` as a bool tensor of the image shape ``[H, W]`` on ``device`` (``None`` stays ``None``)."""
    if mask is None:
        return None
    m = torch.as_tensor(mask, device=device)
    if m.dtype != torch.bool:
        raise TypeError(f"mask must be boolean, got {m.dtype}")
    if tuple(m.shape) != tuple(shape):
        raise ValueError(f"mask must have the images' shape {tuple(shape)} ([H, W]), got {tuple(m.shape)}")
    if not bool(m.any()):
        raise ValueError("mask selects no pixel")
    return m


def data_range(reference: ArrayLike, mask: Optional[ArrayLike] = None) -> torch.Tensor:
    """``max − min`` of each reference image ``[..., H, W]`` → ``[...]`` (inside ``mask`` if given)."""
    return _reference_range(_as_tensor(reference), mask)


def _reference_range(ref: torch.Tensor, mask: Optional[ArrayLike]) -> torch.Tensor:
    """:func:`data_range` under a name that the ``data_range`` keyword of psnr/ssim does not hide."""
    m = _as_mask(mask, ref.shape[-2:], ref.device)
    if m is None:
        return ref.amax(dim=(-2, -1)) - ref.amin(dim=(-2, -1))
    inside = ref[..., m]
    return inside.amax(dim=-1) - inside.amin(dim=-1)


def _mse(x: torch.Tensor, ref: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean squared difference per image, over ``mask``'s pixels (all if ``None``)."""
    err = (x - ref) ** 2
    return err.mean(dim=(-2, -1)) if mask is None else err[..., mask].mean(dim=-1)


def rmse(image: ArrayLike, reference: ArrayLike, mask: Optional[ArrayLike] = None):
    """Root-mean-square error per image, over the pixels of ``mask`` (bool ``[H, W]``; ``None``: all)."""
    x, ref = _as_tensor(image), _as_tensor(reference)
    value = _mse(x.double(), ref.double(), _as_mask(mask, x.shape[-2:], x.device)).sqrt()
    return _out(value, value.ndim == 0)


def psnr(image: ArrayLike, reference: ArrayLike, data_range: Optional[float] = None,
         mask: Optional[ArrayLike] = None):
    """Peak signal-to-noise ratio (dB) per image; ``data_range`` (scikit-image's keyword) defaults to the reference's max − min. With
    ``mask`` (bool ``[H, W]``) the MSE is over its pixels and the default data range the reference's max − min
    inside it."""
    x, ref = _as_tensor(image).double(), _as_tensor(reference).double()
    m = _as_mask(mask, x.shape[-2:], x.device)
    mse = _mse(x, ref, m)
    rng = _reference_range(ref, m) if data_range is None else torch.as_tensor(float(data_range), dtype=torch.float64)
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


def ssim(image: ArrayLike, reference: ArrayLike, data_range: Optional[float] = None, sigma: float = 1.5,
         convention: str = "gaussian", mask: Optional[ArrayLike] = None):
    """Structural similarity per image of ``image`` against ``reference`` ``[..., H, W]`` in the ``convention``
    ``"gaussian"`` (Wang's window of std ``sigma`` px) or ``"dival"`` (scikit-image's defaults; see the module
    docstring); ``data_range`` (scikit-image's keyword) defaults to each reference's max − min. With ``mask`` (bool ``[H, W]``) the SSIM
    map — 'valid' filtered, so its position ``(i, j)`` is the window centred on pixel ``(i + r, j + r)``, ``r``
    the window radius — is averaged over the positions whose centre lies inside the mask, and the default data
    range is the reference's max − min inside it. Differentiable for torch input."""
    x, ref = _as_tensor(image), _as_tensor(reference)
    dtype = torch.promote_types(x.dtype, ref.dtype)
    x, ref = x.to(dtype), ref.to(dtype)
    m = _as_mask(mask, x.shape[-2:], x.device)
    lead = x.shape[:-2]
    xb = x.reshape((-1, 1) + tuple(x.shape[-2:]))
    rb = ref.reshape((-1, 1) + tuple(ref.shape[-2:]))
    rng = (_reference_range(ref, m).reshape(-1) if data_range is None
           else torch.full((xb.shape[0],), float(data_range)))
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
    if m is None:
        value = s.mean(dim=(-3, -2, -1)).reshape(lead)
    else:
        r = w.numel() // 2  # position (i, j) of the valid map is the window centred on pixel (i + r, j + r)
        centres = m[r:m.shape[0] - r, r:m.shape[1] - r]
        if not bool(centres.any()):
            raise ValueError(f"mask selects no pixel at least {r} pixels from the image border (ssim's window "
                             "centres)")
        value = s[:, 0][:, centres].mean(dim=-1).reshape(lead)
    return _out(value, len(lead) == 0)
