"""The corruptions, by category: ``bytes`` (the written data file), ``sidecar`` (the written TOML file),
``content`` (the main array rewritten with a wrong dtype, rank, shape, NaN/Inf, nothing), ``values``
(implausible line integrals or raw counts, broken flat/dark references), ``angles``, ``geometry`` (absurd
sidecar or HTC geometry, missing keys), ``memory`` (sizes that would need tens of GB: run in a subprocess
with an address-space limit), ``hdf5`` (the main dataset stored in, linked to or mapped from another file —
refused — or mapped from the same file — read), ``path`` (odd file names, a directory or a symlink loop instead of a file),
``outputs`` (hostile ``--out`` targets: an input, a link, a FIFO, an existing file, a name escaping the folder; see
:mod:`tests.fuzz.outputs`) and ``pristine`` (nothing changed).

Each :class:`Corruption` edits the :class:`~tests.fuzz.layouts.Scene` before it is written (``edit``) and/or
the written files (``post``) and/or sets the ``--out`` target (``target``); ``variants`` are run as separate
cases, each with its own seed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from . import bytelevel
from .layouts import LAYOUTS, Layout, Scene, Written
from .outputs import Target, target

__all__ = ["Corruption", "CORRUPTIONS", "applicable"]

Edit = Callable[[Scene, Layout, np.random.Generator, Any], None]
Post = Callable[[Written, Scene, np.random.Generator, Any], Optional[str]]


@dataclass(frozen=True)
class Corruption:
    """A named corruption: which layouts it applies to, what it does, its variants; ``few_values`` marks
    corruptions that may legitimately change only a few stored values, ``subprocess`` the memory bombs."""

    name: str
    category: str
    applies: Callable[[Layout], bool]
    edit: Optional[Edit] = None
    post: Optional[Post] = None
    variants: tuple = (None,)
    few_values: bool = False
    subprocess: bool = False
    target: Optional[Target] = None


def _all(lay: Layout) -> bool:
    return True


def _log(lay: Layout) -> bool:
    return lay.values == "log"


def _raw(lay: Layout) -> bool:
    return lay.values == "raw"


def _side(lay: Layout) -> bool:
    return lay.has_sidecar


def _only(*names: str) -> Callable[[Layout], bool]:
    return lambda lay: lay.name in names


def _set(**changes: Any) -> Edit:
    """An edit that sets scene fields (arrays copied so the pristine scene stays intact)."""
    def edit(s: Scene, lay: Layout, rng, variant) -> None:
        for key, value in changes.items():
            setattr(s, key, value(s) if callable(value) else value)
    return edit


def _drop(*items: str) -> Edit:
    return lambda s, lay, rng, variant: s.drop.update(items)


def _table(**changes: Any) -> Edit:
    """Set keys of the sidecar's [data] table (None removes the key)."""
    def edit(s: Scene, lay: Layout, rng, variant) -> None:
        s.table = dict(s.table or {})
        for key, value in changes.items():
            if value is None:
                s.table.pop(key, None)
            else:
                s.table[key] = value
    return edit


def _geometry(**changes: Any) -> Edit:
    """Set keys of the sidecar's [geometry] table (None removes the key; a callable gets the table)."""
    def edit(s: Scene, lay: Layout, rng, variant) -> None:
        s.geometry = dict(s.geometry)
        for key, value in changes.items():
            if value is None:
                s.geometry.pop(key, None)
            else:
                s.geometry[key] = value(s.geometry) if callable(value) else value
    return edit


# ---- content: the main array -----------------------------------------------------------------------------

def _data(s: Scene) -> np.ndarray:
    return np.array(s.data, copy=True)


def _values_at(fraction: Optional[float], value: float) -> Edit:
    """Set one element (``fraction`` None) or that fraction of the elements to ``value``."""
    def edit(s: Scene, lay: Layout, rng, variant) -> None:
        data = _data(s)
        count = 1 if fraction is None else max(2, int(fraction * data.size))
        data.reshape(-1)[rng.choice(data.size, size=count, replace=False)] = value
        s.data = data
    return edit


