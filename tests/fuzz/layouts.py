"""Pristine scans of every reader layout as editable :class:`Scene` values, and the writers that store a scene.

A scene holds what a layout stores in *semantic* fields (the main array ``data`` in the file's axis order, the
flat and dark stacks, the angles in the unit the format documents, the HTC parameters, the sidecar tables and
the file names), so a content-level corruption edits the scene and the layout's writer stores it again. The
pristine files are small (12–24 views × 16–32 detector elements) and their raw counts are integers, so storing
them as integers loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import h5py
import numpy as np
import scipy.io
import tifffile

from tests.io.files import raw_counts, toml_value

__all__ = ["Scene", "Layout", "LAYOUTS", "pristine", "write_scene", "Written"]


@dataclass
class Scene:
    """What one layout stores; every field may be edited by a corruption before :func:`write_scene`."""

    layout: str
    data: Any                                   # main array, in the file's axis order
    flat: Any = None                            # raw layouts: flat stack (k, rows, det) or (k, det)
    dark: Any = None                            # raw layouts: dark stack
    angles: Any = None                          # degrees (HTC field, exchange/theta, NXtomo projection angles)
    units: Optional[str] = None                 # HDF5 ``units`` attribute of the angles (None: no attribute)
    params: dict = field(default_factory=dict)  # HTC parameters (angles excluded)
    geometry: Optional[dict] = None             # sidecar [geometry] table
    table: Optional[dict] = None                # sidecar [data] table
    names: dict = field(default_factory=dict)   # role ("data", "sidecar") → file name
    drop: set = field(default_factory=set)      # items not written: "data", "flat", "dark", "angles", "geometry", ...
    huge: Optional[tuple] = None                # declare the main HDF5 dataset with this shape, chunked, no data
    extra: dict = field(default_factory=dict)   # layout switches: "nx_attributes", "image_key", ...


@dataclass(frozen=True)
class Written:
    """The files a scene became: ``file`` is the FILE argument, ``geometry`` the ``--geometry`` argument (or None),
    ``data`` the main data file, ``stored`` the main array as stored (to find its bytes for payload bit flips)."""

    file: Path
    geometry: Optional[Path]
    data: Path
    sidecar: Optional[Path]
    stored: Optional[np.ndarray]


@dataclass(frozen=True)
class Layout:
    """A reader layout: its values ("log"/"raw"), where its angles live ("htc", "hdf5", "sidecar"), how its
    sidecar is given ("none", "geometry" = ``--geometry``, "found" = next to the data, "file" = the sidecar is
    FILE), whether the data file is HDF5, the (views, det) axes of ``data``, and the scene's file names."""

    name: str
    values: str
    angles: str
    sidecar: str
    hdf5: bool
    views_axis: int
    det_axis: int
    names: dict
    writer: Callable[[Scene, Path], Optional[np.ndarray]]

    @property
    def has_sidecar(self) -> bool:
        return self.sidecar != "none"


# ---- HDF5 helpers ---------------------------------------------------------------------------------------------

def _h5_value(value: Any) -> Any:
    """A value h5py can store: unicode arrays as bytes, object arrays as variable-length strings."""
    arr = np.asarray(value)
    if arr.dtype.kind == "U":
        return np.char.encode(arr, "utf-8")
    if arr.dtype.kind == "O":
        return np.array([str(v) for v in arr.reshape(-1)], dtype=h5py.string_dtype()).reshape(arr.shape)
    return arr


def _h5_put(f: h5py.File, name: str, value: Any, huge: Optional[tuple] = None, dtype: Any = "f4") -> None:
    """``f[name] = value`` (no timestamps); with ``huge`` a chunked dataset of that shape with nothing written."""
    if huge is not None:
        chunks = tuple(min(s, c) for s, c in zip(huge, (1,) * (len(huge) - 2) + (256, 256)))
        f.create_dataset(name, shape=huge, dtype=dtype, chunks=chunks, track_times=False)
        return
    f.create_dataset(name, data=_h5_value(value), track_times=False)


