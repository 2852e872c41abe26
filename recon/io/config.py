"""TOML configuration files and the geometry tables inside them.

A geometry table describes a :class:`recon.ParallelBeam` or :class:`recon.FanBeam` in plain TOML, with the
angles either listed or given as a range::

    [geometry]
    type = "fan"                 # or "parallel"
    detector = "flat"            # fan only: "flat" or "arc"
    n_det = 560
    det_spacing = 0.2            # mm (on the detector)
    image_size = 256
    pixel_size = 0.297           # mm
    sod = 410.66                 # mm, fan only
    sdd = 553.74                 # mm, fan only
    det_offset = 0.0             # mm, optional
    detector_tilt_deg = 0.0      # fan, flat detector, optional: the detector turned in its plane (recon calibrate)
    angles = { start = 0.0, stop = 360.0, count = 720, unit = "deg" }   # stop excluded
    # or: angles = [0.0, 0.5, ...] with angles_unit = "deg" (default "rad")

A tilted detector makes the geometry a :class:`recon.FanBeamVec` (:func:`recon.geometry.tilted_fan`); the scan
readers resample such data onto the untilted detector and give a :class:`recon.FanBeam`.

A cone-beam scan (:class:`recon.ConeBeam`) has no image grid in its table::

    [geometry]
    type = "cone"
    detector = "flat"            # or "cylindrical"
    det_shape = [768, 972]       # rows, cols
    det_spacing = [0.2, 0.2]     # mm (row, col) on the detector, or one number
    sod = 120.0                  # mm
    sdd = 600.0                  # mm
    det_offset = [0.0, 0.0]      # mm (row, col), optional
    angles = { start = 0.0, stop = 360.0, count = 720, unit = "deg" }

The same table is used by simulation configs, training configs and the geometry sidecars of scan files.
"""

from __future__ import annotations

import math
import os
import tomllib
from pathlib import Path
from typing import Any, Union

import numpy as np

from .._checks import check_memory
from ..geometry import ConeBeam, FanBeam, Geometry, ParallelBeam, tilted_fan

__all__ = ["load_toml", "parse_toml", "angles_from_spec", "geometry_from_table", "geometry_to_table",
           "geometry_toml"]

PathLike = Union[str, os.PathLike]

_UNITS = {"rad": 1.0, "deg": np.pi / 180.0}


MAX_TOML_DEPTH = 16  # tables and arrays nested deeper than any recon file needs
MAX_TOML_BYTES = 16 * 2 ** 20


def _depth(value: Any) -> int:
    """How deeply tables and arrays nest in ``value`` (iteratively: no recursion on crafted input)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_TOML_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def parse_toml(text: str, source: str = "<string>") -> dict[str, Any]:
    """Parse TOML text; a syntax error, or tables and arrays nested deeper than ``MAX_TOML_DEPTH``, becomes one
    ``ValueError`` line naming ``source``."""
    deep = ValueError(f"{source}: tables or arrays nested more than {MAX_TOML_DEPTH} deep; no recon file needs that")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{source}: not valid TOML: {err}") from None
    except RecursionError:
        raise deep from None
    if _depth(table) > MAX_TOML_DEPTH:
        raise deep
    return table


def load_toml(path: PathLike) -> dict[str, Any]:
    """Read a TOML file (``FileNotFoundError`` if missing, ``ValueError`` naming the file if malformed, not
    UTF-8, larger than 16 MiB or nested too deeply)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size > MAX_TOML_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size / 2 ** 20:.1f} MiB is too large for a TOML config or sidecar "
                         f"(at most {MAX_TOML_BYTES // 2 ** 20} MiB)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    return parse_toml(text, str(path))


def _unit_factor(unit: Any, where: str) -> float:
    if unit not in _UNITS:
        raise ValueError(f"{where}: angle unit must be 'rad' or 'deg', got {unit!r}")
    return _UNITS[unit]


