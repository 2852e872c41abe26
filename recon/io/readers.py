"""Readers for real scanner files: each returns a :class:`~recon.io.scan.Scan` (line integrals + geometry).

==================  ===============================  ==========================================================
format              reader                           geometry from
==================  ===============================  ==========================================================
``htc2022-mat``     :func:`read_htc_mat`             the file (FIPS/HTC2022 ``CtDataFull``/``CtDataLimited``)
``dxchange-hdf5``   :func:`read_dxchange`            ``exchange/theta``; parallel beam, pixel units
``nxtomo-hdf5``     :func:`read_nxtomo`              ``rotation_angle``; parallel beam, pixel units; cone beam
                                                     where ``instrument/source/distance`` is finite
``tiff``            :func:`read_tiff`                a TOML sidecar (``[geometry]`` table)
``array+sidecar``   :func:`read_array`               a TOML sidecar: ``.npy``/``.npz``/``.mat``/HDF5 arrays
``nikon-xtekct``    :func:`read_nikon`               the ``.xtekct`` file (Nikon XT cone beam, TIFF projections)
==================  ===============================  ==========================================================

:func:`read_scan` picks the reader from the extension and the content. A *sidecar* is a small TOML file::

    [data]
    file = "sino.npy"          # relative to the sidecar (optional when the data file is given directly)
    variable = "sino"          # .mat variable ("struct.field" allowed), .npz key or HDF5 dataset path
    axes = "views,det"         # or "det,views"; 3-D: "views,rows,det", "rows,views,det", ...
    values = "log"             # line integrals; or "raw" counts, normalised with flat/dark or i0
    flat = "flat.npy"          # raw only: a file (relative), a variable of the data file, or
    dark = "dark.npy"          #   { file = "...", variable = "..." }; flat/dark use the data's axis order
    i0 = 60000.0               #   (views axis = frame index, or absent); or i0 instead of flat
    row = 3                    # 3-D data: one detector row (or rows = [..]); default all
    center = 296.0             # optional rotation centre, detector column (sets det_offset)
    min_transmission = 1e-6    # floor of the log transform

    [geometry]                 # see recon.io.config.geometry_from_table
    type = "parallel"
    ...

Options common to the readers (``None`` keeps the file's or the default value):

* ``rows`` — detector rows (slices) to read: an int (→ 2-D sinogram ``[n_views, n_det]``), a sequence or
  slice (→ ``[n_slices, n_views, n_det]``); default all rows (2-D when the detector has one row).
* ``center`` — rotation centre in detector columns: ``det_offset = ((n_det-1)/2 - center) · det_spacing``.
* ``det_spacing``, ``image_size``, ``pixel_size`` — override the geometry (files without a recorded pixel
  size are read in *pixel units*: ``det_spacing = 1``, and "mm" then means one detector pixel).
* ``min_transmission`` — floor of :func:`~recon.io.preprocess.log_transform` for raw counts.

The format readers live in :mod:`recon.io.formats` (``htc``, ``hdf5``, ``arrays``). Every failure to
read raises :class:`~recon.io.scan.ScanFormatError` with a one-line message that starts
with the file path. Nothing is ever written.
"""

from __future__ import annotations

import glob as globmod
import inspect
from pathlib import Path
from typing import Any

from .formats import (HTC_EFFECTIVE_PIXEL_SIZE, read_array, read_dxchange, read_htc_mat, read_htc_reference,
                      read_nikon, read_nxtomo, read_tiff)
from .formats.common import (H5_EXT, NPY_EXT, TIFF_EXT, GeometryArg, PathLike, Sidecar, existing, fail,
                             find_sidecar, is_glob, listing, recording_inputs)
from .formats.hdf5 import h5_kind
from .formats.htc import mat_variables
from .scan import Scan

__all__ = ["read_scan", "read_htc_mat", "read_htc_reference", "read_dxchange", "read_nxtomo", "read_tiff",
           "read_array", "read_nikon", "HTC_EFFECTIVE_PIXEL_SIZE"]


def _call(reader, path: PathLike, geometry: GeometryArg, options: dict) -> Scan:
    allowed = [p for p in inspect.signature(reader).parameters if p not in ("path", "geometry")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"{path}: option(s) {unknown} do not apply to {reader.__name__}; allowed: {allowed}")
    return reader(path, geometry, **options)


