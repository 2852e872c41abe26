"""Shared parts of the scan readers: one-line errors naming the file, geometry arguments and TOML
sidecars, detector-row selection, angle units, raw counts → line integrals, and the final :class:`Scan`.

Internal to :mod:`recon.io.formats`; the public entry point is :func:`recon.io.read_scan`.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from ..._checks import one_line
from ...geometry import ConeGeometry, Geometry, ParallelBeam, tilted_circle, untilt_sinogram
from ..config import geometry_from_table, load_toml
from ..plausibility import ScanWarning, announce, geometry_problems, value_problems
from ..preprocess import log_transform, normalize
from ..scan import Scan, ScanFormatError


PathLike = Union[str, os.PathLike]
#: What ``geometry=`` accepts: a Geometry, a TOML sidecar path, a geometry table, or None (from the file).
GeometryArg = Union[Geometry, PathLike, dict, None]
#: Detector rows to read: one (→ 2-D sinogram), several, a slice, or None (all).
Rows = Union[int, Sequence[int], slice, None]

H5_EXT = (".h5", ".hdf5", ".hdf", ".nxs", ".nx", ".cxi")
TIFF_EXT = (".tif", ".tiff")
NPY_EXT = (".npy", ".npz")
LINE_INTEGRALS = "line integrals (dimensionless)"


def fail(path: PathLike, message: str) -> ScanFormatError:
    """The error to raise: ``"<path>: <message>"`` on one line."""
    return ScanFormatError(f"{path}: " + " ".join(message.split()))


class _LibraryMessages(logging.Handler):
    """Collects what a reading library logs instead of raising (tifffile, on some corrupt files)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().split())
        if message not in self.messages:
            self.messages.append(message)


@contextlib.contextmanager
def reading(path: PathLike, what: str) -> Iterator[list[str]]:
    """Turn any library exception raised while reading into one ScanFormatError line naming the file. What
    tifffile logs meanwhile is collected (the list yielded, which a caller may use in its own error) instead of
    reaching stderr as stray lines; where the read succeeds anyway, it becomes one :class:`ScanWarning` (the file
    is damaged)."""
    logger, handler = logging.getLogger("tifffile"), _LibraryMessages()
    logger.addHandler(handler)
    try:
        yield handler.messages
    except ScanFormatError:
        raise
    except MemoryError as err:  # a size declared by the file that this machine cannot hold
        raise fail(path, f"cannot read {what}: not enough memory for the sizes the file declares "
                         f"({one_line(err)})") from None
    except Exception as err:  # h5py, scipy.io, tifffile and numpy raise many different types
        raise fail(path, f"cannot read {what}: {one_line(err)}") from err
    finally:
        logger.removeHandler(handler)
    if handler.messages:
        warnings.warn(f"{path}: the {what} looks damaged (read anyway): {'; '.join(handler.messages)}", ScanWarning)


@contextlib.contextmanager
def checking(path: PathLike) -> Iterator[None]:
    """Prefix validation errors (ValueError/TypeError from numpy-level checks) with the file path."""
    try:
        yield
    except ScanFormatError:
        raise
    except (ValueError, TypeError) as err:
        raise fail(path, str(err)) from err


_INPUTS: contextvars.ContextVar[Optional[list[Path]]] = contextvars.ContextVar("recon_inputs", default=None)


@contextlib.contextmanager
def recording_inputs() -> Iterator[list[Path]]:
    """Collect every file, folder and glob pattern the readers touch inside the block (sidecars, data, flats,
    darks, stack members), so that a command can keep its outputs off all of them; nested blocks share the list."""
    outer = _INPUTS.get()
    if outer is not None:
        yield outer
        return
    token = _INPUTS.set([])
    try:
        yield _INPUTS.get()
    finally:
        _INPUTS.reset(token)


def record_input(path: PathLike) -> None:
    """Note ``path`` (a file, folder or glob) as read, inside :func:`recording_inputs`."""
    inputs = _INPUTS.get()
    if inputs is not None:
        inputs.append(Path(path))


