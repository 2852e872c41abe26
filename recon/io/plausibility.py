"""Is a scan physically possible? Checks every reader applies to what it read, before anything is reconstructed.

Two outcomes, with the thresholds named here:

* **refused** (:class:`~recon.io.scan.ScanFormatError`, saying the fraction found): more than
  :data:`MAX_IMPOSSIBLE` of the values are impossible — a line integral below :data:`MIN_LINE_INTEGRAL` (the
  detector saw more than 110 % of the open beam) or above :data:`MAX_LINE_INTEGRAL` (a transmission below
  e⁻³⁰ ≈ 10⁻¹³, which no detector measures), or raw counts clipped at the log transform's floor (at or below
  the dark level) — or more than :data:`MAX_NEGATIVE` of the line integrals are negative (brighter than the open
  beam nearly everywhere: a flipped sign or a wrong flat field). Such a file is not a scan as described: raw
  counts read as line integrals, flat and dark swapped, a wrong dtype or unit.
* **warned** (:class:`ScanWarning`, also listed in ``scan.info["warnings"]`` for ``recon info``): a few values
  beyond the hard limits −1 … 30 (one of them spoils an FBP image), angles that look like radians read as
  degrees or the reverse, all or most views at one angle, a rotation axis that projects outside the detector.
  The data may be legitimate, so they are read, and the user is told.

A few clipped pixels are normal (photon starvation behind metal) and are only counted in ``info``.
"""

from __future__ import annotations

import math
import warnings
from typing import Optional

import numpy as np

from .._checks import GiB, available_memory
from ..geometry import Geometry

__all__ = ["ScanWarning", "MIN_LINE_INTEGRAL", "MAX_LINE_INTEGRAL", "MAX_IMPOSSIBLE", "value_problems",
           "geometry_problems", "announce"]

#: Line integrals below this are impossible (more than 110 % of the open-beam intensity).
MIN_LINE_INTEGRAL = -0.1
#: Line integrals above this are impossible (a transmission below e⁻³⁰).
MAX_LINE_INTEGRAL = 30.0
#: A line integral beyond −1 (270 % of the open beam) is warned about even in one pixel.
WARN_LINE_INTEGRAL = -1.0
#: A scan with more than this fraction of impossible values is refused.
MAX_IMPOSSIBLE = 0.5
#: A scan with more than this fraction of negative line integrals is refused (noise around 0 in air makes about
#: half of the air rays negative; an object makes fewer).
MAX_NEGATIVE = 0.9


class ScanWarning(UserWarning):
    """A scan that was read but looks physically implausible (see :mod:`recon.io.plausibility`)."""


def value_problems(p: np.ndarray, n_clipped: int = 0) -> tuple[Optional[str], list[str]]:
    """``(refusal, warnings)`` for line integrals ``p`` (any shape) of which ``n_clipped`` were clipped by the
    log transform: a refusal message when most values are impossible, else warnings about the extreme ones."""
    p = np.asarray(p)
    n = max(p.size, 1)
    low = int(np.count_nonzero(p < MIN_LINE_INTEGRAL))
    high = int(np.count_nonzero(p > MAX_LINE_INTEGRAL))
    impossible = low + high + n_clipped
    if impossible > MAX_IMPOSSIBLE * n:
        parts = [f"{count} {what}" for count, what in (
            (low, f"below {MIN_LINE_INTEGRAL:g} (brighter than the open beam)"),
            (high, f"above {MAX_LINE_INTEGRAL:g} (transmission below e^-30)"),
            (n_clipped, "raw counts at or below the dark level or the transmission floor")) if count]
        return (f"{impossible / n:.1%} of the values are physically impossible as line integrals "
                f"({'; '.join(parts)}; range {float(p.min()):.4g} … {float(p.max()):.4g}): not a scan as "
                "described — raw counts read as line integrals, flat and dark swapped, or the wrong variable?"), []
    negative = int(np.count_nonzero(p < 0))
    if negative > MAX_NEGATIVE * n:
        return (f"{negative / n:.1%} of the line integrals are negative (range {float(p.min()):.4g} … "
                f"{float(p.max()):.4g}): the detector saw more than the open beam almost everywhere — flat field "
                "too dark, or the sign of the log transform flipped"), []
    extreme = int(np.count_nonzero(p < WARN_LINE_INTEGRAL)) + high
    if extreme:
        return None, [f"{extreme} of {p.size} line integrals lie beyond the possible range {WARN_LINE_INTEGRAL:g} … "
                      f"{MAX_LINE_INTEGRAL:g} (range {float(p.min()):.4g} … {float(p.max()):.4g}): corrupt pixels "
                      "will streak the image"]
    return None, []


def _angle_problems(angles: np.ndarray, unit: Optional[str]) -> list[str]:
    n = angles.size
    if n < 2:
        return []
    span = float(angles.max() - angles.min())
    distinct = np.unique(np.round(np.mod(angles, 2 * math.pi), 9)).size
    out = []
    if distinct == 1:
        return [f"all {n} views are at one angle ({math.degrees(float(angles[0])):.4g}°): nothing to reconstruct"]
    if distinct < 0.9 * n:
        out.append(f"only {distinct} of the {n} views have distinct angles (modulo 360°)")
    read_as = f" (read as {'degrees' if unit == 'deg' else 'radians'})" if unit else ""
    if n >= 4 and math.degrees(span) < 10.0:
        hint = ": angles in radians stored where degrees are expected?" if 1.0 < math.degrees(span) <= 6.3 else ""
        out.append(f"{n} views span only {math.degrees(span):.3g}°{read_as}{hint}")
    elif span > 2 * math.pi * 1.5 + 2 * math.pi / n:
        out.append(f"the views span {math.degrees(span):.4g}° = {span / (2 * math.pi):.3g} turns{read_as}: angles in "
                   "degrees read as radians?")
    return out


def geometry_problems(geometry: Geometry, unit: Optional[str] = None) -> list[str]:
    """Warnings about a scan's geometry: implausible angles (``unit``: the unit the file's angles were read in,
    "deg" or "rad", if known) and a rotation axis that projects outside the detector."""
    g = geometry
    out = _angle_problems(np.asarray(g.angles, dtype=np.float64), unit)
    center = (g.n_det - 1) / 2.0 - g.det_offset / g.det_spacing
    if not -0.5 <= center <= g.n_det - 0.5:
        out.append(f"the rotation axis projects to detector column {center:.6g}, outside the detector (0 … "
                   f"{g.n_det - 1}): det_offset {g.det_offset:.6g} or the centre is wrong")
    element = g.det_spacing * (g.sod / g.sdd if g.point_source else 1.0)  # at the rotation axis
    extent = g.image_size * g.pixel_size
    if element > extent:
        out.append(f"one detector element ({element:.4g} mm at the rotation axis) is wider than the whole image "
                   f"({extent:.4g} mm): det_spacing or the pixel size is wrong")
    free = available_memory()
    image_bytes = 4.0 * g.image_size ** 2
    if free is not None and image_bytes > free:
        out.append(f"an image of {g.image_size}² pixels needs {image_bytes / GiB:.3g} GiB, more than the "
                   f"{free / GiB:.3g} GiB available: reconstruct on a coarser grid")
    return out


def announce(messages: list[str], where: str, stacklevel: int = 3) -> None:
    """Issue each message as a :class:`ScanWarning` prefixed with ``where`` (the file)."""
    for message in messages:
        warnings.warn(ScanWarning(f"{where}: {message}"), stacklevel=stacklevel)