def _int(s: Scene) -> np.ndarray:
    """Raw counts as uint16 (lossless: they are integers); line integrals truncated to int32."""
    return _data(s).astype(np.uint16 if LAYOUTS[s.layout].values == "raw" else np.int32)


def _axis_edit(how: str) -> Edit:
    def edit(s: Scene, lay: Layout, rng, variant) -> None:
        data, v, d = _data(s), lay.views_axis, lay.det_axis
        if how == "swap":
            s.data = np.swapaxes(data, v, d).copy()
        elif how == "empty":
            s.data = np.take(data, [], axis=v)
        elif how == "fewer_det":
            s.data = np.take(data, range(data.shape[d] - 1), axis=d)
        elif how == "more_views":
            s.data = np.concatenate([data, np.take(data, [0], axis=v)], axis=v)
    return edit


def _broadcast(ref: str, delta: float, like: str = "data") -> Callable[[Scene], np.ndarray]:
    """An array shaped like ``like`` (the raw counts, or the flat stack) equal to the mean ``ref`` (flat or
    dark) frame plus ``delta``, everywhere."""
    return lambda s: np.broadcast_to(np.asarray(getattr(s, ref)).mean(0) + delta,
                                     np.shape(getattr(s, like))).astype(np.float32)


def _one_nan_flat(s: Scene) -> np.ndarray:
    flat = np.array(s.flat, dtype=np.float32)
    flat.reshape(-1)[3] = np.nan
    return flat


# ---- angles ----------------------------------------------------------------------------------------------

def _angles_deg(s: Scene, lay: Layout) -> np.ndarray:
    if lay.angles != "sidecar":
        return np.array(s.angles, dtype=float)
    spec = s.geometry["angles"]
    return np.linspace(spec["start"], spec["stop"], spec["count"], endpoint=False)


def _set_angles(s: Scene, lay: Layout, values: np.ndarray) -> None:
    if lay.angles == "sidecar":
        s.geometry = dict(s.geometry, angles=[float(v) for v in values], angles_unit="deg")
    else:
        s.angles = values


def _angles(how: str) -> Edit:
    """Angles in radians where degrees are documented, all equal, pairwise duplicated, one NaN, one short."""
    def edit(s: Scene, lay: Layout, rng, variant) -> None:
        a = _angles_deg(s, lay)
        if how == "radians":
            a = np.deg2rad(a)
        elif how == "same":
            a = np.zeros_like(a)
        elif how == "duplicated":
            a[1::2] = a[0::2][: a[1::2].size]
        elif how == "nan":
            a[int(rng.integers(a.size))] = np.nan
        elif how == "short":
            a = a[:-1]
        _set_angles(s, lay, a)
    return edit


def _drop_angles(s: Scene, lay: Layout, rng, variant) -> None:
    if lay.angles == "sidecar":
        s.geometry = {k: v for k, v in s.geometry.items() if k != "angles"}
    else:
        s.drop.add("angles")


_REACH = ("plain", "dotdot", "alias")  # how an --out that is an input is reached


# ---- paths -----------------------------------------------------------------------------------------------

_STEMS = {"spaces_dollar": "scan with  spaces $x$ ${HOME}", "unicode": "scän_測定_μ",
          "nonutf8": os.fsdecode(b"scan_\xff\xfe"), "dots": ".."}


def _rename(kind: str) -> Edit:
    """Give the FILE argument (and a sidecar found by its name) an odd name, keeping the extension."""
    def edit(s: Scene, lay: Layout, rng, variant) -> None:
        stem = _STEMS[kind]
        role = "sidecar" if lay.sidecar == "file" else "data"
        s.names[role] = stem + Path(s.names[role]).suffix
        if lay.sidecar == "found":
            s.names["sidecar"] = stem + ".toml"
    return edit


def _replace_by_dir(role: str) -> Post:
    def post(w: Written, s: Scene, rng, variant) -> str:
        path = w.geometry if role == "geometry" else w.file
        path.unlink()
        path.mkdir()
        return f"{path.name} is a directory"
    return post


