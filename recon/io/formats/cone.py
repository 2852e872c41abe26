"""Cone-beam projections from plain arrays and TIFF stacks described by a TOML sidecar whose ``[geometry]`` is cone
beam (``type = "cone"``, :mod:`recon.io.config`): ``[views, rows, cols]`` line integrals, or raw counts with flats
and darks (or ``i0``), in any axis order (``axes = "views,rows,det"`` by default) → :class:`recon.io.ConeScan`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..._checks import check_memory
from ...geometry import ConeGeometry
from ..cone_scan import ConeScan
from ..plausibility import announce
from .arrays import _canonical, _load_array, _parse_axes, _prepare_reference, _reference, _tiff_files
from .common import LINE_INTEGRALS, PathLike, Sidecar, checking, fail, is_glob, to_line_integrals
from .declared import declared_shape

__all__ = ["read_cone_data"]

#: Options of the 2-D readers that a cone-beam scan has no use for (its rows are one volume's, its grid is chosen
#: when reconstructing).
_NOT_FOR_CONE = ("rows", "center", "det_spacing", "image_size", "pixel_size")


def _check_shape(path: PathLike, shape: tuple[int, ...], axes: tuple[str, ...], g: ConeGeometry) -> None:
    if len(shape) != 3:
        raise fail(path, f"holds {len(shape)}-D data of shape {shape}; a cone-beam scan is a stack of 2-D projections "
                         "[views, rows, cols]")
    canon = tuple(shape[axes.index(a)] for a in ("views", "rows", "det"))
    if canon != g.proj_shape:
        raise fail(path, f"data of shape {shape} (axes {','.join(axes)}: {canon[0]} views of {canon[1]} × {canon[2]}) "
                         f"do not match the sidecar's cone-beam geometry: {g.proj_shape[0]} views of "
                         f"{g.proj_shape[1]} × {g.proj_shape[2]} (det_shape = [rows, cols])")


def read_cone_data(path: PathLike, g: ConeGeometry, sidecar: Optional[Sidecar], opts: dict[str, Any],
                   fmt: str) -> ConeScan:
    """The body of :func:`recon.io.read_array`/:func:`recon.io.read_tiff` for a cone-beam geometry ``g``;
    ``opts``: the sidecar's ``[data]`` table merged with the explicit options."""
    used = [k for k in _NOT_FOR_CONE if opts.get(k) is not None]
    if used:
        raise fail(path, f"option(s) {used} apply to 2-D scans; a cone-beam scan is read whole (choose the volume "
                         "when reconstructing)")
    stack = _tiff_files(path) if is_glob(path) or Path(path).is_dir() else None
    declared = declared_shape(path, opts.get("variable"), stack)
    if declared is not None:  # before decoding a byte
        shape, itemsize = declared
        _check_shape(path, shape, _parse_axes(path, opts.get("axes"), len(shape)), g)
        check_memory(float(math.prod(shape)) * max(itemsize, 8) * 2, f"{path}: reading data of declared shape {shape}")
    data = np.asarray(_load_array(path, opts.get("variable")))
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise fail(path, f"data of dtype {data.dtype} are not real numbers")
    values = opts["values"]
    if values == "log" and np.issubdtype(data.dtype, np.integer):
        raise fail(path, f"integer data ({data.dtype}) look like raw counts: set values = \"raw\" with flat/dark or i0")
    axes = _parse_axes(path, opts.get("axes"), data.ndim)
    _check_shape(path, data.shape, axes, g)
    canon = _canonical(data, axes)
    info: dict[str, Any] = {"axes": ",".join(axes), "file_shape": tuple(data.shape)}
    if sidecar:
        info["sidecar"] = str(sidecar.path)
    flat = dark = None
    if values == "raw":
        if opts.get("i0") is not None:
            flat = info["i0"] = float(opts["i0"])
        else:
            flat = _prepare_reference(path, _reference(*opts["flat"], Path(path), "flat"), axes, "flat", None)
        dark = _prepare_reference(path, _reference(*opts["dark"], Path(path), "dark"), axes, "dark", None)
    p = to_line_integrals(path, canon, values, flat, dark, opts.get("min_transmission", 1e-6), info)
    info["units"] = LINE_INTEGRALS
    with checking(path):
        scan = ConeScan(p, g, str(path), fmt, info)
    announce(scan.info.get("warnings", []), str(path), stacklevel=4)
    return scan
