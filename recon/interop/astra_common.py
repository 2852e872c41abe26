"""What every ASTRA conversion shares: importing ASTRA lazily, and checking the length unit."""

from __future__ import annotations

import numpy as np

__all__ = ["_import_astra", "_check_unit"]


def _import_astra():
    try:
        import astra
    except ImportError:
        raise ImportError("recon.interop.to_astra/from_astra need the ASTRA Toolbox: "
                          "pip install astra-toolbox") from None
    return astra


def _check_unit(unit_mm: float) -> None:
    if not (isinstance(unit_mm, (int, float)) and np.isfinite(unit_mm) and unit_mm > 0):
        raise ValueError(f"unit_mm must be a positive length in mm, got {unit_mm!r}")