def _symlink_loop(w: Written, s: Scene, rng, variant) -> str:
    w.file.unlink()
    other = w.file.with_name(w.file.name + ".loop")
    os.symlink(other.name, w.file)
    os.symlink(w.file.name, other)
    return f"{w.file.name} → {other.name} → {w.file.name}"


# ---- bytes -----------------------------------------------------------------------------------------------

def _bytes(kind: str, role: str = "data") -> Post:
    def post(w: Written, s: Scene, rng, variant) -> str:
        path = w.sidecar if role == "sidecar" else w.data
        stored = w.stored if role == "data" else None
        if kind == "truncate":
            bytelevel.truncate(path, variant)
            return f"kept {variant:.1%}"
        if kind.startswith("zero_"):
            return bytelevel.zero_block(path, rng, kind[5:], stored)
        if kind == "structural":
            return bytelevel.flip_structural_bit(path, rng)
        if kind == "garbage":
            return bytelevel.append_garbage(path, rng)
        return bytelevel.flip_bit(path, rng, kind, stored)
    return post


def _huge(s: Scene, lay: Layout, rng, variant) -> None:
    """Declare the main dataset 12–40 GB (float32; float64 for v7.3), chunked, with no data written."""
    n_views, n_det = np.shape(s.data)[lay.views_axis], np.shape(s.data)[lay.det_axis]
    item = 8 if lay.name == "mat73" else 4
    rows = int(rng.uniform(12e9, 40e9) / (n_views * n_det * item))
    s.huge = (n_views, rows, n_det)


def _main_dataset(f) -> str:
    """The name of the largest dataset of an open HDF5 file (the scan's main array)."""
    import h5py

    found: list[tuple[int, str]] = []
    f.visititems(lambda name, obj: found.append((obj.size, name)) if isinstance(obj, h5py.Dataset) else None)
    return max(found)[1]


def _virtual(f, name: str, source_file: str, source: str, shape: tuple, dtype) -> Any:
    """A virtual dataset ``name`` mapping all of ``source_file:source`` (no creation time: the same bytes in
    every run)."""
    import h5py

    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)
    dcpl.set_virtual(h5py.h5s.create_simple(shape), source_file.encode(), source.encode(),
                     h5py.h5s.create_simple(shape))
    parent, _, base = name.rpartition("/")
    group = f.require_group(parent) if parent else f
    h5py.h5d.create(group.id, base.encode(), h5py.h5t.py_create(np.dtype(dtype)), h5py.h5s.create_simple(shape),
                    dcpl=dcpl)
    return f[name]


def _h5_redirect(w: Written, s: Scene, rng, kind: str) -> str:
    """Store the main dataset of the written HDF5 file elsewhere: external raw storage in a file outside the
    folder or in a FIFO beside it, an external link or a virtual dataset to another file beside it (all refused
    without RECON_HDF5_EXTERNAL), or a virtual dataset mapped from the same file (read as the pristine scan)."""
    import h5py

    folder = w.data.parent
    with h5py.File(w.data, "r+") as f:
        name = _main_dataset(f)
        old = f[name]
        values, attrs = old[()], dict(old.attrs)
        del f[name]
        if kind in ("storage_outside", "storage_fifo"):
            if kind == "storage_outside":
                target = folder.parent / f"{folder.name}_outside.bin"
                target.write_bytes(np.ascontiguousarray(values).tobytes())
                external = [(f"../{target.name}", 0, values.nbytes)]  # relative: the same bytes in every run
            else:
                os.mkfifo(folder / "pipe.bin")
                external = [("pipe.bin", 0, values.nbytes)]
            new = f.create_dataset(name, shape=values.shape, dtype=values.dtype, external=external, track_times=False)
        elif kind in ("external_link", "vds_outside"):
            with h5py.File(folder / "frames.h5", "w") as g:
                g.create_dataset("data", data=values, track_times=False)
            if kind == "external_link":
                f[name] = h5py.ExternalLink("frames.h5", "/data")
                return f"/{name} → frames.h5:/data (external link)"
            new = _virtual(f, name, "frames.h5", "data", values.shape, values.dtype)
        else:  # vds_inside
            f.create_dataset("_raw_frames", data=values, track_times=False)
            new = _virtual(f, name, ".", "_raw_frames", values.shape, values.dtype)
        for key, value in attrs.items():
            new.attrs[key] = value
    return f"/{name}: {kind.replace('_', ' ')}"