def angles_from_spec(spec: Any, unit: str = "rad", where: str = "angles") -> np.ndarray:
    """Angles in radians from a list of numbers (in ``unit``) or a range table
    ``{start, stop, count, unit = "rad" | "deg", endpoint = false}`` (``stop`` excluded unless ``endpoint``)."""
    if isinstance(spec, dict):
        unknown = set(spec) - {"start", "stop", "count", "unit", "endpoint"}
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; expected start, stop, count, unit, endpoint")
        missing = {"start", "stop", "count"} - set(spec)
        if missing:
            raise ValueError(f"{where}: a range needs start, stop and count; missing {sorted(missing)}")
        count = spec["count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"{where}: count must be a positive integer, got {count!r}")
        factor = _unit_factor(spec.get("unit", unit), where)
        check_memory(64.0 * count, f"{where}: {count} views")  # the geometry keeps a few arrays per view
        values = np.linspace(float(spec["start"]), float(spec["stop"]), count,
                             endpoint=bool(spec.get("endpoint", False)))
        return values * factor
    if isinstance(spec, (list, tuple)):
        try:
            values = np.asarray(spec, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: angles must be numbers") from None
        return values * _unit_factor(unit, where)
    raise ValueError(f"{where}: expected a list of angles or a table {{start, stop, count, unit}}, got {spec!r}")


_COMMON = ("n_det", "det_spacing", "image_size", "pixel_size")
_OPTIONAL = ("det_offset",)
_FAN = ("sod", "sdd")


def geometry_from_table(table: dict[str, Any], where: str = "geometry") -> Geometry:
    """Build a geometry from a TOML table (see the module docstring). Errors name ``where`` and the key."""
    if not isinstance(table, dict):
        raise ValueError(f"[{where}] must be a table")
    kind = table.get("type")
    if kind == "cone":
        return _cone_from_table(table, where)
    if kind not in ("parallel", "fan"):
        raise ValueError(f"[{where}] type must be 'parallel', 'fan' or 'cone', got {kind!r}")
    required = _COMMON + (_FAN if kind == "fan" else ()) + ("angles",)
    missing = [k for k in required if k not in table]
    if missing:
        raise ValueError(f"[{where}] is missing {', '.join(missing)}")
    allowed = set(required) | set(_OPTIONAL) | {"type", "angles_unit"} | (
        {"detector", "detector_tilt_deg"} if kind == "fan" else set())
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ValueError(f"[{where}] has unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    angles = angles_from_spec(table["angles"], table.get("angles_unit", "rad"), f"[{where}] angles")
    params = {k: table[k] for k in _COMMON + _OPTIONAL if k in table}
    try:
        if kind == "fan":
            fan = FanBeam(angles, sod=table["sod"], sdd=table["sdd"], detector=table.get("detector", "flat"),
                          **params)
            tilt = table.get("detector_tilt_deg", 0.0)
            if isinstance(tilt, bool) or not isinstance(tilt, (int, float)):
                raise ValueError(f"detector_tilt_deg must be a number of degrees, got {tilt!r}")
            return fan if tilt == 0 else tilted_fan(fan, math.radians(tilt))
        return ParallelBeam(angles, **params)
    except (TypeError, ValueError) as err:
        raise type(err)(f"[{where}]: {err}") from None


_CONE = ("det_shape", "det_spacing", "sod", "sdd", "angles")


def _cone_from_table(table: dict[str, Any], where: str) -> ConeBeam:
    """A :class:`recon.ConeBeam` from its table (see the module docstring)."""
    missing = [k for k in _CONE if k not in table]
    if missing:
        raise ValueError(f"[{where}] is missing {', '.join(missing)}")
    allowed = set(_CONE) | {"type", "angles_unit", "detector", "det_offset"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ValueError(f"[{where}] has unknown key(s) {unknown}; a cone-beam table allows {sorted(allowed)} "
                         "(the volume is chosen when reconstructing)")
    angles = angles_from_spec(table["angles"], table.get("angles_unit", "rad"), f"[{where}] angles")
    try:
        return ConeBeam(angles, table["det_shape"], table["det_spacing"], sod=table["sod"], sdd=table["sdd"],
                        detector=table.get("detector", "flat"), det_offset=table.get("det_offset", (0.0, 0.0)))
    except (TypeError, ValueError) as err:
        raise type(err)(f"[{where}]: {err}") from None


def geometry_to_table(geometry: Geometry) -> dict[str, Any]:
    """Inverse of :func:`geometry_from_table` (angles listed in radians)."""
    table = geometry.to_dict()
    table["angles_unit"] = "rad"
    return table


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(float(value)) if isinstance(value, float) else repr(int(value))


def geometry_toml(geometry: Geometry, comments: tuple[str, ...] = ()) -> str:
    """A geometry sidecar (TOML text with one ``[geometry]`` table, angles listed in radians to full precision)
    that :func:`geometry_from_table` reads back to an equal geometry; ``comments`` open it as ``#`` lines."""
    lines = [f"# {c}" for c in comments] + ["[geometry]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in geometry_to_table(geometry).items()]
    return "\n".join(lines) + "\n"
