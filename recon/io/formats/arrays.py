"""Loading plain arrays that a TOML sidecar describes — ``.npy``/``.npz``, ``.mat`` variables, HDF5 datasets and TIFF
(multi-page, folder or glob) — in any axis order, with the sidecar's ``[data]`` options and flat/dark references
(the readers built on them: :mod:`.plain` for sinograms, :mod:`.cone` for cone-beam projections)."""

from __future__ import annotations

import glob as globmod
import math
import os
import re
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .common import H5_EXT, TIFF_EXT, PathLike, Sidecar, existing, fail, is_glob, listing, reading, record_input
from .declared import declared_shape
from .h5trust import open_dataset
from .hdf5 import check_h5_dataset, h5_names, open_h5
from .htc import field, loadmat, mat_variables

__all__: list[str] = []  # helpers of .plain and .cone


_AXIS_ALIASES = {
    "views": "views", "view": "views", "angles": "views", "angle": "views", "theta": "views",
    "projections": "views",
    "det": "det", "detector": "det", "cols": "det", "col": "det", "columns": "det", "column": "det",
    "u": "det", "x": "det",
    "rows": "rows", "row": "rows", "slices": "rows", "slice": "rows", "y": "rows", "z": "rows", "v": "rows",
}


_CANONICAL = {2: ("views", "det"), 3: ("views", "rows", "det")}


def _parse_axes(path: PathLike, axes: Optional[str], ndim: int) -> tuple[str, ...]:
    if ndim not in _CANONICAL:
        raise fail(path, f"the data have {ndim} dimension(s); expected a 2-D sinogram (views, det) or a 3-D "
                         "stack (views, rows, det)")
    if axes is None:
        return _CANONICAL[ndim]
    if not isinstance(axes, str):
        raise fail(path, f"axes must be a string such as \"views,det\", got {axes!r}")
    names = [a.strip().lower() for a in axes.split(",")]
    unknown = [a for a in names if a not in _AXIS_ALIASES]
    if unknown:
        raise fail(path, f"axes = {axes!r}: unknown axis name(s) {unknown}; use views, det, rows")
    parsed = tuple(_AXIS_ALIASES[a] for a in names)
    if sorted(parsed) != sorted(_CANONICAL[ndim]):
        raise fail(path, f"axes = {axes!r} does not fit {ndim}-D data: it needs each of "
                         f"{', '.join(_CANONICAL[ndim])} once")
    return parsed


def _canonical(array: np.ndarray, axes: tuple[str, ...], views_dropped: bool = False) -> np.ndarray:
    """Transpose ``array`` (in ``axes`` order, without the views axis if ``views_dropped``) to views, rows, det."""
    names = [a for a in axes if a != "views"] if views_dropped else list(axes)
    target = [a for a in _CANONICAL[len(axes)] if a in names]
    return np.transpose(array, [names.index(a) for a in target])


