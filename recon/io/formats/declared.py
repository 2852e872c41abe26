"""The shape an array file declares, read from its header without decoding the data.

A compressed file can declare far more data than it stores (a 1.6 MB TIFF, `.npz` or `.mat` that decodes to
~2 GB): the readers check the declared shape against the geometry and the memory a read needs *before* they
decode anything (:func:`check_declared`). Formats whose header cannot say (a struct field of a ``.mat`` file, a
MATLAB v7.3 file) return ``None`` and are checked after reading, as before.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..._checks import check_memory
from ...geometry import Geometry
from .common import H5_EXT, TIFF_EXT, PathLike, check_shape, is_glob, reading
from .h5trust import open_h5

__all__ = ["declared_shape", "check_declared", "axes_hint"]

Declared = tuple[tuple[int, ...], int]  # (shape, bytes per value)


def _tiff(spec: PathLike, files: list[Path]) -> Optional[Declared]:
    import tifffile

    with reading(files[0], "TIFF file"), tifffile.TiffFile(files[0]) as tif:
        if not tif.series:
            return None
        shape, itemsize = tuple(int(n) for n in tif.series[0].shape), np.dtype(tif.series[0].dtype).itemsize
    if len(files) > 1:  # a stack of 2-D images, one per file (each file is checked again as it is read)
        shape = (len(files),) + shape[-2:]
    return shape, itemsize


def _npz(path: Path, variable: Optional[str]) -> Optional[Declared]:
    with reading(path, ".npz file"), zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.endswith(".npy")]
        if variable is None and len(names) == 1:
            member = names[0]
        elif variable is not None and f"{variable}.npy" in names:
            member = f"{variable}.npy"
        else:
            return None
        with z.open(member) as f:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                return None
            shape, _, dtype = read_header(f)  # the header only, no data
    return tuple(int(n) for n in shape), np.dtype(dtype).itemsize


def _mat(path: Path, variable: Optional[str]) -> Optional[Declared]:
    import scipy.io

    with reading(path, "MATLAB file"):
        try:
            found = scipy.io.whosmat(str(path))
        except NotImplementedError:  # v7.3: HDF5, checked when its dataset is opened
            return None
    sizes = {"double": 8, "single": 4, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
             "int64": 8, "uint64": 8, "logical": 1}
    arrays = [(n, s, c) for n, s, c in found if c in sizes]
    pick = [a for a in arrays if a[0] == variable] if variable is not None else arrays
    if len(pick) != 1:
        return None
    _, shape, cls = pick[0]
    return tuple(int(n) for n in shape if n != 1) or (1,), sizes[cls]  # loadmat squeezes singleton dimensions


def declared_shape(spec: PathLike, variable: Optional[str], files: Optional[list[Path]] = None
                   ) -> Optional[Declared]:
    """``(shape, bytes per value)`` that the array file ``spec`` (``variable`` inside containers) declares, or
    None where the header cannot tell. ``files``: the TIFF files of a folder or glob."""
    path = Path(spec)
    ext = path.suffix.lower()
    if files is not None or is_glob(spec) or ext in TIFF_EXT:
        return _tiff(spec, files or [path])
    if ext == ".npz":
        return _npz(path, variable)
    if ext == ".npy":
        with reading(path, ".npy file"):
            array = np.load(path, mmap_mode="r", allow_pickle=False)  # maps the file: reads only the header
            return tuple(int(n) for n in array.shape), array.dtype.itemsize
    if ext == ".mat":
        return _mat(path, variable)
    if ext in H5_EXT:
        return _h5(path, variable)
    return None


def _h5(path: Path, variable: Optional[str]) -> Optional[Declared]:
    """The shape of the dataset ``variable`` (or the file's only dataset) from its HDF5 header."""
    import h5py

    with open_h5(path) as f, reading(path, "HDF5 file"):
        names: list[str] = []
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        name = variable.lstrip("/") if variable is not None else (names[0] if len(names) == 1 else None)
        obj = f.get(name) if name is not None else None
        if not isinstance(obj, h5py.Dataset) or obj.dtype.kind not in "iuf":
            return None  # the reader names what is wrong
        return tuple(int(n) for n in obj.shape), obj.dtype.itemsize


def axes_hint(data_shape: tuple, axes: tuple[str, ...], n_views: int, n_det: int, geometry: Geometry) -> str:
    """What to add to a shape-mismatch error: the layout read, and the axis order that would fit."""
    hint = f" (data shape {data_shape} read with axes = \"{','.join(axes)}\")"
    if (n_det, n_views) == geometry.sino_shape:
        swapped = ",".join({"views": "det", "det": "views"}.get(a, a) for a in axes)
        hint += f"; the transpose matches: set axes = \"{swapped}\" in the sidecar's [data] table"
    return hint


def check_declared(path: PathLike, declared: Optional[Declared], geometry: Geometry,
                   axes_of: Callable[[int], tuple[str, ...]]) -> None:
    """Before decoding: refuse data whose declared shape (in the axis order ``axes_of(ndim)``) does not fit the
    geometry's views × detector elements, and a read that needs more memory than is available (the values as
    float64, twice: decoded and converted). Nothing is checked where the header could not tell (``None``)."""
    if declared is None:
        return
    shape, itemsize = declared
    axes = axes_of(len(shape))
    n_views, n_det = shape[axes.index("views")], shape[axes.index("det")]
    check_shape(path, (n_views, n_det), geometry, axes_hint(shape, axes, n_views, n_det, geometry))
    check_memory(float(math.prod(shape)) * max(itemsize, 8) * 2, f"{path}: reading data of declared shape {shape}")
