"""Ramp filters for filtered backprojection, as frequency responses and as a ``torch.nn.Module``.

The ramp is the Kak–Slaney spatial discretisation (*Principles of Computerized Tomographic Imaging*,
ch. 3): sampled at spacing τ, ``h(0) = 1/(4τ²)``, ``h(nτ) = 0`` for even n, ``h(nτ) = -1/(n²π²τ²)`` for
odd n. Its DFT keeps a small positive DC term (≈ 2/(π² P τ) for padded length P), unlike the plain
sampled ``|f|`` with its zero DC, which gives cupping. Filtering zero-pads each detector row to ``padded_length``
(≥ 2 n_det − 1) so the convolution does not wrap around.

Windows (as in ASTRA, ODL and scikit-image) multiply the ramp, with ``f`` the frequency and
``f_c = cutoff · f_Nyquist``; the response is zero above ``f_c``:

* ``ram-lak``: 1
* ``shepp-logan``: ``sinc(f / (2 f_c))``
* ``cosine``: ``cos(π f / (2 f_c))``
* ``hamming``: ``0.54 + 0.46 cos(π f / f_c)``
* ``hann``: ``0.5 + 0.5 cos(π f / f_c)``

References
----------
A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, IEEE Press, 1988, ch. 3
(eq. 3.61 the sampled ramp, 3.103 the equiangular kernel); the windows as in ASTRA, ODL and scikit-image.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
import torch

__all__ = ["WINDOWS", "canonical_window", "padded_length", "filter_frequencies", "ramp_response", "filter_response", "RampFilter",
           "apply_filter"]

WINDOWS = ("ram-lak", "shepp-logan", "cosine", "hamming", "hann")


def padded_length(n_det: int) -> int:
    """Length each detector row is zero-padded to before the FFT: the next power of two ≥ 2·n_det − 1
    (at least 64)."""
    if n_det < 1:
        raise ValueError(f"n_det must be >= 1, got {n_det}")
    return max(64, 1 << int(math.ceil(math.log2(2 * n_det - 1))) if n_det > 1 else 64)


def filter_frequencies(n_det: int, spacing: float) -> np.ndarray:
    """Frequencies (cycles per unit of ``spacing``) of the ``padded_length(n_det) // 2 + 1`` rfft bins."""
    return np.fft.rfftfreq(padded_length(n_det), d=spacing)


