"""Learned FBP with angular upsampling for sparse-view full scans:
``x = B_w^(U·V) · F₂⁻¹ diag(k) F₂ · Z_U (W ⊙ p)``.

At 60–90 views the streaks of FBP come from backprojecting too few views, which no detector filter can fix.
The physics of a full uniform circular scan gives the allowed structure of a better linear method: the scan
is invariant under rotation by one view step, so the optimal shift-invariant operator before a
backprojection over ``U·V`` views is a 2-D filter, circulant over the views as well as along the detector.

* ``W`` — the analytic FBP weights (cosine × quadrature × ½), fixed;
* ``Z_U`` — zero-stuffing by ``U`` along the views (fixed): view ``v`` goes to position ``U·v``;
* ``F₂`` — 2-D FFT: circular over the ``U·V`` views, zero-padded rfft along the detector (as in
  :mod:`recon.analytic.filters`);
* ``k(m, f) = k₀(m, f) + Σ_ij c_ij a_i(|m|) b_j(f) s_j`` — the learnable 2-D frequency response: ``k₀`` is
  the analytic window times the response of linear view interpolation (periodic triangle of half-width
  ``U`` over ``U``), ``a_i`` hats over the angular frequency ``|m|`` (even in ``m``, so the filter is real),
  ``b_j`` hats over the detector frequency up to ``det_max`` × Nyquist (zero above), ``s_j`` the Ram-Lak
  ramp at the knot (floored at 1/64 of its maximum) so that the ``c_ij`` are relative corrections;
* ``B_w^(U·V)`` — the distance-weighted backprojector over the upsampled views (fixed).

An untrained model is exactly view-interpolated FBP (:func:`recon.analytic.views.upsample_views` followed by
:func:`recon.fbp` with the same window), itself an analytic baseline. The output is affine in ``c`` (120
coefficients by default), so the least-squares optimum (:func:`recon.models.fit_filter`) gives the fit
directly; gradient training with an SSIM term refines it. Measured results and the recipe:
``docs/research_sparse_view.md``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..analytic.filtered_backprojection import FilterSpec, filter_spacing
from ..analytic.filters import padded_length, ramp_response
from ..analytic.recipe import FBPRecipe
from ..geometry import Geometry, check_geometry
from ..operators.functional import weighted_backproject
from ..analytic.views import continue_half_turn, scan_period_step, upsampled_geometry
from .base import KnownOperatorModel, initial_filter
from .parameters import LearnableWeights

__all__ = ["ViewCirculantFilter", "ViewUpsampledFBP", "DEFAULT_VIEW_KNOTS", "interpolation_response",
           "view_upsampled_parts"]

# knots of the angular-frequency hats in units of V/2 (the Nyquist frequency of the measured views); knots
# above the upsampling factor U are dropped and U itself (the Nyquist frequency of the U·V views) is the last
DEFAULT_VIEW_KNOTS = (0.0, 1 / 3, 2 / 3, 1.0, 4 / 3, 5 / 3, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)


def interpolation_response(n_views: int, factor: int) -> np.ndarray:
    """DFT over ``factor·n_views`` views of the periodic triangle ``h[j] = 1 − |j|/factor`` (|j| < factor),
    the kernel that turns a zero-stuffed sinogram into the linearly interpolated one: ``[factor·n_views]``
    float64, real and even, ``= factor`` at ``m = 0``."""
    m_total = factor * n_views
    h = np.zeros(m_total)
    j = np.arange(-(factor - 1), factor)
    h[j % m_total] += 1.0 - np.abs(j) / factor
    return np.fft.fft(h).real


def _hats(x: np.ndarray, knots: np.ndarray, right_zero: Optional[float] = None) -> np.ndarray:
    """Piecewise-linear hat functions on (non-uniform) ``knots`` evaluated at ``x``: ``[len(knots), len(x)]``.
    With ``right_zero`` the last hat falls to 0 there (and everything is 0 beyond it); otherwise the hats
    hold their end values outside the knots."""
    out = np.empty((knots.size, x.size))
    for i in range(knots.size):
        e = np.zeros(knots.size)
        e[i] = 1.0
        if right_zero is None:
            out[i] = np.interp(x, knots, e)
        else:
            out[i] = np.interp(x, np.append(knots, right_zero), np.append(e, 0.0), right=0.0)
    return out


class ViewCirculantFilter(torch.nn.Module):
    """The ``F₂⁻¹ diag(k) F₂ · Z_U`` stage: ``[..., V, D]`` → ``[..., U·V, D]`` (see the module docstring).

    Parameters
    ----------
    n_views, n_det : int
        Views and detector elements of the input sinograms.
    factor : int
        Angular upsampling ``U``.
    window : array ``[padded_length(n_det) // 2 + 1]``
        Analytic detector response (windowed ramp) of the upsampled FBP.
    ramp : array like ``window``
        The Ram-Lak ramp, scaling the detector hats.
    view_knots : sequence of float
        Knots of the angular hats in units of ``V/2`` (``DEFAULT_VIEW_KNOTS``).
    det_knots : int
        Number of detector hats, evenly spaced over ``[0, det_max]`` × Nyquist.
    det_max : float
        Highest detector frequency the correction reaches (fraction of Nyquist).
    half_turn : bool
        The views cover a parallel half turn (:func:`recon.analytic.views.scan_period_step`): the filter is
        circulant over the ``2V`` views of the full circle (the second half turn = the first with the detector
        reversed) and returns the ``U·V`` views of the first.
    """

    per_view = False  # one 2-D filter (the least-squares fit of recon.models.lstsq applies)

    def __init__(self, n_views: int, n_det: int, factor: int, window: np.ndarray, ramp: np.ndarray,
                 view_knots: Sequence[float] = DEFAULT_VIEW_KNOTS, det_knots: int = 10, det_max: float = 0.8,
                 half_turn: bool = False, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.n_views, self.n_det, self.factor = int(n_views), int(n_det), int(factor)
        self.half_turn = bool(half_turn)
        self.period = period = 2 * self.n_views if self.half_turn else self.n_views  # views over the full circle
        self.size = padded_length(n_det)
        bins = self.size // 2 + 1
        window = np.asarray(window, dtype=np.float64)
        if window.shape != (bins,):
            raise ValueError(f"window must have shape ({bins},), got {window.shape}")
        if det_knots < 2 or not 0.0 < det_max <= 1.0:
            raise ValueError(f"need det_knots >= 2 and 0 < det_max <= 1, got {det_knots}, {det_max}")
        m_total = self.factor * period
        m = np.arange(m_total)
        m_abs = np.minimum(m, m_total - m).astype(np.float64)
        knots = np.array([k for k in view_knots if 0.0 <= k < self.factor] + [float(self.factor)]) * period / 2
        if knots.size < 2 or knots[0] != 0.0 or np.any(np.diff(knots) <= 0):
            raise ValueError(f"view_knots must start at 0 and increase; got {list(view_knots)}")
        self.view_knots = [float(k) for k in view_knots]
        self.det_knots, self.det_max = int(det_knots), float(det_max)
        nu = np.linspace(0.0, 1.0, bins)  # fraction of the Nyquist frequency
        f_knots = np.linspace(0.0, det_max, det_knots)
        det_basis = _hats(nu, f_knots, right_zero=det_max + f_knots[1])
        ramp = np.abs(np.asarray(ramp, dtype=np.float64))
        scale = np.maximum(np.interp(f_knots, nu, ramp), ramp.max() / 64)
        k0 = interpolation_response(period, self.factor)[:, None] / self.factor * window[None, :]
        self.register_buffer("initial", torch.as_tensor(k0, dtype=dtype))
        self.register_buffer("view_basis", torch.as_tensor(_hats(m_abs, knots), dtype=dtype))
        self.register_buffer("det_basis", torch.as_tensor(det_basis * scale[:, None], dtype=dtype))
        self.coefficients = torch.nn.Parameter(torch.zeros(knots.size * det_knots, dtype=dtype))

    @property
    def n_basis(self) -> int:
        """Number of coefficients ``c_ij``."""
        return int(self.coefficients.numel())

    def response(self) -> torch.Tensor:
        """Current 2-D frequency response ``k(m, f)``, ``[U·V, padded_length(n_det) // 2 + 1]``."""
        c = self.coefficients.reshape(self.view_basis.shape[0], self.det_basis.shape[0])
        return self.initial + self.view_basis.T @ c @ self.det_basis

    def _spectrum(self, sinogram: torch.Tensor) -> torch.Tensor:
        if tuple(sinogram.shape[-2:]) != (self.n_views, self.n_det):
            raise ValueError(f"expected sinograms [..., {self.n_views}, {self.n_det}], got {tuple(sinogram.shape)}")
        if self.half_turn:
            sinogram = continue_half_turn(sinogram)
        stuffed = sinogram.new_zeros(sinogram.shape[:-2] + (self.factor * sinogram.shape[-2], self.n_det))
        stuffed[..., ::self.factor, :] = sinogram
        return torch.fft.rfft2(stuffed, s=(stuffed.shape[-2], self.size))

    def _inverse(self, spectrum: torch.Tensor) -> torch.Tensor:
        filtered = torch.fft.irfft2(spectrum, s=(self.factor * self.period, self.size))
        return filtered[..., :self.factor * self.n_views, :self.n_det]

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        """``[..., V, D]`` weighted sinograms → filtered, upsampled ``[..., U·V, D]``."""
        spectrum = self._spectrum(sinogram)
        return self._inverse(spectrum * self.response().to(spectrum.real.dtype))

    def apply_initial(self, sinogram: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` with the analytic response ``k₀`` (view interpolation × window)."""
        spectrum = self._spectrum(sinogram)
        return self._inverse(spectrum * self.initial.to(spectrum.real.dtype))

    def filter_basis(self, sinogram: torch.Tensor) -> torch.Tensor:
        """``[..., V, D]`` filtered by each basis function ``a_i b_j s_j`` alone: ``[..., n_basis, U·V, D]``
        (the columns of the affine map ``c ↦ filtered sinogram``)."""
        spectrum = self._spectrum(sinogram)
        dt = spectrum.real.dtype
        columns = [self._inverse(spectrum * (a[:, None] * b[None, :]).to(dt))
                   for a in self.view_basis for b in self.det_basis]
        return torch.stack(columns, dim=-3)

    def extra_repr(self) -> str:
        return (f"U={self.factor}, {self.view_basis.shape[0]}×{self.det_basis.shape[0]} basis "
                f"(angular × detector, up to {self.det_max:g} Nyquist)" + (", half turn" if self.half_turn else ""))


def view_upsampled_parts(geometry: Geometry, factor: int, filter: FilterSpec, cutoff: float,
                         view_knots: Sequence[float], det_knots: int, det_max: float, warn: bool,
                         dtype: torch.dtype) -> tuple[ViewCirculantFilter, LearnableWeights, Geometry]:
    """The parts of view-upsampled FBP for sinograms in ``geometry`` (a uniform full scan, or a parallel half
    turn): a learnable :class:`ViewCirculantFilter` starting from ``filter``/``cutoff`` × linear view
    interpolation, the fixed analytic weights, and the geometry of the ``factor``·V views to backproject."""
    upsampled = upsampled_geometry(geometry, factor)  # checks the scan and the factor
    _, half_turn = scan_period_step(geometry)
    spacing, arc = filter_spacing(geometry)
    k = ViewCirculantFilter(geometry.n_views, geometry.n_det, int(factor), initial_filter(geometry, filter, cutoff),
                            ramp_response(geometry.n_det, spacing, arc), view_knots, det_knots, det_max,
                            half_turn=half_turn, dtype=dtype)
    w = LearnableWeights(FBPRecipe().weights(geometry, warn=warn), dtype=dtype)
    w.coefficients.requires_grad_(False)
    return k, w, upsampled


class ViewUpsampledFBP(KnownOperatorModel):
    """Learned FBP with ``factor``× angular upsampling and a 2-D view-circulant filter (module docstring).

    Parameters
    ----------
    geometry : ParallelBeam or FanBeam
        A uniform scan over the full circle, or a parallel one over 180° with a centred detector (``ValueError``
        otherwise), and the output image grid.
    factor : int
        Angular upsampling ``U`` (1 gives a 2-D filter without upsampling; the choice: ``docs/research_sparse_view.md``).
    filter, cutoff :
        Analytic detector window of the start, as for :func:`recon.fbp`.
    view_knots, det_knots, det_max :
        The basis of the correction (see :class:`ViewCirculantFilter`).
    positivity : bool
        Clamp the output image at 0 (ReLU).
    backend : operator backend, as for :func:`recon.weighted_backproject`.

    Notes
    -----
    Input ``[..., V, D]`` line integrals → output ``[..., N, N]`` attenuation μ (1/mm).
    """

    output_kind = "image"

    def __init__(self, geometry: Geometry, factor: int = 6, filter: FilterSpec = "ram-lak", cutoff: float = 1.0,
                 view_knots: Sequence[float] = DEFAULT_VIEW_KNOTS, det_knots: int = 10, det_max: float = 0.8,
                 positivity: bool = False, backend: Optional[str] = None, warn: bool = True,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        check_geometry(geometry)
        self.geometry = self.output_geometry = geometry
        self.positivity = bool(positivity)
        self.filter, self.weights, self.upsampled_geometry = view_upsampled_parts(
            geometry, factor, filter, cutoff, view_knots, det_knots, det_max, warn, dtype)
        self.factor = int(factor)
        self._record_settings(filter, cutoff, ("filter",), None, None, backend)

    def after_filter(self, filtered: torch.Tensor) -> torch.Tensor:
        return weighted_backproject(filtered, self.upsampled_geometry, backend=self.backend, check_finite=False)

    def output_activation(self, out: torch.Tensor) -> torch.Tensor:
        return torch.relu(out) if self.positivity else out

    def learned_parts(self) -> str:
        return f"×{self.factor} views, 2-D filter"

    def config(self) -> dict[str, Any]:
        return {"geometry": self.geometry.to_dict(), "factor": self.factor, "filter": self.filter_name,
                "cutoff": self.cutoff, "view_knots": self.filter.view_knots, "det_knots": self.filter.det_knots,
                "det_max": self.filter.det_max, "positivity": self.positivity, "warn": False}

    def extra_repr(self) -> str:
        return (f"{self.geometry!r}, U={self.factor}, filter={self.filter_name!r}, cutoff={self.cutoff:g}, "
                f"positivity={self.positivity}")
