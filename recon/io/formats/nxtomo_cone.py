"""Cone-beam NXtomo files: an NXtomo entry whose source lies at a finite distance (``instrument/source/distance``,
as lab scanners and the ESRF ``nxtomo`` writer record it) is a cone-beam scan, not a parallel one.

Geometry read (NeXus conventions, every length with its ``units`` attribute — m, cm, mm, µm/um/micron, nm;
a length without units is refused rather than guessed):

* ``instrument/source/distance`` — source to sample (rotation axis); NeXus writes it negative (upstream), its
  magnitude is ``sod``;
* ``instrument/detector/distance`` — sample to detector; ``sdd = sod + distance``;
* ``instrument/detector/x_pixel_size`` / ``y_pixel_size`` — the detector pitch along columns / rows (``y`` is
  taken equal to ``x`` where only ``x`` is recorded);
* a centred detector (no offsets) on a circular orbit; the angles are ``rotation_angle`` as for parallel NXtomo
  files (same sign). A file whose detector is offset or tilted needs ``--geometry`` with a cone-beam sidecar.

The frames ``[n, rows, cols]`` are split by ``image_key`` and normalised exactly as the parallel reader does
(:func:`recon.io.read_nxtomo`); the result is a :class:`recon.io.ConeScan`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ...geometry import ConeBeam
from ..cone_scan import ConeScan
from ..plausibility import announce
from .common import LINE_INTEGRALS, angles_to_radians, checking, fail, to_line_integrals

__all__ = ["cone_parameters", "cone_scan_from_frames"]

_MM = {"m": 1e3, "metre": 1e3, "meter": 1e3, "cm": 10.0, "mm": 1.0, "um": 1e-3, "µm": 1e-3, "μm": 1e-3,
       "micron": 1e-3, "micrometer": 1e-3, "micrometre": 1e-3, "nm": 1e-6}


def _length_mm(path: Path, obj, what: str) -> float:
    """A length field in mm (``units`` attribute required)."""
    try:
        value = float(np.asarray(obj[()], dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise fail(path, f"{obj.name} ({what}) is not a number") from None
    unit = obj.attrs.get("units", obj.attrs.get("unit"))
    unit = unit.decode() if isinstance(unit, bytes) else unit
    if not isinstance(unit, str) or unit.strip().lower() not in _MM:
        raise fail(path, f"{obj.name} ({what}) has {'no units attribute' if unit is None else f'units {unit!r}'}; "
                         f"recon reads lengths in {', '.join(sorted(set(_MM) - {'metre', 'meter'}))} and does not "
                         "guess (give --geometry with a cone-beam sidecar)")
    if not math.isfinite(value):
        raise fail(path, f"{obj.name} ({what}) is {value}")
    return value * _MM[unit.strip().lower()]


def cone_parameters(path: Path, entry) -> Optional[dict[str, float]]:
    """``{"sod", "sdd", "du", "dv"}`` in mm when the entry's source lies at a finite, non-zero distance, else
    None (a parallel-beam scan)."""
    source = entry.get("instrument/source/distance")
    if source is None or getattr(source, "shape", None) is None:
        return None
    sod = abs(_length_mm(path, source, "source to sample distance"))
    if sod == 0.0:
        return None
    detector = entry.get("instrument/detector/distance")
    if detector is None:
        raise fail(path, f"records a source distance ({source.name}) but no instrument/detector/distance: a cone-beam "
                         "scan needs both")
    det = _length_mm(path, detector, "sample to detector distance")
    if det <= 0.0:
        raise fail(path, f"{detector.name} = {det:g} mm: the detector must lie behind the sample (> 0)")
    x = entry.get("instrument/detector/x_pixel_size")
    if x is None:
        raise fail(path, "a cone-beam NXtomo file needs instrument/detector/x_pixel_size (the detector pitch)")
    du = _length_mm(path, x, "detector pitch along columns")
    y = entry.get("instrument/detector/y_pixel_size")
    dv = _length_mm(path, y, "detector pitch along rows") if y is not None else du
    if du <= 0.0 or dv <= 0.0:
        raise fail(path, f"detector pixel sizes {du:g} × {dv:g} mm must be positive")
    return {"sod": sod, "sdd": sod + det, "du": du, "dv": dv}


def cone_scan_from_frames(path: Path, raw: np.ndarray, flat: np.ndarray, dark: Optional[np.ndarray],
                          angles: Optional[np.ndarray], angle_unit: Optional[str], cone: dict[str, float],
                          info: dict[str, Any], min_transmission: float) -> ConeScan:
    """Raw projections ``[views, rows, cols]`` with their flats/darks and angles → a :class:`ConeScan` on the
    circular orbit of ``cone``."""
    if angles is None:
        raise fail(path, "has no rotation_angle: give --geometry with a cone-beam sidecar")
    radians = angles_to_radians(path, angles, angle_unit, "rotation_angle", info)
    if radians.size != raw.shape[0]:
        raise fail(path, f"rotation_angle has {radians.size} angles but there are {raw.shape[0]} projections")
    with checking(path):
        g = ConeBeam(radians, raw.shape[1:], (cone["dv"], cone["du"]), sod=cone["sod"], sdd=cone["sdd"])
    p = to_line_integrals(path, raw, "raw", flat, dark, min_transmission, info)
    info["units"] = LINE_INTEGRALS
    info.setdefault("notes", []).append(f"cone beam: source {cone['sod']:g} mm from the axis, detector "
                                        f"{cone['sdd']:g} mm from the source; centred detector assumed")
    with checking(path):
        scan = ConeScan(p, g, str(path), "nxtomo-hdf5", info)
    announce(scan.info.get("warnings", []), str(path), stacklevel=4)
    return scan