def ramp_response(n_det: int, spacing: float, arc: bool = False) -> np.ndarray:
    """Frequency response of the Kak–Slaney Ram-Lak kernel sampled at ``spacing`` (units of 1/spacing),
    ``[padded_length(n_det) // 2 + 1]`` float64. Includes the factor ``spacing`` of the discrete
    convolution, so that filtering approximates ``∫ h(u - u') p(u') du'``.

    ``arc=True`` gives the equiangular fan-beam kernel ``(γ / sin γ)² h(γ)`` (Kak & Slaney eq. 3.103
    without its factor ½), with ``spacing`` the angular pitch Δγ in radians."""
    if not (spacing > 0 and math.isfinite(spacing)):
        raise ValueError(f"spacing must be a positive finite number, got {spacing}")
    size = padded_length(n_det)
    n = np.concatenate([np.arange(0, size // 2 + 1), np.arange(-(size // 2) + 1, 0)])
    h = np.zeros(size)
    h[n == 0] = 1.0 / (4.0 * spacing ** 2)
    odd = n % 2 == 1
    h[odd] = -1.0 / (np.pi * n[odd] * spacing) ** 2
    if arc:
        gamma = n[odd] * spacing
        if np.max(np.abs(gamma)) >= np.pi:
            raise ValueError(f"arc kernel: padded fan span {np.max(np.abs(gamma)):.3g} rad must be < π")
        h[odd] *= (gamma / np.sin(gamma)) ** 2
    return spacing * np.fft.rfft(h).real


_ALIASES = {"ramlak": "ram-lak", "ramp": "ram-lak", "shepplogan": "shepp-logan", "hanning": "hann"}


def canonical_window(name: str) -> str:
    """The name of a window of :data:`WINDOWS` (case, ``_`` for ``-`` and the aliases ``ramp``, ``ramlak``,
    ``shepplogan``, ``hanning`` accepted); ``TypeError`` / ``ValueError`` otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"filter must be a window name (one of {WINDOWS}), got {type(name).__name__}")
    key = name.lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in WINDOWS:
        raise ValueError(f"unknown filter {name!r}; choose one of {WINDOWS} or pass a frequency response array")
    return key


def _window(name: str, ratio: np.ndarray) -> np.ndarray:
    """Window value at ``ratio = f / f_c`` (≤ 1)."""
    if name == "ram-lak":
        return np.ones_like(ratio)
    if name == "shepp-logan":
        return np.sinc(ratio / 2.0)
    if name == "cosine":
        return np.cos(np.pi * ratio / 2.0)
    if name == "hamming":
        return 0.54 + 0.46 * np.cos(np.pi * ratio)
    if name == "hann":
        return 0.5 + 0.5 * np.cos(np.pi * ratio)
    raise ValueError(f"unknown filter {name!r}; choose one of {WINDOWS} or pass a frequency response array")


def filter_response(n_det: int, spacing: float, filter: str = "ram-lak", cutoff: float = 1.0,
                    arc: bool = False) -> np.ndarray:
    """Windowed ramp ``[padded_length(n_det) // 2 + 1]`` float64 (see the module docstring).

    ``cutoff`` in (0, 1] is the fraction of the Nyquist frequency ``1 / (2 spacing)`` above which the
    response is zero. ``arc`` selects the equiangular fan-beam kernel (see :func:`ramp_response`).
    """
    if not (0.0 < cutoff <= 1.0):
        raise ValueError(f"cutoff must be in (0, 1] (fraction of Nyquist), got {cutoff}")
    name = canonical_window(filter)
    freqs = filter_frequencies(n_det, spacing)
    ratio = freqs / (cutoff * 0.5 / spacing)
    window = np.where(ratio <= 1.0, _window(name, np.minimum(ratio, 1.0)), 0.0)
    return ramp_response(n_det, spacing, arc) * window


def apply_filter(sinogram: torch.Tensor, response: torch.Tensor) -> torch.Tensor:
    """Filter every detector row of ``sinogram`` ``[..., n_det]`` with the real frequency response
    ``response`` (``[padded_length(n_det) // 2 + 1]``, or ``[n_views, ...]`` for one filter per view):
    zero-pad, rfft, multiply, irfft, crop. Differentiable in both arguments."""
    n_det = sinogram.shape[-1]
    size = padded_length(n_det)
    if response.shape[-1] != size // 2 + 1:
        raise ValueError(f"filter response must have {size // 2 + 1} frequency bins (padded_length({n_det}) // 2 "
                         f"+ 1), got {response.shape[-1]}")
    spectrum = torch.fft.rfft(sinogram, n=size, dim=-1)
    return torch.fft.irfft(spectrum * response.to(spectrum.real.dtype), n=size, dim=-1)[..., :n_det]


class RampFilter(torch.nn.Module):
    """Detector-row filter as a layer, ``[..., n_views, n_det]`` → same shape.

    Holds a real frequency response over the padded rfft bins, initialised from a named window (or an
    array). With ``learnable=True`` the response is a ``torch.nn.Parameter`` — the circulant filter ``k``
    of a learned FBP, which starts from the analytic solution.
    """

    def __init__(self, n_det: int, spacing: float, filter: Union[str, np.ndarray, torch.Tensor] = "ram-lak",
                 cutoff: float = 1.0, learnable: bool = False, dtype: Optional[torch.dtype] = torch.float32,
                 arc: bool = False) -> None:
        super().__init__()
        if isinstance(filter, str):
            response = torch.as_tensor(filter_response(n_det, spacing, filter, cutoff, arc), dtype=dtype)
        else:
            response = torch.as_tensor(np.asarray(filter) if not isinstance(filter, torch.Tensor) else filter,
                                       dtype=dtype).clone()
            if response.shape[-1] != padded_length(n_det) // 2 + 1:
                raise ValueError(f"filter response must have {padded_length(n_det) // 2 + 1} bins, "
                                 f"got shape {tuple(response.shape)}")
        self.n_det = n_det
        self.spacing = spacing
        if learnable:
            self.response = torch.nn.Parameter(response)
        else:
            self.register_buffer("response", response)

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        if sinogram.shape[-1] != self.n_det:
            raise ValueError(f"sinogram must have {self.n_det} detector columns, got shape {tuple(sinogram.shape)}")
        return apply_filter(sinogram, self.response)

    def extra_repr(self) -> str:
        return f"n_det={self.n_det}, spacing={self.spacing:g}, bins={self.response.shape[-1]}"