def _natural_key(p: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def _tiff_files(spec: PathLike) -> list[Path]:
    """A TIFF file, a folder of TIFFs, or a glob; several files are sorted by name (numbers numerically)."""
    p = Path(spec)
    if p.is_dir():
        files = [q for q in p.iterdir() if q.suffix.lower() in TIFF_EXT and q.is_file()]
        if not files:
            raise fail(p, "folder holds no .tif/.tiff files")
    elif is_glob(spec):
        files = [Path(q) for q in globmod.glob(str(spec)) if Path(q).is_file()]
        if not files:
            raise fail(spec, "no files match this pattern")
    else:
        return [existing(p)]
    return sorted(files, key=_natural_key)


def _read_tiff(file: Path) -> np.ndarray:
    """All pages of one TIFF file; corrupt or empty files raise ScanFormatError with tifffile's complaint."""
    import tifffile

    with reading(file, "TIFF file") as messages:
        image = np.asarray(tifffile.imread(file))
        if image.size == 0 or image.ndim < 2:
            raise fail(file, f"cannot read TIFF file: {'; '.join(messages) or 'no image data'}")
    return image


def _read_tiff_stack(spec: PathLike) -> np.ndarray:
    """One multi-page TIFF → ``[pages, rows, cols]`` (one page → 2-D); several files → stacked pages."""
    record_input(spec)
    files = _tiff_files(spec)
    for file in files:
        record_input(file)
    if len(files) == 1:
        return _read_tiff(files[0])
    images = []
    for file in files:
        image = _read_tiff(file)
        image = image[0] if image.ndim == 3 and image.shape[0] == 1 else image
        if image.ndim != 2 or (images and image.shape != images[0].shape):
            raise fail(file, f"image of shape {image.shape} does not fit the stack of "
                             f"{images[0].shape if images else '2-D'} images from {spec}")
        images.append(image)
    return np.stack(images)


def _container_names(path: Path) -> list[str]:
    """Variables (.mat), keys (.npz) or dataset paths (HDF5) of a data container; [] for other files."""
    ext = path.suffix.lower()
    if ext == ".mat":
        return mat_variables(path)
    if ext == ".npz":
        with reading(path, ".npz file"), np.load(path, allow_pickle=False) as z:
            return list(z.files)
    if ext in H5_EXT:
        with open_h5(path) as f, reading(path, "HDF5 file"):
            return h5_names(f, depth=8)
    return []


def _load_mat_variable(path: Path, variable: Optional[str]) -> np.ndarray:
    """A variable of a .mat file (``"struct.field"`` allowed; v7.3 files via h5py, transposed to MATLAB's order)."""
    contents = loadmat(path)
    if contents is None:  # MATLAB v7.3 = HDF5 with the dimensions reversed
        return np.asarray(_load_h5_variable(path, variable)).T
    if variable is None:
        arrays = [k for k, v in contents.items() if isinstance(v, np.ndarray) and v.dtype != object]
        if len(arrays) != 1:
            raise fail(path, f"holds {listing(list(contents))}: name the array with variable = \"...\"")
        variable = arrays[0]
    head, *rest = variable.split(".")
    if head not in contents:
        raise fail(path, f"has no variable {head!r}; it holds {listing(list(contents))}")
    value = contents[head]
    for i, part in enumerate(rest):
        value = field(path, value, part, ".".join([head] + rest[:i]))
    return np.asarray(value)


def _load_h5_variable(path: Path, variable: Optional[str]) -> np.ndarray:
    import h5py

    with open_h5(path) as f, reading(path, "HDF5 file"):
        if variable is None:
            names = h5_names(f, depth=8)
            if len(names) != 1:
                raise fail(path, f"holds datasets {listing(names)}: name one with variable = \"...\"")
            variable = names[0]
        if f.get(variable, getclass=True) is not h5py.Dataset:
            raise fail(path, f"has no dataset {variable!r}; datasets: {listing(h5_names(f, depth=8))}")
        ds = open_dataset(path, f, variable)
        check_h5_dataset(path, ds)
        with reading(path, f"dataset {variable}"):
            return np.asarray(ds[()])


def _load_array(spec: PathLike, variable: Optional[str]) -> np.ndarray:
    """An array from ``.npy``/``.npz``/``.mat``/HDF5/TIFF (file, folder or glob), ``variable`` selecting
    inside containers."""
    if is_glob(spec) or Path(spec).is_dir():
        return _read_tiff_stack(spec)
    path = existing(spec)
    ext = path.suffix.lower()
    if ext in TIFF_EXT:
        if variable is not None:
            raise fail(path, "variable does not apply to TIFF files")
        return _read_tiff_stack(path)
    if ext == ".npy":
        if variable is not None:
            raise fail(path, "variable does not apply to .npy files")
        with reading(path, ".npy file"):
            return np.load(path, allow_pickle=False)
    if ext == ".npz":
        with reading(path, ".npz file"), np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if variable is None and len(names) == 1:
                variable = names[0]
            if variable not in names:
                raise fail(path, f"has no array {variable!r}; it holds {listing(names)}"
                           if variable else f"holds {listing(names)}: name one with variable = \"...\"")
            return z[variable]
    if ext == ".mat":
        return _load_mat_variable(path, variable)
    if ext in H5_EXT:
        return _load_h5_variable(path, variable)
    raise fail(path, f"unsupported array file type {ext!r}; use .npy, .npz, .mat, .h5/.hdf5/.nxs or .tif/.tiff")


def _reference(spec: Any, base: Optional[Path], data_path: Path, what: str) -> Any:
    """A flat/dark reference: a number, an array, a variable of the data file, a file (relative to ``base``
    when given), or ``{file, variable}``."""
    if spec is None or isinstance(spec, np.ndarray):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return float(spec)
    if isinstance(spec, dict):
        unknown = set(spec) - {"file", "variable"}
        if unknown or not spec:
            raise fail(data_path, f"the {what} table takes file and variable; got {sorted(spec)}")
        file = spec.get("file")
        target = data_path if file is None else (base / file if base else Path(file))
        return _load_array(target, spec.get("variable"))
    if isinstance(spec, (str, os.PathLike)):
        if isinstance(spec, str) and data_path.is_file() and spec.lstrip("/") in _container_names(data_path):
            return _load_array(data_path, spec)
        target = Path(spec) if base is None or Path(spec).is_absolute() else base / spec
        return _load_array(target, None)
    raise fail(data_path, f"{what} must be a number, a file or variable name, or {{file, variable}}; got {spec!r}")


def _options(path: PathLike, sidecar: Optional[Sidecar], options: dict) -> dict:
    """The sidecar's ``[data]`` table overridden by explicit options, checked for consistency. ``flat`` and
    ``dark`` become ``(spec, base folder)``: names from the sidecar are relative to it, explicit ones to the cwd."""
    merged = dict(sidecar.data) if sidecar else {}
    data_file = sidecar.data_file if sidecar else None
    merged.pop("file", None)
    if data_file is not None and not is_glob(data_file) and not data_file.exists():
        raise fail(path, f"the sidecar {sidecar.path} names the data file {data_file}, which does not exist")
    if data_file is not None and not is_glob(path) and not is_glob(data_file) and Path(path).exists() \
            and data_file.exists() and not data_file.samefile(path):
        raise fail(path, f"the sidecar {sidecar.path} names a different data file ({data_file})")
    merged.update({k: v for k, v in options.items() if v is not None})
    for key in ("flat", "dark"):
        explicit = options.get(key) is not None
        merged[key] = (merged.get(key), None if explicit or sidecar is None else sidecar.path.parent)
    values = merged.setdefault("values", "log")
    if values not in ("log", "raw"):
        raise fail(path, f"values must be \"log\" (line integrals) or \"raw\" (counts), got {values!r}")
    i0 = merged.get("i0")
    has_flat, has_dark = merged["flat"][0] is not None, merged["dark"][0] is not None
    if values == "log" and (has_flat or has_dark or i0 is not None):
        raise fail(path, "flat/dark/i0 given but values = \"log\": set values = \"raw\" for raw counts")
    if values == "raw" and has_flat == (i0 is not None):
        raise fail(path, "raw counts need exactly one of flat (flat-field file or variable) and i0 (open-beam count)")
    if i0 is not None and (isinstance(i0, bool) or not isinstance(i0, (int, float)) or not i0 > 0
                           or not math.isfinite(i0)):
        raise fail(path, f"i0 must be a positive number of counts, got {i0!r}")
    return merged


def _prepare_reference(path: PathLike, ref: Any, axes: tuple[str, ...], what: str,
                       rows: Optional[list[int]]) -> Any:
    """A flat/dark array in the data's axis order (views axis = frame index, or absent) → canonical order,
    with the same detector rows as the data."""
    if ref is None or isinstance(ref, float):
        return ref
    ref = np.asarray(ref)
    if ref.ndim == len(axes):
        ref = _canonical(ref, axes)
        row_axis = 1
    elif ref.ndim == len(axes) - 1:
        ref = _canonical(ref, axes, views_dropped=True) if ref.ndim > 1 else ref
        row_axis = 0
    else:
        raise fail(path, f"{what} of shape {ref.shape} fits neither one frame nor a stack of frames of the "
                         f"{len(axes)}-D data (axes {','.join(axes)})")
    if rows is not None and ref.ndim > row_axis + 1:
        ref = np.take(ref, rows, axis=row_axis)
    return ref


def _declared(path: PathLike, opts: dict[str, Any]) -> Any:
    """What the data file (or the TIFF files of a folder or glob) declares before a byte is decoded:
    :func:`.declared.declared_shape`."""
    stack = _tiff_files(path) if is_glob(path) or Path(path).is_dir() else None
    return declared_shape(path, opts.get("variable"), stack)


def _load_values(path: PathLike, opts: dict[str, Any]) -> np.ndarray:
    """The data array, refused when it holds no real numbers, or integers said to be line integrals."""
    data = np.asarray(_load_array(path, opts.get("variable")))
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise fail(path, f"data of dtype {data.dtype} are not real numbers")
    if opts["values"] == "log" and np.issubdtype(data.dtype, np.integer):
        raise fail(path, f"integer data ({data.dtype}) look like raw counts: set values = \"raw\" with flat/dark "
                         "or i0")
    return data


def _references(path: PathLike, opts: dict[str, Any], axes: tuple[str, ...], rows: Optional[list[int]],
                info: dict[str, Any]) -> tuple[Any, Any]:
    """``(flat, dark)`` of raw counts in canonical order (``i0`` as the flat, noted in ``info``), ``(None, None)``
    for line integrals."""
    if opts["values"] != "raw":
        return None, None
    if opts.get("i0") is not None:
        flat = info["i0"] = float(opts["i0"])
    else:
        flat = _prepare_reference(path, _reference(*opts["flat"], Path(path), "flat"), axes, "flat", rows)
    return flat, _prepare_reference(path, _reference(*opts["dark"], Path(path), "dark"), axes, "dark", rows)
