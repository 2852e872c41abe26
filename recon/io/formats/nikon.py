"""Nikon XT (X-Tek) cone-beam scans: an ``.xtekct`` settings file and one TIFF projection per view.

The ``.xtekct`` file is an INI file whose ``[XTekCT]`` section gives the scan: ``SrcToObject`` and
``SrcToDetector`` (mm), ``DetectorPixelsX``/``Y`` (columns, rows), ``DetectorPixelSizeX``/``Y`` (mm),
``DetectorOffsetX``/``Y`` (mm), ``Projections``, ``InitialAngle`` and ``AngularStep`` (degrees), ``WhiteLevel`` (the
open-beam count), ``CentreOfRotationTop``/``Bottom`` (mm at the object), ``Name``, ``InputSeparator`` and
``InputFolderName``. The projections are ``{Name}{InputSeparator}{k:04d}.tif`` (k = 1 … Projections) in the input
folder, raw counts normalised by ``WhiteLevel``. Where the folder holds ``_ctdata.txt`` (or ``{Name}.ang``) with
one ``index angle`` row per projection, its angles replace the settings' evenly spaced ones.

Conventions, as the TIGRE and CIL readers take them: the turntable turns the other way from recon's angle, so
recon's angle is minus Nikon's; a rotation axis displaced by ``CentreOfRotationTop`` mm is the detector shifted the
other way by its magnified distance. Nikon does not document these signs: check a reconstruction of a new scanner
for mirror images or doubled edges. A tilted rotation axis (``CentreOfRotationTop`` ≠ ``Bottom``), ``ObjectTilt``
and ``ObjectRoll`` are not modelled (warned). The input folder must lie inside the ``.xtekct`` file's folder.

``binning`` averages ``b × b`` detector pixels (the counts, before the log) and ``every`` keeps every n-th view,
while reading, so a large scan fits in memory; the memory needed is checked before a projection is read.

Reference: the format as written by Nikon's CT Pro 3D; TIGRE's ``NikonDataLoader`` and CIL's ``NikonDataReader``.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..._checks import check_memory, integer, real
from ...geometry import ConeBeam
from ..cone_scan import ConeScan
from ..plausibility import announce
from .common import LINE_INTEGRALS, PathLike, checking, existing, fail, listing, reading, record_input, \
    to_line_integrals

__all__ = ["read_nikon", "nikon_settings"]

MAX_SETTINGS_BYTES = 1 << 20  # an .xtekct file is ~2 kB
MAX_PIXELS = 32768  # per detector side
MAX_PROJECTIONS = 100000


def nikon_settings(path: PathLike) -> dict[str, str]:
    """The ``[XTekCT]`` section of an ``.xtekct`` file as strings (keys as written); one
    :class:`~recon.io.ScanFormatError` for a file that is not one."""
    p = existing(path)
    record_input(p)
    if p.stat().st_size > MAX_SETTINGS_BYTES:
        raise fail(p, f"is {p.stat().st_size} bytes: not an .xtekct settings file (a few kB)")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    with reading(p, ".xtekct settings file"):
        parser.read_string(p.read_bytes().decode("utf-8", errors="replace"))
    if "XTekCT" not in parser:
        raise fail(p, f"has no [XTekCT] section (sections: {listing(parser.sections()) or 'none'}): not a Nikon "
                      ".xtekct file")
    return dict(parser["XTekCT"])


def _number(path: Path, s: dict[str, str], key: str, default: Optional[float] = None, **bounds: Any) -> float:
    if key not in s:
        if default is None:
            raise fail(path, f"[XTekCT] has no {key} (needed for the geometry)")
        return default
    try:
        value = float(s[key])
    except ValueError:
        raise fail(path, f"[XTekCT] {key} = {s[key]!r} is not a number") from None
    with checking(path):
        return real(f"[XTekCT] {key}", value, **bounds)


def _count(path: Path, s: dict[str, str], key: str, high: int) -> int:
    value = _number(path, s, key)
    with checking(path):
        return integer(f"[XTekCT] {key}", value, low=1, high=high, integral_float=True)


def _angle_table(path: Path, n: int) -> Optional[np.ndarray]:
    """Angles (degrees) from ``path`` (rows ``index angle ...``) when it exists; ``None`` otherwise."""
    if not path.is_file():
        return None
    record_input(path)
    if path.stat().st_size > 64 * (n + 16) + MAX_SETTINGS_BYTES:
        raise fail(path, f"is {path.stat().st_size} bytes: too large for the angles of {n} projections")
    rows = []
    with reading(path, "angle table"):
        for line in path.read_text(errors="replace").splitlines():
            parts = line.replace(":", " ").replace(",", " ").split()
            if len(parts) >= 2 and re.fullmatch(r"\d+", parts[0]):
                try:
                    rows.append((int(parts[0]), float(parts[1])))
                except ValueError:
                    continue
    if len(rows) != n:
        raise fail(path, f"lists {len(rows)} projection angles; the .xtekct file has {n} projections")
    table = np.array([a for _, a in sorted(rows)])
    if not np.all(np.isfinite(table)) or np.abs(table).max() > 1e5:
        raise fail(path, "lists angles that are not finite or beyond ±1e5 degrees")
    if np.ptp(table) == 0.0:
        raise fail(path, "lists one angle for every projection: no scan")
    return table


def _projection_files(xtekct: Path, s: dict[str, str], n: int) -> list[Path]:
    """The ``n`` projection files in order, from the input folder (inside ``xtekct``'s folder)."""
    base = xtekct.parent.resolve()
    folder_name = s.get("InputFolderName", "").strip()
    folder = (base / folder_name).resolve() if folder_name else base
    if folder != base and base not in folder.parents:
        raise fail(xtekct, f"InputFolderName {folder_name!r} leaves the folder of the .xtekct file: refused (move "
                           "the projections beside it)")
    if not folder.is_dir():
        raise fail(xtekct, f"the projection folder {folder} does not exist")
    name = s.get("Name", "").strip() or xtekct.stem
    sep = s.get("InputSeparator", "_")
    pattern = re.compile(re.escape(name + sep) + r"(\d+)\.tiff?$", re.IGNORECASE)
    found: dict[int, Path] = {}
    for entry in folder.iterdir():
        m = pattern.match(entry.name)
        if m and entry.is_file():
            found.setdefault(int(m.group(1)), entry)
    missing = [k for k in range(1, n + 1) if k not in found]
    if missing:
        raise fail(xtekct, f"{len(missing)} of its {n} projections are missing from {folder} (expected "
                           f"{name}{sep}{missing[0]:04d}.tif; missing {listing([str(k) for k in missing], 8)})")
    return [found[k] for k in range(1, n + 1)]


def _read_projection(file: Path, shape: tuple[int, int]) -> np.ndarray:
    """One projection image of ``shape``, its declared size checked before it is decoded."""
    import tifffile

    record_input(file)
    with reading(file, "TIFF projection"):
        with tifffile.TiffFile(file) as tif:
            page = tif.pages[0]
            if tuple(page.shape[-2:]) != shape or np.prod(page.shape) != np.prod(shape):
                raise ValueError(f"holds an image of shape {tuple(page.shape)}; the .xtekct file says "
                                 f"{shape[0]} rows × {shape[1]} columns (DetectorPixelsY × DetectorPixelsX)")
            image = np.asarray(page.asarray(), dtype=np.float32).reshape(shape)
    return image


def _bin(image: np.ndarray, b: int) -> np.ndarray:
    rows, cols = image.shape[0] // b * b, image.shape[1] // b * b
    return image[:rows, :cols].reshape(rows // b, b, cols // b, b).mean(axis=(1, 3))


def _geometry(path: Path, s: dict[str, str], angles_deg: np.ndarray, shape: tuple[int, int], binning: int,
              info: dict) -> ConeBeam:
    """The scan of the settings ``s``: detector ``shape`` (rows, cols) before ``binning``."""
    sod = _number(path, s, "SrcToObject", low=0.0, strict=True)
    sdd = _number(path, s, "SrcToDetector", low=0.0, strict=True)
    if sod >= sdd:
        raise fail(path, f"SrcToObject = {sod:g} mm is not less than SrcToDetector = {sdd:g} mm: the object must "
                         "lie between the source and the detector")
    rows, cols = shape
    du = _number(path, s, "DetectorPixelSizeX", low=0.0, strict=True)
    dv = _number(path, s, "DetectorPixelSizeY", low=0.0, strict=True)
    top = _number(path, s, "CentreOfRotationTop", 0.0)
    bottom = _number(path, s, "CentreOfRotationBottom", top)
    warnings = info.setdefault("warnings", [])
    if abs(top - bottom) > 1e-6:
        warnings.append(f"the rotation axis is tilted (CentreOfRotationTop {top:g} mm, Bottom {bottom:g} mm): not "
                        "modelled, the mean is used")
    for key in ("ObjectTilt", "ObjectRoll"):
        if abs(_number(path, s, key, 0.0)) > 1e-9:
            warnings.append(f"{key} = {s[key]} is not modelled")
    axis = 0.5 * (top + bottom)
    off_col = _number(path, s, "DetectorOffsetX", 0.0) - axis * sdd / sod
    off_row = _number(path, s, "DetectorOffsetY", 0.0)
    b = binning  # cropping to whole bins moves the detector centre by half the cropped pixels
    off_row += (rows % b) * dv / 2.0
    off_col -= (cols % b) * du / 2.0
    with checking(path):
        return ConeBeam(-np.deg2rad(angles_deg), (rows // b, cols // b), (dv * b, du * b), sod=sod, sdd=sdd,
                        det_offset=(off_row, off_col))


def read_nikon(path: PathLike, geometry: Any = None, *, binning: int = 1, every: int = 1,
               min_transmission: Optional[float] = None) -> ConeScan:
    """Read a Nikon XT scan (see the module docstring): ``path`` is its ``.xtekct`` file.

    Parameters
    ----------
    path : the ``.xtekct`` file.
    geometry : must be None (the file gives the geometry).
    binning : average ``binning × binning`` detector pixels (1: none).
    every : keep every ``every``-th projection (1: all).
    min_transmission : floor of the log transform (default 1e-6).

    Returns
    -------
    ConeScan
        Line integrals ``[n_views, rows, cols]`` and the :class:`recon.ConeBeam`; ``info`` names the settings file,
        the white level and what was binned or skipped.
    """
    p = Path(path)
    if geometry is not None:
        raise fail(p, "a Nikon .xtekct file gives its own geometry; drop geometry= (or --geometry)")
    with checking(p):
        b = integer("binning", binning, low=1, high=64)
        step = integer("every", every, low=1)
    s = nikon_settings(p)
    n = _count(p, s, "Projections", MAX_PROJECTIONS)
    rows, cols = _count(p, s, "DetectorPixelsY", MAX_PIXELS), _count(p, s, "DetectorPixelsX", MAX_PIXELS)
    if b > min(rows, cols):
        raise fail(p, f"binning {b} exceeds the detector ({rows} × {cols} pixels)")
    name = s.get("Name", "").strip() or p.stem
    angles = _angle_table(p.parent / "_ctdata.txt", n)
    source = "_ctdata.txt"
    if angles is None:
        angles, source = _angle_table(p.parent / f"{name}.ang", n), f"{name}.ang"
    if angles is None:
        first = _number(p, s, "InitialAngle", 0.0, low=-1e5, high=1e5)
        delta = _number(p, s, "AngularStep", low=-360.0, high=360.0)
        if delta == 0.0:
            raise fail(p, "[XTekCT] AngularStep = 0: every projection at one angle is no scan")
        angles, source = first + delta * np.arange(n), "InitialAngle + k · AngularStep"
    white = _number(p, s, "WhiteLevel", low=0.0, strict=True)
    info: dict[str, Any] = {"xtekct": str(p), "i0": white, "angles_from": source, "binning": b, "every": step,
                            "file_shape": (n, rows, cols), "axes": "views,rows,det (one TIFF per view)"}
    g = _geometry(p, s, angles[::step], (rows, cols), b, info)
    files = _projection_files(p, s, n)[::step]
    check_memory(float(len(files)) * (rows // b) * (cols // b) * 4 * 4 + float(rows) * cols * 8,
                 f"{p}: reading {len(files)} projections of {rows // b} × {cols // b}")
    stack = np.empty(g.proj_shape, dtype=np.float32)
    for i, file in enumerate(files):
        image = _read_projection(file, (rows, cols))
        stack[i] = _bin(image, b) if b > 1 else image
    proj = to_line_integrals(p, stack, "raw", white, None, 1e-6 if min_transmission is None else min_transmission,
                             info)
    info["units"] = LINE_INTEGRALS
    with checking(p):
        scan = ConeScan(proj, g, str(p), "nikon-xtekct", info)
    announce(scan.info.get("warnings", []), str(p), stacklevel=3)
    return scan