def read_scan(path: PathLike, geometry: GeometryArg = None, **options: Any) -> Scan:
    """Read any supported scan file, choosing the reader from the extension and the content.

    * ``.toml`` — a sidecar whose ``[data] file`` names the data (``geometry`` must be None);
    * ``.mat`` — HTC2022 struct (``CtData*``) → :func:`read_htc_mat`, else a plain array + sidecar;
    * ``.h5``/``.hdf5``/``.nxs``/... — ``exchange/data`` → :func:`read_dxchange`; an NXtomo entry →
      :func:`read_nxtomo`; else a plain dataset + sidecar;
    * ``.tif``/``.tiff``, a folder or a glob → :func:`read_tiff`;  ``.npy``/``.npz`` → :func:`read_array`;
    * ``.xtekct`` (or a folder holding exactly one) → :func:`read_nikon`.

    Formats without a geometry use ``geometry`` (a sidecar path, table or Geometry) or, when it is None, a
    sidecar next to the file (``scan.toml`` or ``scan.npy.toml`` for ``scan.npy``).

    Parameters
    ----------
    path : file, folder or glob.
    geometry : Geometry, TOML sidecar path or geometry table; for self-describing formats it replaces the
        file's geometry.
    **options : passed to the reader (``rows``, ``center``, ``image_size``, ``pixel_size``, ...); an option
        the reader does not take raises ``TypeError``.

    Returns
    -------
    Scan
        Its ``info["inputs"]`` lists every file, folder and glob pattern read (sidecar, data, flats, darks, stack
        members): the files a command must never write over.
    """
    with recording_inputs() as inputs:
        scan = _read_scan(path, geometry, **options)
    scan.info["inputs"] = sorted(dict.fromkeys(map(str, inputs)))
    return scan


def _read_scan(path: PathLike, geometry: GeometryArg = None, **options: Any) -> Scan:
    """:func:`read_scan` without noting the inputs."""
    p = Path(path)
    if p.suffix.lower() == ".toml" and not is_glob(path):
        if geometry is not None:
            raise ValueError(f"{path}: a sidecar passed as the file already gives the geometry; drop geometry=")
        sidecar = Sidecar(p)
        data_file = sidecar.data_file
        if data_file is None:
            raise fail(p, "[data] has no file = \"...\" naming the data (relative to the sidecar)")
        return _read_scan(data_file, geometry=str(p), **options)
    if p.is_dir() and not is_glob(path):
        settings = sorted(p.glob("*.xtekct"))
        if len(settings) == 1:
            return _call(read_nikon, settings[0], geometry, options)
    if is_glob(path) or p.is_dir():
        if p.is_dir() or globmod.glob(str(path)):
            return _call(read_tiff, path, geometry, options)
        raise fail(path, "no files match this pattern")
    p = existing(p)
    ext = p.suffix.lower()

    def plain(reader):
        geo = geometry
        if geo is None:
            found = find_sidecar(p)
            if found is None:
                raise fail(p, f"is a plain array without geometry: give a TOML sidecar (--geometry FILE.toml; "
                              f"geometry= in Python) or put {p.with_suffix('.toml').name} next to it")
            geo = str(found)
        return _call(reader, p, geo, options)

    if ext == ".mat":
        names = mat_variables(p)
        if any(n.startswith("CtData") for n in names):
            return _call(read_htc_mat, p, geometry, options)
        if names and all(n.startswith("recon") for n in names):
            raise fail(p, f"holds a reference image ({', '.join(names)}), not a scan: give it as --reference "
                          "(recon compare), read it with recon.io.read_htc_reference; recon info describes it")
        return plain(read_array)
    if ext in H5_EXT:
        kind, names = h5_kind(p)
        if kind == "dxchange":
            return _call(read_dxchange, p, geometry, options)
        if kind == "nxtomo":
            return _call(read_nxtomo, p, geometry, options)
        if geometry is None and find_sidecar(p) is None:
            raise fail(p, f"is neither DataExchange (exchange/data) nor NXtomo, and no sidecar describes it; "
                          f"it holds {listing(names)}")
        return plain(read_array)
    if ext in TIFF_EXT:
        return plain(read_tiff)
    if ext in NPY_EXT:
        return plain(read_array)
    if ext == ".xtekct":
        return _call(read_nikon, p, geometry, options)
    raise fail(p, f"cannot tell the scan format from the extension {ext or '(none)'!r}; supported: .mat, "
                  f"{', '.join(H5_EXT)}, .tif/.tiff, .npy/.npz, .xtekct, or a .toml sidecar")