def _units(f: h5py.File, name: str, units: Optional[str]) -> None:
    if units is not None and name in f:
        f[name].attrs["units"] = units


# ---- writers --------------------------------------------------------------------------------------------------

def _write_htc(s: Scene, folder: Path) -> np.ndarray:
    params = {k: v for k, v in s.params.items() if k not in s.drop}
    if "angles" not in s.drop:
        params["angles"] = s.angles
    struct: dict = {"type": "sinogram"}
    if "data" not in s.drop:
        struct["sinogram"] = s.data
    if "parameters" not in s.drop:
        struct["parameters"] = params
    scipy.io.savemat(folder / s.names["data"], {"CtDataFull": struct})
    return np.asarray(s.data)


def _write_dxchange(s: Scene, folder: Path) -> np.ndarray:
    with h5py.File(folder / s.names["data"], "w") as f:
        if "data" not in s.drop:
            _h5_put(f, "exchange/data", s.data, s.huge)
        for key, name in (("flat", "exchange/data_white"), ("dark", "exchange/data_dark"),
                          ("angles", "exchange/theta")):
            if key not in s.drop:
                _h5_put(f, name, getattr(s, key))
        _units(f, "exchange/theta", s.units)
    return np.asarray(s.data)


def _nx_frames(s: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames (darks, two flats, projections, one flat), image keys and angles; data that cannot join the
    references (another rank, strings) are stored as the frames themselves."""
    data, flat, dark = np.asarray(s.data), np.asarray(s.flat), np.asarray(s.dark)
    flat = flat[:0] if "flat" in s.drop else flat
    dark = dark[:0] if "dark" in s.drop else dark
    n_proj, n_first = (len(data) if data.ndim else 0), min(2, len(flat))
    keys = np.array([2] * len(dark) + [1] * n_first + [0] * n_proj + [1] * (len(flat) - n_first), dtype=np.int64)
    angles = np.concatenate([[0.0] * (len(dark) + n_first), np.asarray(s.angles, float),
                             [180.0] * (len(flat) - n_first)])
    if data.ndim == flat.ndim and data.shape[1:] == flat.shape[1:] and data.dtype.kind not in "SUO":
        frames = np.concatenate([dark, flat[:n_first], data, flat[n_first:]]).astype(data.dtype)
    else:
        frames = data
    return frames, keys, angles


def _write_nxtomo(s: Scene, folder: Path) -> np.ndarray:
    frames, keys, angles = _nx_frames(s)
    keys = np.asarray(s.extra.get("image_key", keys))
    huge = None if s.huge is None else (len(keys),) + s.huge[1:]
    with h5py.File(folder / s.names["data"], "w") as f:
        entry = f.create_group("entry")
        if "data" not in s.drop:
            _h5_put(f, "entry/instrument/detector/data", frames, huge)
        if "image_key" not in s.drop:
            _h5_put(f, "entry/instrument/detector/image_key", keys)
        _h5_put(f, "entry/instrument/detector/x_pixel_size", 6.5e-6)
        f["entry/instrument/detector/x_pixel_size"].attrs["units"] = "m"
        if "angles" not in s.drop:
            _h5_put(f, "entry/sample/rotation_angle", angles)
            _units(f, "entry/sample/rotation_angle", s.units)
        if s.extra.get("nx_attributes", True):
            entry.attrs["NX_class"] = "NXentry"
            entry["definition"] = "NXtomo"
            data = entry.create_group("data")
            data.attrs["NX_class"] = "NXdata"
            for name, target in (("data", "instrument/detector/data"), ("image_key", "instrument/detector/image_key"),
                                 ("rotation_angle", "sample/rotation_angle")):
                if target in entry:
                    data[name] = entry[target]  # hard links, as NeXus writers do
    return np.asarray(s.data)


def _write_tiff_raw(s: Scene, folder: Path) -> np.ndarray:
    if "data" not in s.drop:
        tifffile.imwrite(folder / s.names["data"], s.data)
    if "flat" not in s.drop:
        for k, frame in enumerate(np.asarray(s.flat)):
            tifffile.imwrite(folder / f"flat_{k}.tif", frame)
    if "dark" not in s.drop:
        tifffile.imwrite(folder / "dark.tif", s.dark)
    return np.asarray(s.data)


def _write_tiff_log(s: Scene, folder: Path) -> np.ndarray:
    if "data" not in s.drop:
        tifffile.imwrite(folder / s.names["data"], s.data)
    return np.asarray(s.data)


def _write_npy(s: Scene, folder: Path) -> np.ndarray:
    if "data" not in s.drop:
        np.save(folder / s.names["data"], np.asarray(s.data), allow_pickle=True)
    return np.asarray(s.data)


def _write_npz(s: Scene, folder: Path) -> np.ndarray:
    arrays = {k: v for k, v in (("counts", s.data), ("flat", s.flat), ("dark", s.dark))
              if {"counts": "data"}.get(k, k) not in s.drop}
    np.savez(folder / s.names["data"], **arrays)
    return np.asarray(s.data)


def _write_mat(s: Scene, folder: Path) -> np.ndarray:
    arrays = {"other": np.zeros(3)}
    if "data" not in s.drop:
        arrays["sino"] = s.data
    scipy.io.savemat(folder / s.names["data"], arrays)
    return np.asarray(s.data)


def _write_mat73(s: Scene, folder: Path) -> np.ndarray:
    """MATLAB v7.3: HDF5 behind a 512-byte MATLAB header, arrays stored transposed (column-major)."""
    path = folder / s.names["data"]
    with h5py.File(path, "w", userblock_size=512) as f:
        if "data" not in s.drop:
            _h5_put(f, "sino", np.asarray(s.data).T, None if s.huge is None else s.huge[::-1], dtype="f8")
        _h5_put(f, "other", np.zeros(3))
    header = b"MATLAB 7.3 MAT-file, written by the recon fuzz tests".ljust(116) + b"\x00" * 8 + b"\x00\x02IM"
    with open(path, "r+b") as f:
        f.write(header)
    return np.asarray(s.data).T


def _write_h5(s: Scene, folder: Path) -> np.ndarray:
    with h5py.File(folder / s.names["data"], "w") as f:
        if "data" not in s.drop:
            _h5_put(f, "scan/sino", s.data, s.huge)
        _h5_put(f, "other", np.zeros(3))
    return np.asarray(s.data)


def _layout(name, values, angles, sidecar, hdf5, axes, data, side, writer) -> Layout:
    names = {"data": data} if side is None else {"data": data, "sidecar": side}
    return Layout(name, values, angles, sidecar, hdf5, axes[0], axes[1], names, writer)


LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (
    _layout("htc", "log", "htc", "none", False, (0, 1), "htc_scan.mat", None, _write_htc),
    _layout("dxchange", "raw", "hdf5", "none", True, (0, 2), "scan.h5", None, _write_dxchange),
    _layout("nxtomo", "raw", "hdf5", "none", True, (0, 2), "scan.nxs", None, _write_nxtomo),
    _layout("tiff-raw", "raw", "sidecar", "found", False, (0, 2), "proj.tif", "proj.toml", _write_tiff_raw),
    _layout("tiff-log", "log", "sidecar", "geometry", False, (1, 0), "sino.tif", "meta.toml", _write_tiff_log),
    _layout("npy", "log", "sidecar", "file", False, (0, 1), "sino.npy", "scan.toml", _write_npy),
    _layout("npz-raw", "raw", "sidecar", "geometry", False, (0, 1), "scan.npz", "geom.toml", _write_npz),
    _layout("mat", "log", "sidecar", "geometry", False, (1, 0), "scan.mat", "geom.toml", _write_mat),
    _layout("mat73", "log", "sidecar", "geometry", True, (0, 1), "v73.mat", "geom.toml", _write_mat73),
    _layout("h5", "log", "sidecar", "geometry", True, (0, 1), "plain.h5", "geom.toml", _write_h5),
)}


# ---- pristine scenes ------------------------------------------------------------------------------------------

def _sizes(rng: np.random.Generator) -> tuple[int, int]:
    """12–24 views × 16–32 detector elements, never square (so swapped axes cannot pass unnoticed)."""
    while True:
        n_views, n_det = int(rng.integers(12, 25)), int(rng.integers(16, 33))
        if n_views != n_det:
            return n_views, n_det


def _table(n_views: int, n_det: int, fan: bool) -> dict:
    table = {"type": "fan" if fan else "parallel", "n_det": n_det, "det_spacing": 0.5, "image_size": n_det,
             "pixel_size": 0.25 if fan else 0.5,
             "angles": {"start": 0.0, "stop": 360.0 if fan else 180.0, "count": n_views, "unit": "deg"}}
    if fan:
        table.update(sod=100.0, sdd=150.0)
    return table


def _counts(p: np.ndarray, seed: int):
    """Integer-valued float32 raw counts, flats and darks of line integrals ``p`` (views first)."""
    return tuple(np.round(a).astype(np.float32) for a in raw_counts(p, seed))


def pristine(layout: str, seed: int) -> Scene:
    """The pristine scene of ``layout`` for round ``seed`` (sizes and values drawn from it)."""
    lay = LAYOUTS[layout]
    rng = np.random.default_rng([seed, list(LAYOUTS).index(layout)])
    n_views, n_det = _sizes(rng)
    p = rng.uniform(0.1, 3.0, size=(n_views, n_det))
    s = Scene(layout, None, names=dict(lay.names))
    if layout == "htc":
        s.data = np.concatenate([p, p[:1]])  # the last view repeats the first (0° … 360°)
        s.angles = np.linspace(0.0, 360.0, n_views + 1)
        sod, sdd, pitch = 410.66, 553.74, 0.2
        s.params = {"distanceSourceOrigin": sod, "distanceSourceDetector": sdd, "numDetectorsPost": n_det,
                    "pixelSizePost": pitch, "effectivePixelSizePost": pitch * sod / sdd, "projectName": "fuzz"}
        return s
    if lay.values == "raw":
        frames = p if layout == "npz-raw" else p[:, None, :]
        s.data, s.flat, s.dark = _counts(frames, seed + 1)
    else:
        s.data = p.astype(np.float64 if layout in ("mat", "mat73") else np.float32)
        s.data = s.data.T if lay.views_axis == 1 else s.data
    if lay.angles == "hdf5":
        s.angles = np.arange(n_views) * 180.0 / n_views
        s.units = "degrees" if layout == "dxchange" else "degree"
        return s
    s.geometry = _table(n_views, n_det, fan=layout == "npy")
    s.table = {"tiff-raw": {"values": "raw", "flat": "flat_*.tif", "dark": "dark.tif"},
               "tiff-log": {"axes": "det,views"},
               "npy": {"file": s.names["data"]},
               "npz-raw": {"variable": "counts", "values": "raw", "flat": "flat", "dark": "dark"},
               "mat": {"variable": "sino", "axes": "det,views"},
               "mat73": {"variable": "sino"},
               "h5": {"variable": "/scan/sino"}}[layout]
    return s


def _write_sidecar(s: Scene, path: Path) -> None:
    lines = []
    if s.table is not None and "table" not in s.drop:
        lines += ["[data]"] + [f"{k} = {toml_value(v)}" for k, v in s.table.items()] + [""]
    if s.geometry is not None and "geometry" not in s.drop:
        lines += ["[geometry]"] + [f"{k} = {toml_value(v)}" for k, v in s.geometry.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_scene(s: Scene, folder: Path) -> Written:
    """Store ``s`` in ``folder`` (created) with its layout's writer; returns the files and the arguments."""
    lay = LAYOUTS[s.layout]
    folder.mkdir(parents=True, exist_ok=True)
    stored = lay.writer(s, folder)
    data = folder / s.names["data"]
    sidecar = folder / s.names["sidecar"] if lay.has_sidecar else None
    if sidecar is not None:
        _write_sidecar(s, sidecar)
    file = sidecar if lay.sidecar == "file" else data
    geometry = sidecar if lay.sidecar == "geometry" else None
    return Written(file, geometry, data, sidecar, stored)
