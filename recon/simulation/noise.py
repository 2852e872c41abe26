"""Measurement physics of simulated sinograms: photon counting before the log, and beam hardening."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

__all__ = ["poisson_noise", "estimate_i0", "beam_hardening", "fit_beam_hardening"]


def poisson_noise(sinogram: np.ndarray, i0: Optional[float], rng: np.random.Generator,
                  electronic_sigma: float = 0.0, min_counts: float = 0.5) -> np.ndarray:
    """Noisy line integrals from clean ones by simulating photon counts.

    Model, per detector element (Beer–Lambert, quantum noise plus additive electronic noise)::

        counts = Poisson(i0 · exp(−p)) + Normal(0, electronic_sigma)
        counts = max(counts, min_counts)          # guard: zero or negative counts have no logarithm
        p_noisy = −log(counts / i0)

    For ``i0 · e^{−p} ≫ 1`` the log data are unbiased to first order with variance
    ``Var(p_noisy) ≈ (i0 e^{−p} + electronic_sigma²) / (i0 e^{−p})²`` (``≈ 1 / (i0 e^{−p})`` without electronic
    noise): rays through more material are noisier. Where the expected count is of order one the clipping at
    ``min_counts`` caps ``p_noisy`` at ``log(i0 / min_counts)`` (photon starvation).

    Parameters
    ----------
    sinogram : numpy.ndarray, any shape
        Clean line integrals ∫μ dl (dimensionless).
    i0 : float or None
        Incident photons per detector element (unattenuated count). ``None`` or ``inf``: no noise, a copy of
        the input is returned.
    rng : numpy.random.Generator
        Source of randomness.
    electronic_sigma : float
        Standard deviation of additive Gaussian noise, in counts.
    min_counts : float
        Counts are clipped below at this value (> 0) before the log.

    Returns
    -------
    numpy.ndarray
        Noisy line integrals, same shape as ``sinogram``, float32 for float32 input, else float64.
    """
    p = np.asarray(sinogram)
    dtype = np.float32 if p.dtype == np.float32 else np.float64
    if i0 is None or (isinstance(i0, (int, float, np.floating, np.integer)) and math.isinf(i0) and i0 > 0):
        return np.array(p, dtype=dtype, copy=True)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    try:
        i0 = float(i0)
        electronic_sigma = float(electronic_sigma)
        min_counts = float(min_counts)
    except (TypeError, ValueError):
        raise TypeError("i0, electronic_sigma and min_counts must be real numbers") from None
    if not (math.isfinite(i0) and i0 > 0):
        raise ValueError(f"i0 (incident photons per detector element) must be > 0 or None, got {i0}")
    if not (math.isfinite(electronic_sigma) and electronic_sigma >= 0):
        raise ValueError(f"electronic_sigma must be >= 0 counts, got {electronic_sigma}")
    if not (math.isfinite(min_counts) and min_counts > 0):
        raise ValueError(f"min_counts must be > 0, got {min_counts}")
    if not np.all(np.isfinite(p)):
        raise ValueError("sinogram must be finite")
    expected = i0 * np.exp(-p.astype(np.float64))
    counts = rng.poisson(expected).astype(np.float64)
    if electronic_sigma > 0:
        counts += rng.normal(0.0, electronic_sigma, size=counts.shape)
    np.maximum(counts, min_counts, out=counts)
    return (-np.log(counts / i0)).astype(dtype, copy=False)


def estimate_i0(sinogram: np.ndarray, air_level: float = 0.05, min_columns: int = 8) -> Optional[float]:
    """Estimate the incident photon count per detector element of a measured sinogram ``[n_views, n_det]``
    (line integrals) from its noise in air: in detector columns whose mean line integral is below
    ``air_level``, successive views differ by noise only, with variance ``2 / I₀`` (the variance of the log
    data is ``1 / (I₀ e^{-p})`` and ``p ≈ 0`` there). Returns ``None`` when fewer than ``min_columns``
    columns see only air (e.g. the object fills the field of view)."""
    p = np.asarray(sinogram, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 3:
        raise ValueError(f"sinogram must be [n_views >= 3, n_det], got shape {p.shape}")
    air = p.mean(axis=0) < air_level
    if air.sum() < min_columns:
        return None
    variance = np.var(np.diff(p[:, air], axis=0))
    return float(2.0 / variance) if variance > 0 else None


def beam_hardening(sinogram: np.ndarray, b: float) -> np.ndarray:
    """Line integrals ``p`` as a polychromatic scanner measures them, to second order: ``p − b·p²`` (the
    spectrum hardens along the ray, so long rays see a lower effective attenuation: FBP of such data is cupped).
    Exact for ``b = 0``; ``b`` ≥ 0 in 1/(line integral); the curve is held at its maximum beyond
    ``p = 1/(2b)`` so that it never decreases. :func:`fit_beam_hardening` estimates ``b`` from the scan of a
    homogeneous disc (the HTC2022 solid disc: b ≈ 0.1).

    References: R. A. Brooks, G. Di Chiro, "Beam hardening in X-ray reconstructive tomography", *Phys. Med.
    Biol.* 21(3), 390–398 (1976); G. T. Herman, "Correction for beam hardening in computed tomography", *Phys.
    Med. Biol.* 24(1), 81–106 (1979) (the polynomial model and its water correction)."""
    b = float(b)
    if not (math.isfinite(b) and b >= 0):
        raise ValueError(f"beam hardening b must be >= 0, got {b!r}")
    p = np.asarray(sinogram)
    if b == 0:
        return p.copy()
    q = np.minimum(p, 0.5 / b)
    return (q - b * q * q).astype(p.dtype, copy=False)


def fit_beam_hardening(sinogram: np.ndarray, chord: np.ndarray, min_chord: float = 5.0) -> tuple[float, float]:
    """``(μ, b)``: the least-squares fit ``p ≈ μL − b(μL)²`` of measured line integrals ``sinogram`` to the chord
    lengths ``chord`` (mm, same shape) of a homogeneous object, over the rays with chords above ``min_chord`` mm:
    the attenuation the shortest rays see and the beam hardening of :func:`beam_hardening`."""
    p, length = np.ravel(np.asarray(sinogram, dtype=np.float64)), np.ravel(np.asarray(chord, dtype=np.float64))
    keep = length > min_chord
    if keep.sum() < 3:
        raise ValueError(f"fewer than 3 rays cross more than {min_chord} mm of the object")
    (c1, c2), *_ = np.linalg.lstsq(np.stack([length[keep], length[keep] ** 2], axis=1), p[keep], rcond=None)
    return float(c1), float(-c2 / c1 ** 2)
