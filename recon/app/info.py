"""A readable summary of a scan file, for ``recon info FILE``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..analytic.weights import scan_coverage
from ..io.formats.common import GeometryArg, PathLike
from ..io.cone_scan import ConeScan
from ..io.readers import read_scan
from ..io.scan import Scan
from .centring import centre_mismatch, estimate_for_check

__all__ = ["describe_scan", "format_scan", "format_cone_scan"]


def describe_scan(path: PathLike, geometry: GeometryArg = None, **options: Any) -> str:
    """Read ``path`` with :func:`recon.io.read_scan` and describe it: format, shapes, geometry, angular
    coverage, value range of the line integrals, raw counts or log data, clipped pixels, rotation centre.

    Raises :class:`recon.io.ScanFormatError` (one line naming the file) when the file cannot be read.
    """
    scan = read_scan(path, geometry=geometry, **options)
    return format_cone_scan(scan) if isinstance(scan, ConeScan) else format_scan(scan)


def _deg(rad: float) -> str:
    return f"{math.degrees(rad):.4g}°"


def _centre_lines(scan: Scan) -> list[tuple[str, str]]:
    """The centre the data put the rotation axis at, beside the file's, and a warning where they disagree."""
    try:
        est = estimate_for_check(scan)
    except ValueError as err:
        return [("estimated centre", f"not estimated: {err}")]
    mismatch = centre_mismatch(scan, est)
    return ([("estimated centre", f"detector column {est.column:.2f} from the data ({est.method}, confidence "
                                  f"{est.confidence:.2g})")] + ([("WARNING", mismatch)] if mismatch else []))


def format_scan(scan: Scan) -> str:
    """Multi-line description of a :class:`~recon.io.Scan` (see :func:`describe_scan`)."""
    info, g, sino = scan.info, scan.geometry, scan.sinogram
    dims = "[slices, views, det]" if sino.ndim == 3 else "[views, det]"
    cov = scan_coverage(g)
    coverage = f"{cov.kind} scan: arc of {_deg(cov.span)} from {_deg(cov.start)}"
    coverage += f" ({_deg(cov.required)} needed for exact reconstruction, period {_deg(cov.period)})"
    lines = [
        ("file", scan.path or "(in memory)"),
        ("format", scan.format or "?"),
        ("sinogram", f"{tuple(sino.shape)} {sino.dtype} {dims}"),
    ]
    if "file_shape" in info:
        lines.append(("file layout", f"{tuple(info['file_shape'])} with axes {info.get('axes', '?')}"))
    if info.get("rows") is not None:
        rows = list(info["rows"])
        lines.append(("detector rows", ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else "")))
    lines += [
        ("geometry", repr(g)),
        ("coverage", coverage),
        ("line integrals", f"{float(sino.min()):.4g} … {float(sino.max()):.4g} (mean {float(sino.mean()):.4g}; "
                           f"dimensionless)"),
    ]
    lines += _value_lines(info)
    unit = "pixels" if info.get("pixel_units") else "mm"
    lines.append(("rotation centre", f"detector column {scan.rotation_center:.6g} (det_offset {g.det_offset:.6g} "
                                     f"{unit}; middle column {(g.n_det - 1) / 2:.6g})"))
    lines += _centre_lines(scan)
    if info.get("recorded_pixel_size"):
        lines.append(("recorded pixel", str(info["recorded_pixel_size"])))
    lines += _note_lines(info)
    return _table(lines)


def _table(lines: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in lines)


def _value_lines(info: dict) -> list[tuple[str, str]]:
    """How the stored values became line integrals, and the pixels clipped on the way."""
    lines = []
    values = info.get("values")
    if values == "raw":
        lo, hi = info.get("raw_range", (np.nan, np.nan))
        refs = f"{info.get('n_flats', '?')} flat(s), {info.get('n_darks', '?')} dark(s)"
        if "i0" in info:
            refs = f"i0 = {info['i0']:g}"
        lines.append(("stored values", f"raw counts {lo:.6g} … {hi:.6g}, normalised with {refs}, then -log"))
    elif values == "log":
        lines.append(("stored values", "line integrals (already log-transformed)"))
    lines.append(("clipped pixels", f"{info.get('n_clipped', 0)}"
                  + (f" (transmission floor {info['min_transmission']:g})" if "min_transmission" in info else "")))
    return lines


def _note_lines(info: dict) -> list[tuple[str, str]]:
    """The sidecar, metadata, notes, warnings and derivations a reader recorded."""
    lines = []
    if info.get("sidecar"):
        lines.append(("sidecar", str(info["sidecar"])))
    for key, value in (info.get("metadata") or {}).items():
        lines.append((key, str(value)))
    for note in info.get("notes", []):
        lines.append(("note", note))
    for warning in info.get("warnings", []):
        lines.append(("WARNING", warning))
    for step in info.get("history", []):
        lines.append(("derived by", step))
    return lines


def format_cone_scan(scan: ConeScan) -> str:
    """Multi-line description of a cone-beam :class:`~recon.io.ConeScan`: shapes, geometry, the central fan's
    angular coverage, the cone angle, the default volume and the values."""
    info, g, p = scan.info, scan.geometry, scan.projections
    vec = g.cone_vectors()
    depth = np.einsum("ij,ij->i", vec.detector - vec.source, vec.normal)
    half_height = 0.5 * g.det_shape[0] * np.linalg.norm(vec.v, axis=1)
    cone = float(np.degrees(np.arctan((half_height + np.abs(vec.detector[:, 2] - vec.source[:, 2])) / depth).max()))
    lines = [("file", scan.path or "(in memory)"), ("format", scan.format or "?"),
             ("projections", f"{tuple(p.shape)} {p.dtype} [views, rows, cols]")]
    if "file_shape" in info:
        lines.append(("file layout", f"{tuple(info['file_shape'])} with axes {info.get('axes', '?')}"))
    lines.append(("geometry", repr(g)))
    if g.kind == "cone":  # a circular scan: its central fan's coverage and rotation centre
        cov = scan_coverage(g.central_fan())
        lines.append(("coverage", f"{cov.kind} scan: arc of {_deg(cov.span)} from {_deg(cov.start)} "
                                  f"({_deg(cov.required)} needed for exact reconstruction in the source plane)"))
        fan = scan.central_scan()
        lines.append(("rotation centre", f"detector column {fan.rotation_center:.6g} (column offset "
                                         f"{g.det_offset[1]:.6g} mm) in the file"))
        lines += _centre_lines(fan)
    grid = scan.default_grid()
    lines += [("cone angle", f"{cone:.3g}° half-angle (FDK is exact in the source plane only)"),
              ("default volume", f"{grid!r} (the detector pitch at the rotation axis)"),
              ("line integrals", f"{float(p.min()):.4g} … {float(p.max()):.4g} (mean {float(p.mean()):.4g}; "
                                 "dimensionless)")]
    return _table(lines + _value_lines(info) + _note_lines(info))
