"""Plain arrays described by a TOML sidecar: ``.npy``/``.npz``, ``.mat`` variables, HDF5 datasets and TIFF
(multi-page, folder or glob), as line integrals or raw counts with flats/darks, in any axis order: sinograms of 2-D
scans (:class:`recon.io.Scan`), and projections of cone-beam scans (:class:`recon.io.ConeScan`, :mod:`.cone`)
when the sidecar's geometry is cone beam."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union


from ..cone_scan import ConeScan
from ..scan import Scan
from .arrays import _canonical, _declared, _load_values, _options, _parse_axes, _references
from .common import (TIFF_EXT, GeometryArg, PathLike, Rows, apply_overrides, check_shape, fail, is_glob, make_scan,
                     resolve_geometry, row_selection, to_line_integrals)
from .cone import read_cone_data
from .declared import axes_hint, check_declared

__all__ = ["read_array", "read_tiff"]


def _read_plain(path: PathLike, geometry: GeometryArg, fmt: str, options: dict) -> Union[Scan, ConeScan]:
    """Shared body of :func:`read_array` and :func:`read_tiff`."""
    g, sidecar = resolve_geometry(path, geometry)
    if g is None:
        raise fail(path, "carries no geometry: give a TOML sidecar with a [geometry] table (--geometry FILE.toml "
                         "on the command line; geometry= in Python, which also takes a table or a recon.Geometry)")
    opts = _options(path, sidecar, options)
    if getattr(g, "ndim", 2) == 3:
        return read_cone_data(path, g, sidecar, opts, fmt)
    check_declared(path, _declared(path, opts), g,
                   lambda ndim: _parse_axes(path, opts.get("axes"), ndim))  # before decoding a byte
    data = _load_values(path, opts)
    axes = _parse_axes(path, opts.get("axes"), data.ndim)
    canon = _canonical(data, axes)
    info: dict[str, Any] = {"axes": ",".join(axes), "file_shape": tuple(data.shape)}
    if sidecar:
        info["sidecar"] = str(sidecar.path)
    rows = None
    if data.ndim == 3:
        rows, single = row_selection(path, opts.get("rows"), canon.shape[1])
        canon = canon[:, rows, :]
        info["rows"] = rows
    else:
        _, single = row_selection(path, opts.get("rows"), None)
    n_views, n_det = canon.shape[0], canon.shape[-1]
    if (n_views, n_det) != g.sino_shape:
        check_shape(path, (n_views, n_det), g, axes_hint(tuple(data.shape), axes, n_views, n_det, g))

    flat, dark = _references(path, opts, axes, rows, info)
    g = apply_overrides(path, g, opts.get("center"), opts.get("det_spacing"), opts.get("image_size"),
                        opts.get("pixel_size"))
    sino = to_line_integrals(path, canon, opts["values"], flat, dark, opts.get("min_transmission", 1e-6), info)
    return make_scan(path, fmt, sino, single, g, info)


def read_array(path: PathLike, geometry: GeometryArg, *, variable: Optional[str] = None,
               axes: Optional[str] = None, values: Optional[str] = None, flat: Any = None, dark: Any = None,
               i0: Optional[float] = None, rows: Rows = None, center: Optional[float] = None,
               det_spacing: Optional[float] = None, image_size: Optional[int] = None,
               pixel_size: Optional[float] = None, min_transmission: Optional[float] = None) -> Scan:
    """Read a plain array (``.npy``, ``.npz``, ``.mat``, HDF5 dataset, TIFF) described by a TOML sidecar.

    Parameters
    ----------
    path : the data file.
    geometry : TOML sidecar path (its ``[data]`` table supplies defaults for the options below, file names
        relative to the sidecar), a geometry table, or a :class:`recon.Geometry`.
    variable : ``.mat`` variable (``"struct.field"`` allowed; v7.3 files are read with h5py and transposed to
        MATLAB's order), ``.npz`` key or HDF5 dataset path; optional when the file holds one array.
    axes : order of the data's axes, e.g. ``"views,det"`` (default), ``"det,views"``, ``"views,rows,det"``
        (default for 3-D), ``"rows,views,det"``.
    values : ``"log"`` (line integrals, default) or ``"raw"`` (counts, normalised by ``flat``/``dark`` or ``i0``).
    flat, dark : numbers, arrays, file names (relative to the current directory when passed here), names of
        variables in the data file, or ``{file, variable}`` tables; arrays in the data's axis order with the
        views axis counting frames (averaged) or absent.
    i0 : open-beam count, instead of ``flat``.
    rows, center, det_spacing, image_size, pixel_size, min_transmission : see the module docstring.

    Returns
    -------
    Scan, format ``"array+sidecar"`` (``"tiff"`` for TIFF data).
    """
    fmt = "tiff" if is_glob(path) or Path(path).is_dir() or Path(path).suffix.lower() in TIFF_EXT \
        else "array+sidecar"
    return _read_plain(path, geometry, fmt, dict(variable=variable, axes=axes, values=values, flat=flat, dark=dark,
                                                 i0=i0, rows=rows, center=center, det_spacing=det_spacing,
                                                 image_size=image_size, pixel_size=pixel_size,
                                                 min_transmission=min_transmission))


def read_tiff(path: PathLike, geometry: GeometryArg, *, flat: Any = None, dark: Any = None,
              i0: Optional[float] = None, values: Optional[str] = None, axes: Optional[str] = None,
              rows: Rows = None, center: Optional[float] = None, det_spacing: Optional[float] = None,
              image_size: Optional[int] = None, pixel_size: Optional[float] = None,
              min_transmission: Optional[float] = None) -> Scan:
    """Read TIFF data: a stack of raw projections or one 2-D sinogram image; geometry from a TOML sidecar.

    Parameters
    ----------
    path : a multi-page TIFF (each page one view ``[rows, cols]``), a folder of single-image TIFFs, or a glob
        such as ``"proj_*.tif"`` (files sorted by name, numbers numerically) → ``[views, rows, det]`` data;
        or a single 2-D image → a sinogram ``[views, det]``.
    geometry : TOML sidecar (``[geometry]``, and ``[data]`` defaults such as ``values``, ``flat``, ``dark``),
        a geometry table, or a :class:`recon.Geometry`.
    flat, dark : TIFF files, folders or globs of flat/dark frames (averaged), or numbers / arrays.
    i0, values, axes, rows, center, ... : as :func:`read_array` (``values`` defaults to ``"log"``).
    """
    if not (is_glob(path) or Path(path).is_dir() or Path(path).suffix.lower() in TIFF_EXT):
        raise fail(path, "not a .tif/.tiff file, folder or glob of TIFF files")
    return _read_plain(path, geometry, "tiff", dict(flat=flat, dark=dark, i0=i0, values=values, axes=axes,
                                                    rows=rows, center=center, det_spacing=det_spacing,
                                                    image_size=image_size, pixel_size=pixel_size,
                                                    min_transmission=min_transmission))
