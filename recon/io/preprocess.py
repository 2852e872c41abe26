"""From raw detector counts to line integrals: flat/dark normalisation and the guarded log transform.

Beer-Lambert: ``I = I0 · exp(-∫μ dl)``, so with a dark frame ``D`` (detector offset) and a flat field ``F``
(beam without object) the line integrals are ``p = -log((I - D) / (F - D))``.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

__all__ = ["normalize", "log_transform"]

ArrayOrScalar = Union[np.ndarray, float]


def _check_finite(name: str, array: np.ndarray) -> None:
    bad = np.count_nonzero(~np.isfinite(array))
    if bad:
        raise ValueError(f"{name} has {bad} NaN/Inf value(s) of {array.size}")


def _reference_frame(name: str, value: ArrayOrScalar, frame_shape: tuple[int, ...]) -> np.ndarray:
    """A flat or dark reference as one frame broadcastable to ``frame_shape`` (stacks averaged over axis 0)."""
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    _check_finite(name, arr)
    if arr.ndim == 0 or arr.shape == frame_shape:
        return arr
    if arr.shape[1:] == frame_shape:
        if arr.shape[0] == 0:
            raise ValueError(f"{name} stack is empty")
        return arr.mean(axis=0)
    raise ValueError(f"{name} of shape {arr.shape} fits neither one frame {frame_shape} nor a stack "
                     f"(k, {', '.join(map(str, frame_shape))}) of the raw data")


def normalize(raw: np.ndarray, flat: ArrayOrScalar, dark: Optional[ArrayOrScalar] = None) -> np.ndarray:
    """Flat/dark-normalised transmission ``(raw - dark) / (flat - dark)``.

    Parameters
    ----------
    raw : numpy.ndarray, ``[n_views, *frame]``
        Raw counts, views first; a frame is ``[n_det]`` or ``[n_rows, n_det]``.
    flat : numpy.ndarray or float
        Flat field (open beam): one frame ``[*frame]``, a stack ``[k, *frame]`` (averaged over its first
        axis), or a scalar ``I0``.
    dark : numpy.ndarray or float, optional
        Dark field, same forms as ``flat``; ``None`` means no offset (0).

    Returns
    -------
    numpy.ndarray, float64, ``raw.shape``
        Transmission (≈ 0 … 1; noise can exceed 1). Values ≤ 0 (raw at or below the dark level) are kept:
        :func:`log_transform` counts and clips them.

    Raises
    ------
    ValueError
        NaN/Inf in any input; reference shapes that do not fit; ``flat - dark ≤ 0`` anywhere (the message
        says in how many pixels, and whether the flat field is all zero).
    """
    raw = np.asarray(raw)
    if not np.issubdtype(raw.dtype, np.number) or np.iscomplexobj(raw):
        raise TypeError(f"raw counts must hold real numbers, got dtype {raw.dtype}")
    if raw.ndim < 2:
        raise ValueError(f"raw counts must be [n_views, ...frame], got shape {raw.shape}")
    raw = raw.astype(np.float64, copy=False)
    _check_finite("raw counts", raw)
    frame = raw.shape[1:]
    flat_f = _reference_frame("flat field", flat, frame)
    dark_f = np.float64(0.0) if dark is None else _reference_frame("dark field", dark, frame)
    if not np.any(flat_f):
        raise ValueError("flat field is all zero: no open-beam signal to normalise by")
    gain = np.broadcast_to(flat_f - dark_f, frame)
    bad = int(np.count_nonzero(gain <= 0))
    if bad:
        raise ValueError(f"flat - dark ≤ 0 in {bad} of {gain.size} detector pixels "
                         "(flat field not brighter than the dark field): cannot normalise")
    return (raw - dark_f) / gain


def log_transform(transmission: np.ndarray, min_transmission: float = 1e-6) -> tuple[np.ndarray, int]:
    """Line integrals ``-log(transmission)`` with values below a floor clipped.

    Parameters
    ----------
    transmission : numpy.ndarray, any shape
        Normalised intensity (see :func:`normalize`).
    min_transmission : float in (0, 1)
        Floor: values ≤ 0 or below it (photon starvation, raw below dark) are set to it before the log, so
        they become ``-log(min_transmission)`` (13.8 for the default) instead of NaN/Inf.

    Returns
    -------
    (numpy.ndarray float64 of ``transmission.shape``, int)
        Line integrals (dimensionless) and the number of clipped values.

    Raises
    ------
    ValueError
        NaN/Inf in ``transmission``, or a floor outside (0, 1).
    """
    if not (isinstance(min_transmission, (int, float, np.floating)) and 0.0 < min_transmission < 1.0):
        raise ValueError(f"min_transmission must lie in (0, 1), got {min_transmission!r}")
    t = np.asarray(transmission)
    if not np.issubdtype(t.dtype, np.number) or np.iscomplexobj(t):
        raise TypeError(f"transmission must hold real numbers, got dtype {t.dtype}")
    t = t.astype(np.float64, copy=False)
    _check_finite("transmission", t)
    low = t < min_transmission
    n_clipped = int(np.count_nonzero(low))
    if n_clipped:
        t = np.where(low, min_transmission, t)
    return -np.log(t), n_clipped