def existing(path: PathLike) -> Path:
    """``path`` as a Path (noted as read, :func:`record_input`), or ScanFormatError if it does not exist."""
    p = Path(path)
    record_input(p)
    if not p.exists():
        raise fail(p, "no such file")
    if not (p.is_file() or p.is_dir()):
        raise fail(p, "not a regular file")
    return p


def listing(names: Sequence[str], limit: int = 12) -> str:
    """``'a', 'b', … (n more)`` for error messages that say what a file does hold."""
    names = list(names)
    if not names:
        return "nothing"
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" … ({len(names) - limit} more)" if len(names) > limit else "")


def is_glob(spec: PathLike) -> bool:
    """Whether ``spec`` is a wildcard pattern rather than one path."""
    return any(c in str(spec) for c in "*?[")


class Sidecar:
    """A parsed TOML sidecar: its ``[data]`` table (paths resolved against its folder) and ``[geometry]``."""

    KEYS = ("file", "variable", "axes", "values", "flat", "dark", "i0", "row", "rows", "center",
            "min_transmission")

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        record_input(self.path)
        if not self.path.is_file():
            raise fail(self.path, "no such sidecar file")
        try:
            table = load_toml(self.path)
        except (OSError, ValueError) as err:  # load_toml's messages start with the path
            raise ScanFormatError(" ".join(str(err).split())) from None
        unknown = sorted(set(table) - {"data", "geometry"})
        if unknown:
            raise fail(self.path, f"unknown table(s) {unknown}; a sidecar has [data] and [geometry]")
        if "geometry" not in table:
            raise fail(self.path, "has no [geometry] table (type, angles, n_det, det_spacing, ...)")
        try:
            self.geometry = geometry_from_table(table["geometry"])
        except ValueError as err:
            raise fail(self.path, str(err)) from None
        data = table.get("data", {})
        if not isinstance(data, dict):
            raise fail(self.path, "[data] must be a table")
        unknown = sorted(set(data) - set(self.KEYS))
        if unknown:
            raise fail(self.path, f"[data] has unknown key(s) {unknown}; allowed: {list(self.KEYS)}")
        if "row" in data and "rows" in data:
            raise fail(self.path, "[data] gives both row and rows; use one")
        self.data = dict(data)
        if "row" in self.data:
            self.data["rows"] = self.data.pop("row")

    def resolve(self, name: str) -> Path:
        """A path named in the sidecar, relative to the sidecar's folder."""
        return self.path.parent / name

    @property
    def data_file(self) -> Optional[Path]:
        file = self.data.get("file")
        if file is None:
            return None
        if not isinstance(file, str):
            raise fail(self.path, f"[data] file must be a string, got {file!r}")
        return self.resolve(file)


def resolve_geometry(path: PathLike, geometry: GeometryArg) -> tuple[Optional[Geometry], Optional[Sidecar]]:
    """``geometry=`` may be a Geometry (2-D or cone beam), a TOML sidecar path, or a geometry table (dict)."""
    if geometry is None or isinstance(geometry, (Geometry, ConeGeometry)):
        return geometry, None
    if isinstance(geometry, dict):
        try:
            return geometry_from_table(geometry), None
        except ValueError as err:
            raise fail(path, f"geometry table: {err}") from None
    if isinstance(geometry, (str, os.PathLike)):
        sidecar = Sidecar(geometry)
        return sidecar.geometry, sidecar
    raise TypeError(f"{path}: geometry must be a recon.Geometry, a TOML sidecar path or a geometry table, "
                    f"got {type(geometry).__name__}")


def geometry_only(path: PathLike, geometry: GeometryArg) -> Optional[Geometry]:
    """The geometry argument of a self-describing format: a sidecar may only replace the geometry."""
    resolved, sidecar = resolve_geometry(path, geometry)
    if sidecar is not None and set(sidecar.data) - {"file"}:
        raise fail(path, f"describes its own layout: the [data] keys {sorted(set(sidecar.data) - {'file'})} of "
                         f"{sidecar.path} apply only to plain arrays; keep just [geometry] (and file)")
    return resolved


