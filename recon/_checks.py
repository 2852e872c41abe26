"""The argument checks every layer shares, with one exception policy: ``TypeError`` when a value has the
wrong type, ``ValueError`` when it has the right type and a wrong value. Messages name the argument (or the
config key) and what was expected."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

__all__ = ["integer", "real"]


def integer(name: str, value: Any, low: Optional[int] = None, high: Optional[int] = None,
            integral_float: bool = False) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (either bound optional). Booleans are not integers;
    ``integral_float`` also accepts floats with an integer value (``256.0``, as JSON may write them)."""
    kind = {0: "a non-negative integer", 1: "a positive integer"}.get(low, "an integer") if high is None else \
        "an integer"
    if isinstance(value, (float, np.floating)) and integral_float and float(value).is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be {kind}, got {value!r}")
    if kind != "an integer" and value < low:
        raise ValueError(f"{name} must be {kind}, got {value}")
    _check_range(name, int(value), low, high)
    return int(value)


def real(name: str, value: Any, low: Optional[float] = None, high: Optional[float] = None,
         strict: bool = False, unit: str = "") -> float:
    """``value`` as a finite ``float`` in ``[low, high]`` (``(low, high]`` with ``strict``); ``unit`` is
    named in the message."""
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}")
    _check_range(name, out, low, high, strict, unit)
    return out


def _check_range(name: str, value: float, low: Optional[float], high: Optional[float], strict: bool = False,
                 unit: str = "") -> None:
    unit = f" {unit}" if unit else ""
    if low is not None and high is not None:
        if not (low < value if strict else low <= value) or value > high:
            raise ValueError(f"{name} must lie in {'(' if strict else '['}{low:g}, {high:g}]{unit}, got {value:g}")
    elif low is not None and (value < low or (strict and value == low)):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low:g}{unit}, got {value:g}")
    elif high is not None and value > high:
        raise ValueError(f"{name} must be <= {high:g}{unit}, got {value:g}")