# ---- the registry ----------------------------------------------------------------------------------------

_C = Corruption
_ANGLED = lambda lay: lay.angles in ("htc", "hdf5", "sidecar")  # noqa: E731
_HDF5_ANGLES = lambda lay: lay.angles == "hdf5"  # noqa: E731
_NOT_TIFF = lambda lay: not lay.name.startswith("tiff")  # noqa: E731
_CONTAINERS = _only("npz-raw", "mat", "mat73", "h5")
_HTC_FIELDS = ("distanceSourceOrigin", "distanceSourceDetector", "numDetectorsPost", "pixelSizePost",
               "effectivePixelSizePost")

CORRUPTIONS: list[Corruption] = [
    _C("pristine", "pristine", _all),
    # bytes of the data file
    _C("truncate", "bytes", _all, post=_bytes("truncate"), variants=(0.0, 0.05, 0.5, 0.9, 0.999)),
    _C("bitflip_header", "bytes", _all, post=_bytes("header"), variants=(0, 1)),
    _C("bitflip_payload", "bytes", _all, post=_bytes("payload"), variants=(0, 1), few_values=True),
    _C("zero_block_header", "bytes", _all, post=_bytes("zero_header"), variants=(0, 1)),
    _C("zero_block_payload", "bytes", _all, post=_bytes("zero_payload"), few_values=True),
    _C("append_garbage", "bytes", _all, post=_bytes("garbage")),
    # bytes of the sidecar
    _C("sidecar_truncate", "sidecar", _side, post=_bytes("truncate", "sidecar"), variants=(0.0, 0.5)),
    _C("sidecar_bitflip", "sidecar", _side, post=_bytes("structural", "sidecar"), variants=(0, 1, 2)),
    _C("sidecar_garbage", "sidecar", _side, post=_bytes("garbage", "sidecar")),
    # content of the main array
    _C("dtype_complex", "content", _all, _set(data=lambda s: _data(s) * (1 + 0.5j))),
    _C("dtype_bool", "content", _all, _set(data=lambda s: _data(s) > np.median(s.data))),
    _C("dtype_int", "content", _all, _set(data=_int)),
    _C("dtype_string", "content", _NOT_TIFF, _set(data=lambda s: _data(s).astype(str))),
    _C("dtype_object", "content", _NOT_TIFF, _set(data=lambda s: _data(s).astype(object))),
    _C("nan_one", "content", _all, _values_at(None, np.nan)),
    _C("nan_many", "content", _all, _values_at(0.2, np.nan)),
    _C("inf_one", "content", _all, _values_at(None, np.inf)),
    _C("empty", "content", _all, _axis_edit("empty")),
    _C("rank_1d", "content", _all, _set(data=lambda s: _data(s).reshape(-1))),
    _C("rank_4d", "content", _all, _set(data=lambda s: _data(s)[(None,) * (4 - np.ndim(s.data))])),
    _C("swapped_axes", "content", _all, _axis_edit("swap")),
    _C("fewer_det", "content", _all, _axis_edit("fewer_det")),
    _C("more_views", "content", _all, _axis_edit("more_views")),
    _C("missing_data", "content", _all, _drop("data")),
    # implausible values
    _C("log_minus5", "values", _log, _set(data=lambda s: np.full_like(s.data, -5.0))),
    _C("log_1e30", "values", _log, _set(data=lambda s: np.full_like(s.data, 1e30))),
    _C("counts_negative", "values", _raw, _set(data=lambda s: -_data(s))),
    _C("counts_zero", "values", _raw, _set(data=lambda s: np.zeros_like(s.data))),
    _C("below_dark", "values", _raw, _set(data=_broadcast("dark", -10.0))),
    _C("above_flat", "values", _raw, _set(data=_broadcast("flat", 1000.0))),
    _C("flat_eq_dark", "values", _raw, _set(flat=_broadcast("dark", 0.0, "flat"))),
    _C("flat_zero", "values", _raw, _set(flat=lambda s: np.zeros_like(s.flat))),
    _C("flat_nan", "values", _raw, _set(flat=_one_nan_flat)),
    _C("flat_fewer_det", "values", _raw, _set(flat=lambda s: np.asarray(s.flat)[..., :-1])),
    _C("flat_missing", "values", _raw, _drop("flat")),
    _C("dark_missing", "values", _raw, _drop("dark")),
    _C("log_called_raw", "values", lambda lay: _log(lay) and _side(lay), _table(values="raw", i0=1.0)),
    _C("raw_called_log", "values", lambda lay: _raw(lay) and _side(lay), _table(values="log", flat=None, dark=None)),
    # angles
    _C("angles_radians", "angles", _ANGLED, _angles("radians")),
    _C("angles_all_same", "angles", _ANGLED, _angles("same")),
    _C("angles_duplicated", "angles", _ANGLED, _angles("duplicated")),
    _C("angles_nan", "angles", _ANGLED, _angles("nan")),
    _C("angles_one_short", "angles", _ANGLED, _angles("short")),
    _C("angles_missing", "angles", _ANGLED, _drop_angles),
    _C("angles_no_units", "angles", _HDF5_ANGLES, _set(units=None)),
    _C("angles_radians_no_units", "angles", _HDF5_ANGLES, _set(angles=lambda s: np.deg2rad(s.angles), units=None)),
    _C("angles_units_rad_values_deg", "angles", _HDF5_ANGLES, _set(units="radians")),
    _C("angles_units_unknown", "angles", _HDF5_ANGLES, _set(units="furlongs")),
    # absurd geometry
    _C("det_spacing_zero", "geometry", _side, _geometry(det_spacing=0.0)),
    _C("det_spacing_negative", "geometry", _side, _geometry(det_spacing=-0.5)),
    _C("det_spacing_1e9", "geometry", _side, _geometry(det_spacing=1e9)),
    _C("pixel_size_zero", "geometry", _side, _geometry(pixel_size=0.0)),
    _C("det_offset_1e6", "geometry", _side, _geometry(det_offset=1e6)),
    _C("center_far_outside", "geometry", _side, _table(center=1e6)),
    _C("source_inside_object", "geometry", _side, _geometry(type="fan", sod=1.0, sdd=2.0)),
    _C("sdd_below_sod", "geometry", _side, _geometry(type="fan", sod=150.0, sdd=100.0)),
    _C("n_det_plus_one", "geometry", _side, _geometry(n_det=lambda g: g["n_det"] + 1)),
    _C("geometry_missing", "geometry", _side, _drop("geometry")),
    _C("geometry_key_missing", "geometry", _side, _geometry(det_spacing=None)),
    _C("data_unknown_key", "geometry", _side, _table(layout="x")),
    _C("variable_missing", "geometry", _CONTAINERS, _table(variable="nope")),
    _C("sidecar_names_missing_file", "geometry", _only("npy"), _table(file="missing.npy")),
    _C("htc_missing_field", "geometry", _only("htc"), lambda s, lay, rng, v: s.drop.add(v), variants=_HTC_FIELDS),
    _C("htc_missing_parameters", "geometry", _only("htc"), _drop("parameters")),
    _C("htc_sod_above_sdd", "geometry", _only("htc"),
       lambda s, lay, rng, v: s.params.update(distanceSourceOrigin=600.0)),
    _C("htc_pitch_zero", "geometry", _only("htc"), lambda s, lay, rng, v: s.params.update(pixelSizePost=0.0)),
    _C("htc_pitch_1e9", "geometry", _only("htc"), lambda s, lay, rng, v: s.params.update(pixelSizePost=1e9)),
    _C("htc_source_inside_object", "geometry", _only("htc"),
       lambda s, lay, rng, v: s.params.update(distanceSourceOrigin=10.0, distanceSourceDetector=20.0)),
    _C("htc_n_det_mismatch", "geometry", _only("htc"),
       lambda s, lay, rng, v: s.params.update(numDetectorsPost=s.params["numDetectorsPost"] + 1)),
    _C("htc_number_as_text", "geometry", _only("htc"),
       lambda s, lay, rng, v: s.params.update(distanceSourceOrigin=str(s.params["distanceSourceOrigin"]))),
    _C("nx_no_attributes", "geometry", _only("nxtomo"), lambda s, lay, rng, v: s.extra.update(nx_attributes=False)),
    _C("nx_no_flats", "geometry", _only("nxtomo"),
       lambda s, lay, rng, v: s.extra.update(image_key=[2] * 4 + [0] * len(s.data) + [2])),
    _C("nx_image_key_short", "geometry", _only("nxtomo"),
       lambda s, lay, rng, v: s.extra.update(image_key=[2] * 2 + [1] * 2 + [0] * len(s.data))),
    _C("nx_missing_image_key", "geometry", _only("nxtomo"), _drop("image_key")),
    # memory bombs (subprocess with an address-space limit)
    _C("huge_declared_dataset", "memory", _only("dxchange", "nxtomo", "h5"), _huge, subprocess=True),
    _C("image_size_200000", "memory", _only("h5"), _geometry(image_size=200000), subprocess=True),
    _C("n_views_1e9", "memory", _only("npy"),
       _geometry(angles={"start": 0.0, "stop": 180.0, "count": 1_000_000_000, "unit": "deg"}), subprocess=True),
    # HDF5 files that point outside themselves (refused) or map inside (read)
    _C("h5_main_dataset_elsewhere", "hdf5", lambda lay: lay.hdf5, post=_h5_redirect,
       variants=("storage_outside", "storage_fifo", "external_link", "vds_outside", "vds_inside")),
    # paths
    _C("path_spaces_dollar", "path", _all, _rename("spaces_dollar")),
    _C("path_unicode", "path", _all, _rename("unicode")),
    _C("path_non_utf8", "path", _all, _rename("nonutf8")),
    _C("path_is_directory", "path", _all, post=_replace_by_dir("file")),
    _C("path_symlink_loop", "path", _all, post=_symlink_loop),
    _C("sidecar_is_directory", "path", lambda lay: lay.sidecar == "geometry", post=_replace_by_dir("geometry")),
    # hostile --out targets (every case is also checked to change no file it did not write)
    _C("out_is_data", "outputs", _all, target=target("data"), variants=_REACH),
    _C("out_is_sidecar", "outputs", _side, target=target("sidecar"), variants=_REACH),
    _C("out_is_flat", "outputs", _only("tiff-raw"), target=target("flat"), variants=_REACH),
    _C("out_is_input_folder", "outputs", _all, target=target("input_folder")),
    _C("out_symlink_to_data", "outputs", _all, target=target("symlink_to_data")),
    _C("out_dangling_symlink", "outputs", _all, target=target("dangling_symlink")),
    _C("out_fifo", "outputs", _all, target=target("fifo")),
    _C("out_exists_no_force", "outputs", _all, target=target("exists")),
    _C("out_below_a_file", "outputs", _all, target=target("below_file")),
    _C("out_folder_named_tif", "outputs", _all, target=target("folder_named_tif")),
    _C("out_data_named_dots", "outputs", _all, _rename("dots"), target=target("dots")),
]


def applicable(layout: str) -> list[Corruption]:
    """The corruptions that apply to ``layout``, in registry order."""
    lay = LAYOUTS[layout]
    return [c for c in CORRUPTIONS if c.applies(lay)]