def find_sidecar(path: Path) -> Optional[Path]:
    """``scan.toml`` or ``scan.npy.toml`` next to ``scan.npy``, if present."""
    for candidate in (path.with_suffix(".toml"), path.with_name(path.name + ".toml")):
        if candidate != path and candidate.is_file():
            return candidate
    return None


def apply_overrides(path: PathLike, geometry: Geometry, center: Optional[float], det_spacing: Optional[float],
                    image_size: Optional[int], pixel_size: Optional[float]) -> Geometry:
    """Geometry with the user's overrides; ``center`` (detector column) sets ``det_offset``."""
    changes = {k: v for k, v in (("det_spacing", det_spacing), ("image_size", image_size),
                                 ("pixel_size", pixel_size)) if v is not None}
    with checking(path):
        if changes:
            geometry = geometry.replace(**changes)
        if center is not None:
            center = float(center)
            if not math.isfinite(center):
                raise ValueError(f"center must be a finite detector column, got {center}")
            geometry = geometry.replace(det_offset=((geometry.n_det - 1) / 2.0 - center) * geometry.det_spacing)
    return geometry


def pixel_unit_geometry(path: PathLike, angles: np.ndarray, n_det: int, info: dict, *,
                        center: Optional[float], det_spacing: Optional[float], image_size: Optional[int],
                        pixel_size: Optional[float]) -> Geometry:
    """Parallel-beam geometry for files without a usable pixel size: pixel units unless det_spacing is given."""
    spacing = 1.0 if det_spacing is None else det_spacing
    info["pixel_units"] = det_spacing is None
    if det_spacing is None:
        info.setdefault("notes", []).append(
            "pixel size not used: lengths are in detector pixels (det_spacing = 1, '1 mm' = one pixel), so "
            "attenuation comes out per pixel; give the detector pitch in mm (recon reconstruct --det-spacing, "
            "read_scan(det_spacing=)) for physical units")
    with checking(path):
        geometry = ParallelBeam(angles, n_det=n_det, det_spacing=spacing,
                                image_size=n_det if image_size is None else image_size,
                                pixel_size=spacing if pixel_size is None else pixel_size)
    return apply_overrides(path, geometry, center, None, None, None)


def check_shape(path: PathLike, shape: tuple[int, int], geometry: Geometry, hint: str = "") -> None:
    """ScanFormatError unless ``shape`` (views, det) is the geometry's sinogram shape."""
    if tuple(shape) != geometry.sino_shape:
        raise fail(path, f"the data give {shape[0]} views × {shape[1]} detector elements but the geometry has "
                         f"{geometry.n_views} views × {geometry.n_det} elements{hint}")


def row_selection(path: PathLike, rows: Rows, n_rows: Optional[int]) -> tuple[list[int], bool]:
    """Indices of the detector rows to read and whether the result is a single 2-D sinogram."""
    if n_rows is None:  # data without a row axis
        if rows not in (None, 0, [0]):
            raise fail(path, f"rows={rows!r} given, but the data have no detector-row axis (one slice)")
        return [0], True
    if rows is None:
        return list(range(n_rows)), n_rows == 1
    if isinstance(rows, slice):
        picked = list(range(n_rows))[rows]
        if not picked:
            raise fail(path, f"rows={rows} selects none of the {n_rows} detector rows")
        return picked, False
    single = isinstance(rows, (int, np.integer)) and not isinstance(rows, bool)
    values = [rows] if single else list(np.atleast_1d(np.asarray(rows)))
    if not values or not all(isinstance(r, (int, np.integer)) and not isinstance(r, bool) for r in values):
        raise fail(path, f"rows must be an int, a sequence of ints or a slice, got {rows!r}")
    bad = [int(r) for r in values if not -n_rows <= r < n_rows]
    if bad:
        raise fail(path, f"detector row(s) {bad} out of range: the data have {n_rows} rows")
    picked = [int(r) % n_rows for r in values]
    if len(set(picked)) != len(picked):
        raise fail(path, f"rows={rows!r} repeats a detector row")
    return picked, single


