"""The argument checks every layer shares, with one exception policy: ``TypeError`` when a value has the
wrong type, ``ValueError`` when it has the right type and a wrong value. Messages name the argument (or the
config key) and what was expected."""

from __future__ import annotations

import math
import os
from typing import Any, Optional

import numpy as np
import torch

__all__ = ["integer", "real", "one_line", "torch_device", "NotEnoughMemory", "available_memory", "check_memory"]

GiB = float(2 ** 30)


def one_line(err: BaseException) -> str:
    """An exception as one line, with its type unless the message already names it."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if type(err).__name__ in text else f"{type(err).__name__}: {text}"


def torch_device(spec: Any, name: str = "device") -> torch.device:
    """``spec`` ("cpu", "cuda", "cuda:1", a ``torch.device``) as a device that exists on this machine and holds
    data: an unknown name, a ``meta`` device, CUDA without a CUDA device or a CUDA index beyond the last raise
    ``ValueError`` (no silent fallback to the CPU)."""
    try:
        device = spec if isinstance(spec, torch.device) else torch.device(str(spec))
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name} {spec!r} is not a device: use cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{name} {str(spec)!r}: no CUDA device is available")
        if device.index is not None and device.index >= count:
            raise ValueError(f"{name} {str(spec)!r}: this machine has {count} CUDA device(s), "
                             f"cuda:0 … cuda:{count - 1}")
        return device
    raise ValueError(f"{name} {str(spec)!r}: recon computes on cpu or cuda devices, not {device.type}")


class NotEnoughMemory(ValueError):
    """A computation or a read would need more memory than the machine has available."""


def available_memory() -> Optional[float]:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``, else free physical pages);
    None where the platform does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES")) * float(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(nbytes: float, what: str) -> None:
    """Raise :class:`NotEnoughMemory` ("<what> needs N GiB, M GiB available") when ``nbytes`` exceed the memory
    available now; does nothing where the platform does not report it."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise NotEnoughMemory(f"{what} needs {nbytes / GiB:.3g} GiB of memory, {free / GiB:.3g} GiB available")


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
