"""Cone-beam projections from plain arrays and TIFF stacks described by a TOML sidecar whose ``[geometry]`` is cone
beam (``type = "cone"``, :mod:`recon.io.config`): ``[views, rows, cols]`` line integrals, or raw counts with flats
and darks (or ``i0``), in any axis order (``axes = "views,rows,det"`` by default) → :class:`recon.io.ConeScan`."""

from __future__ import annotations

import math
from typing import Any, Optional

from ..._checks import check_memory
from ...geometry import ConeGeometry
from ..cone_scan import ConeScan
from ..plausibility import announce
from .arrays import _canonical, _declared, _load_values, _parse_axes, _references
from .common import LINE_INTEGRALS, PathLike, Sidecar, checking, fail, to_line_integrals

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
    declared = _declared(path, opts)
    if declared is not None:  # before decoding a byte
        shape, itemsize = declared
        _check_shape(path, shape, _parse_axes(path, opts.get("axes"), len(shape)), g)
        check_memory(float(math.prod(shape)) * max(itemsize, 8) * 2, f"{path}: reading data of declared shape {shape}")
    data = _load_values(path, opts)
    axes = _parse_axes(path, opts.get("axes"), data.ndim)
    _check_shape(path, data.shape, axes, g)
    canon = _canonical(data, axes)
    info: dict[str, Any] = {"axes": ",".join(axes), "file_shape": tuple(data.shape)}
    if sidecar:
        info["sidecar"] = str(sidecar.path)
    flat, dark = _references(path, opts, axes, None, info)
    p = to_line_integrals(path, canon, opts["values"], flat, dark, opts.get("min_transmission", 1e-6), info)
    info["units"] = LINE_INTEGRALS
    with checking(path):
        scan = ConeScan(p, g, str(path), fmt, info)
    announce(scan.info.get("warnings", []), str(path), stacklevel=4)
    return scan