def angles_to_radians(path: PathLike, values: np.ndarray, unit: Optional[str], where: str,
                      info: dict) -> np.ndarray:
    """Angles from a file, in degrees unless ``unit`` says radians."""
    with checking(path):
        values = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(values)):
        raise fail(path, f"{where} has NaN/Inf angles")
    unit_l = (unit or "").strip().lower()
    if unit_l in ("rad", "rads", "radian", "radians"):
        info["angles_unit"] = "rad"
        return values
    if unit_l in ("", "deg", "degree", "degrees", "°"):
        info["angles_unit"] = "deg"
        if not unit_l:
            info.setdefault("notes", []).append(f"{where} has no units attribute: read as degrees")
        return np.deg2rad(values)
    raise fail(path, f"{where} has units {unit!r}; expected degrees or radians")


def to_line_integrals(path: PathLike, data: np.ndarray, values: str, flat: Any, dark: Any,
                      min_transmission: float, info: dict) -> np.ndarray:
    """``data`` (views first) as line integrals; raw counts are normalised and log-transformed."""
    with checking(path):
        finite = np.isfinite(data)
        if not np.all(finite):
            raise ValueError(f"the {'raw counts' if values == 'raw' else 'data'} contain "
                             f"{int(np.count_nonzero(~finite))} NaN/Inf values")
        info["raw_range"] = (float(np.min(data)), float(np.max(data)))
        info["values"] = values
        if values == "log":
            info["n_clipped"] = 0
            return _plausible(path, np.asarray(data, dtype=np.float32), 0, info)
        transmission = normalize(data, flat, dark)
        n_negative = int(np.count_nonzero(transmission <= 0))
        p, n_clipped = log_transform(transmission, min_transmission)
    info["n_clipped"] = n_clipped
    info["n_nonpositive"] = n_negative
    info["min_transmission"] = float(min_transmission)
    if n_clipped:
        info.setdefault("notes", []).append(
            f"{n_clipped} pixel(s) clipped at transmission {min_transmission:g} "
            f"({n_negative} at or below the dark level)")
    return _plausible(path, p.astype(np.float32), n_clipped, info)


def _plausible(path: PathLike, p: np.ndarray, n_clipped: int, info: dict) -> np.ndarray:
    """``p``, after refusing mostly impossible values and noting warnings (see :mod:`recon.io.plausibility`)."""
    refusal, warned = value_problems(p, n_clipped)
    if refusal:
        raise fail(path, refusal)
    info.setdefault("warnings", []).extend(warned)
    return p


def make_scan(path: PathLike, fmt: str, sino_vrd: np.ndarray, single: bool, geometry: Geometry,
              info: dict) -> Scan:
    """Scan from line integrals ``[n_views, n_rows, n_det]`` (or ``[n_views, n_det]``)."""
    if sino_vrd.ndim == 3:
        sino = sino_vrd[:, 0, :] if single else np.moveaxis(sino_vrd, 1, 0)
    else:
        sino = sino_vrd
    check_shape(path, sino.shape[-2:], geometry)
    tilted = tilted_circle(geometry)
    if tilted is not None:  # a detector turned in its plane (a calibrated sidecar): its data on the untilted one
        geometry, tilt = tilted
        sino = untilt_sinogram(sino, geometry, tilt)
        info.setdefault("notes", []).append(f"detector tilted by {math.degrees(tilt):.4g}° in its plane: data "
                                            "resampled onto the untilted detector")
    info["units"] = LINE_INTEGRALS
    info["warnings"] = list(info.get("warnings", [])) + geometry_problems(geometry, info.get("angles_unit"))
    with checking(path):
        scan = Scan(np.ascontiguousarray(sino, dtype=np.float32), geometry, str(path), fmt, info)
    announce(scan.info["warnings"], str(path), stacklevel=4)
    return scan
