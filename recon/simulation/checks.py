"""Argument checks shared by the phantom families: a random generator, a positive number, a (min, max) range."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["check_rng", "positive", "value_range"]


def check_rng(rng: Any) -> np.random.Generator:
    """``rng`` if it is a numpy Generator, else ``TypeError``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def positive(name: str, value: Any) -> float:
    """``value`` as a finite float > 0, else ``ValueError`` naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return out


def value_range(name: str, value: Any, integer: bool = False, low: float = 0.0) -> tuple[Any, Any]:
    """``(lo, hi)`` from a pair or a single number (lo = hi); both >= ``low`` and lo <= hi."""
    pair = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be a number or a (min, max) pair, got {value!r}")
    kind = int if integer else float
    try:
        if integer and not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
            raise TypeError
        lo, hi = (kind(v) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a {'whole number' if integer else 'number'} or a (min, max) pair of them, "
                         f"got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and low <= lo <= hi):
        raise ValueError(f"{name} must satisfy {low} <= min <= max, got {value!r}")
    return lo, hi
