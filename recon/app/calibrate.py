"""``recon calibrate``: a scan's geometry found from its own data, written as a TOML sidecar that
``reconstruct``/``compare``/``info --geometry`` read.

``offset`` (the rotation centre) for every scan the centre estimation takes (:mod:`recon.analytic.centre`);
``tilt`` and ``sdd`` for full-turn fan-beam scans with a flat detector (:mod:`recon.analytic.calibration`), kept
only where the data decide them. A tilted detector is written as ``detector_tilt_deg``; the readers resample its
data onto the untilted detector.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from ..analytic.calibration import PARAMETERS, calibrate_fan
from ..analytic.centre import estimate_centre
from ..io.atomic import atomic_output, check_distinct, check_writable
from ..io.config import geometry_toml
from ..io.formats.common import GeometryArg, PathLike
from ..io.readers import read_scan
from ..io.scan import Scan
from .centring import length_unit

__all__ = ["calibrate_file", "parse_params"]


def parse_params(text: str) -> tuple[str, ...]:
    """``--params``: a comma-separated subset of offset, tilt, sdd."""
    params = tuple(q.strip() for q in text.split(",") if q.strip())
    unknown = [q for q in params if q not in PARAMETERS]
    if unknown or not params:
        raise ValueError(f"--params takes a comma-separated list of {', '.join(PARAMETERS)}; got {text!r}")
    return params


def _centre_only(scan: Scan, path: Path, out: Path) -> tuple[str, str]:
    """(the sidecar's TOML, one line saying what was found) for the rotation centre alone."""
    est = estimate_centre(scan.sinogram, scan.geometry)
    calibrated = scan.geometry.replace(det_offset=est.det_offset)
    comments = (f"recon calibrate: the rotation centre of {path.name} estimated from its data by {est.method}",
                f"column {est.column:.3f} (det_offset {est.det_offset:.6g} {length_unit(scan)}); the file had column "
                f"{scan.rotation_center:.3f} (det_offset {scan.geometry.det_offset:.6g}); confidence "
                f"{est.confidence:.3g}", f"use: recon reconstruct {path.name} --geometry {out.name}")
    return geometry_toml(calibrated, comments), est.describe(scan.geometry, length_unit(scan))


def _fan(scan: Scan, path: Path, out: Path, params: Sequence[str]) -> tuple[str, str]:
    """(the sidecar's TOML, one line saying what was found) for a full-turn flat fan scan."""
    c = calibrate_fan(scan.sinogram, scan.geometry, params=params)
    calibrated = scan.geometry.replace(det_offset=c.det_offset, sdd=c.sdd)
    text = c.describe(scan.geometry)
    comments = (f"recon calibrate: the geometry of {path.name} from its opposite rays ({', '.join(params)})", text,
                f"use: recon reconstruct {path.name} --geometry {out.name}")
    toml = geometry_toml(calibrated, comments)
    if c.tilt != 0.0:
        toml += f"detector_tilt_deg = {math.degrees(c.tilt)!r}\n"
    return toml, text


def calibrate_file(path: PathLike, out: PathLike, geometry: GeometryArg = None, force: bool = False,
                   params: Sequence[str] = ("offset",)) -> tuple[Path, str, Scan]:
    """Calibrate ``params`` of the scan ``path`` from its data and write its geometry as a TOML sidecar ``out``
    (headed by comments naming the calibration). Returns the sidecar, what was found (one line) and the scan as
    read. Nothing is written when the scan cannot be calibrated (``ValueError`` saying why) or ``out`` exists
    without ``force``."""
    out, path = Path(out), Path(path)
    if out.suffix.lower() != ".toml":
        raise ValueError(f"out {out}: the calibrated geometry is written as a TOML sidecar; give a .toml file")
    check_writable(out, force)
    scan = read_scan(path, geometry=geometry)
    check_distinct([out], [path] + list(scan.info.get("inputs", [])))
    if tuple(params) == ("offset",):
        toml, text = _centre_only(scan, path, out)
    elif scan.geometry.point_source and getattr(scan.geometry, "detector", "flat") == "flat":
        toml, text = _fan(scan, path, out, params)
    else:
        raise ValueError(f"--params {','.join(params)}: tilt and sdd are calibrated for fan-beam scans with a flat "
                         f"detector; this scan's geometry is {type(scan.geometry).__name__} (use --params offset)")
    with atomic_output(out, force) as tmp:
        Path(tmp).write_text(toml, encoding="utf-8")
    return out, text, scan
