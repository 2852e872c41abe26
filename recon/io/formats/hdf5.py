"""HDF5 scan files with raw counts: APS Data Exchange and NeXus NXtomo (parallel beam; cone-beam NXtomo files in
:mod:`recon.io.formats.nxtomo_cone`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..._checks import check_memory
from ...geometry import Geometry
from ..scan import Scan
from .h5trust import open_dataset, open_h5
from .nxtomo_cone import cone_parameters, cone_scan_from_frames
from .common import (GeometryArg, PathLike, Rows, angles_to_radians, apply_overrides, existing, fail,
                     geometry_only, listing, make_scan, pixel_unit_geometry, reading, row_selection,
                     to_line_integrals)

__all__ = ["read_dxchange", "read_nxtomo", "check_h5_dataset", "open_h5"]


def h5_names(group, depth: int = 3, prefix: str = "") -> list[str]:
    """Dataset paths below ``group`` (a few levels deep), for error messages."""
    import h5py

    out: list[str] = []
    for key in group.keys():
        obj = group.get(key)
        name = f"{prefix}{key}"
        if isinstance(obj, h5py.Dataset):
            out.append(name)
        elif isinstance(obj, h5py.Group) and depth > 1:
            out.extend(h5_names(obj, depth - 1, name + "/"))
    return out


def _h5_dataset(path: Path, group, name: str, required: bool = True):
    """``group[name]`` if it is a dataset; else None, or (``required``) an error listing what is there."""
    import h5py

    if group.get(name, getclass=True) is h5py.Dataset:
        return open_dataset(path, group, name)
    if required:
        raise fail(path, f"has no dataset {group.name.rstrip('/')}/{name}; datasets there: "
                         f"{listing(h5_names(group))}")
    return None


def _h5_attr_str(obj, name: str) -> Optional[str]:
    """A string attribute (bytes decoded, arrays → first element), or None."""
    value = obj.attrs.get(name) if obj is not None else None
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _no_darks(where: str) -> str:
    """The warning for raw data without dark fields (``where``: where they would have been)."""
    return f"no dark fields ({where}): the dark level is taken as 0, which biases the line integrals if the " \
           "detector has an offset"


def check_h5_dataset(path: Path, dataset, fraction: float = 1.0) -> None:
    """Before reading ``fraction`` of ``dataset``: refuse numeric data that are not numbers, an uncompressed
    dataset whose file holds fewer bytes than it declares (truncated, or never written: HDF5 would return fill
    values), and a read larger than the free memory (converted to float64). ``dataset`` comes from
    :func:`recon.io.formats.h5trust.open_dataset`, which refused storage outside the file."""
    dtype = dataset.dtype
    if dtype.kind not in "iuf":
        raise fail(path, f"dataset {dataset.name} holds {dtype} values, not numbers")
    if dataset.is_virtual or dataset.external:  # stored elsewhere (open_dataset checked where): HDF5 fills gaps
        check_memory(float(dataset.size) * fraction * 8.0 * 2, f"{path}: reading dataset {dataset.name}")
        return
    declared = float(dataset.size) * dtype.itemsize
    with reading(path, f"dataset {dataset.name}"):
        stored = float(dataset.id.get_storage_size())
        plist = dataset.id.get_create_plist()
        filters = {plist.get_filter(i)[0] for i in range(plist.get_nfilters())}
    filtered = bool(filters - {2, 3})  # anything beyond shuffle (2) and fletcher32 (3) may compress
    if not filtered and dataset.size and stored < declared:
        raise fail(path, f"dataset {dataset.name} declares {tuple(dataset.shape)} {dtype} "
                         f"({declared / 2**20:.4g} MiB) but the file stores {stored / 2**20:.4g} MiB of it "
                         "(truncated or never written)")
    check_memory(declared * fraction * 8.0 / dtype.itemsize * 2, f"{path}: reading dataset {dataset.name}")


def _h5_read_rows(path: Path, dataset, rows: list[int]) -> np.ndarray:
    """``dataset[:, rows, :]`` (``[n, len(rows), n_det]``) or a 2-D dataset as ``[n, 1, n_det]``."""
    check_h5_dataset(path, dataset, 1.0 if dataset.ndim == 2 else len(rows) / max(dataset.shape[1], 1))
    with reading(path, f"dataset {dataset.name}"):
        if dataset.ndim == 2:
            return dataset[()][:, None, :]
        if rows == list(range(dataset.shape[1])):
            return dataset[()]
        order = np.argsort(rows)
        block = dataset[:, [rows[i] for i in order], :]
        return block[:, np.argsort(order), :]


def _n_rows(path: Path, dataset) -> Optional[int]:
    """Detector rows of a (frames, rows, columns) dataset; None for (frames, columns)."""
    if dataset.ndim == 3:
        return int(dataset.shape[1])
    if dataset.ndim == 2:
        return None
    raise fail(path, f"dataset {dataset.name} has shape {dataset.shape}; expected (frames, rows, columns)")


def _recorded_pixel_size(group, candidates: Sequence[str]) -> Optional[str]:
    """The first recorded pixel size among ``candidates``, as text with its units and path (reported only)."""
    for name in candidates:
        obj = group.get(name) if group is not None else None
        if obj is not None and getattr(obj, "shape", None) is not None and obj.size >= 1:
            try:
                value = float(np.asarray(obj[()]).reshape(-1)[0])
            except (TypeError, ValueError):
                continue
            unit = _h5_attr_str(obj, "units")
            return f"{value:g}{' ' + unit if unit else ''} ({obj.name})"
    return None


def is_dxchange(f) -> bool:
    """Whether an open HDF5 file has the Data Exchange ``exchange/data`` dataset."""
    import h5py

    return isinstance(f.get("exchange/data"), h5py.Dataset)


def find_nxtomo(f):
    """The NXtomo entry group: by NX_class/definition attributes, else by the usual dataset paths."""
    import h5py

    groups = [g for g in f.values() if isinstance(g, h5py.Group)]
    for g in list(groups):
        groups.extend(s for s in g.values() if isinstance(s, h5py.Group)
                      and _h5_attr_str(s, "NX_class") == "NXsubentry")
    for g in groups:
        if _h5_attr_str(g, "NX_class") not in ("NXentry", "NXsubentry", None):
            continue
        definition = _h5_attr_str(g, "definition")
        if definition is None and isinstance(g.get("definition"), h5py.Dataset):
            value = g["definition"][()]
            value = value.reshape(-1)[0] if isinstance(value, np.ndarray) and value.size else value
            definition = value.decode() if isinstance(value, bytes) else str(value)
        if definition == "NXtomo":
            return g
    for g in groups:
        if any(isinstance(g.get(p), h5py.Dataset) for p in ("instrument/detector/data", "data/data")) and \
                any(isinstance(g.get(p), h5py.Dataset) for p in ("instrument/detector/image_key", "data/image_key")):
            return g
    return None


def h5_kind(path: Path) -> tuple[Optional[str], list[str]]:
    """``("dxchange" | "nxtomo" | None, dataset names)`` of an HDF5 file (names only when neither)."""
    with open_h5(path) as f, reading(path, "HDF5 file"):
        if is_dxchange(f):
            return "dxchange", []
        if find_nxtomo(f) is not None:
            return "nxtomo", []
        return None, h5_names(f)


def read_dxchange(path: PathLike, geometry: GeometryArg = None, *, rows: Rows = None,
                  center: Optional[float] = None, det_spacing: Optional[float] = None,
                  image_size: Optional[int] = None, pixel_size: Optional[float] = None,
                  min_transmission: float = 1e-6) -> Scan:
    """Read an APS Data Exchange HDF5 file (raw counts; parallel beam).

    Uses ``exchange/data`` (view, row, column) raw counts, ``exchange/data_white`` and
    ``exchange/data_dark`` (stacks, averaged; no dark → 0) and ``exchange/theta`` (degrees unless its
    ``units`` attribute says radians). Line integrals are ``-log((data - dark)/(white - dark))`` with
    clipping (see :func:`recon.io.log_transform`). The pixel size is not taken from the file: the scan is in
    pixel units unless ``det_spacing`` (mm) is given; a recorded pixel size is reported in
    ``info["recorded_pixel_size"]``. Image grid defaults: ``image_size = n_det``, ``pixel_size = det_spacing``.
    Other options: see the module docstring (``rows``, ``center`` in detector columns).

    Returns
    -------
    Scan
        ``[n_views, n_det]`` for one row, else ``[n_rows, n_views, n_det]``; :class:`recon.ParallelBeam`.
    """
    path = existing(path)
    user_geometry = geometry_only(path, geometry)  # a bad sidecar fails before any data is read
    info: dict[str, Any] = {}
    with open_h5(path) as f, reading(path, "HDF5 file"):
        if not is_dxchange(f):
            raise fail(path, f"no DataExchange dataset exchange/data; the file holds {listing(h5_names(f))}")
        data = _h5_dataset(path, f, "exchange/data")
        picked, single = row_selection(path, rows, _n_rows(path, data))
        raw = _h5_read_rows(path, data, picked)
        white = _h5_dataset(path, f, "exchange/data_white", required=False)
        if white is None:
            raise fail(path, "has no flat fields (exchange/data_white): cannot normalise the raw counts")
        flat = _h5_read_rows(path, white, picked)
        dark_ds = _h5_dataset(path, f, "exchange/data_dark", required=False)
        dark = _h5_read_rows(path, dark_ds, picked) if dark_ds is not None else None
        theta = _h5_dataset(path, f, "exchange/theta", required=False)
        with reading(path, "exchange/theta"):
            theta_values = theta[()] if theta is not None else None
        theta_unit = _h5_attr_str(theta, "units")
        recorded = _recorded_pixel_size(f, ("measurement/instrument/detector/pixel_size",
                                            "measurement/instrument/detector/x_pixel_size",
                                            "measurement/instrument/detection_system/objective/resolution"))
    info.update(rows=picked, n_flats=int(flat.shape[0]), n_darks=int(dark.shape[0]) if dark is not None else 0)
    if dark is None:
        info.setdefault("warnings", []).append(_no_darks("exchange/data_dark"))
    if recorded:
        info["recorded_pixel_size"] = recorded
    return _raw_parallel_scan(path, "dxchange-hdf5", raw, flat, dark, theta_values, theta_unit, "exchange/theta",
                              single, user_geometry, info, center=center, det_spacing=det_spacing,
                              image_size=image_size, pixel_size=pixel_size, min_transmission=min_transmission)


def read_nxtomo(path: PathLike, geometry: GeometryArg = None, *, rows: Rows = None,
                center: Optional[float] = None, det_spacing: Optional[float] = None,
                image_size: Optional[int] = None, pixel_size: Optional[float] = None,
                min_transmission: float = 1e-6) -> Scan:
    """Read a NeXus NXtomo HDF5 file (raw counts; parallel beam, or cone beam where the source lies at a finite
    distance: :mod:`recon.io.formats.nxtomo_cone`, a :class:`recon.io.ConeScan`).

    The entry is found by its ``NX_class``/``definition = "NXtomo"`` attributes (else by the usual paths).
    Frames come from ``data/data`` or ``instrument/detector/data`` (frame, row, column) and are split by
    ``image_key`` (0 projection, 1 flat, 2 dark, 3 invalid; ``image_key_control = -1`` alignment frames
    are skipped); angles are the projections' ``rotation_angle`` (``data/`` or ``sample/``; degrees unless
    the ``units`` attribute says radians). Units, options and returns as :func:`read_dxchange`.
    """
    path = existing(path)
    user_geometry = geometry_only(path, geometry)  # a bad sidecar fails before any data is read
    info: dict[str, Any] = {}
    with open_h5(path) as f, reading(path, "HDF5 file"):
        entry = find_nxtomo(f)
        if entry is None:
            raise fail(path, f"no NXtomo entry (NX_class NXentry with definition NXtomo, or entry/data/data "
                             f"with image_key); the file holds {listing(h5_names(f))}")
        info["entry"] = entry.name
        cone = cone_parameters(path, entry) if user_geometry is None else None  # a source at a finite distance
        if cone is not None and any(v is not None for v in (rows, center, det_spacing, image_size, pixel_size)):
            raise fail(path, "is a cone-beam NXtomo scan, read whole: rows, center, det_spacing, image_size and "
                             "pixel_size apply to 2-D scans (choose the volume when reconstructing)")

        def first(*names: str, required: bool = True):
            for name in names:
                ds = _h5_dataset(path, entry, name, required=False)
                if ds is not None:
                    return ds
            if required:
                raise fail(path, f"NXtomo entry {entry.name} has none of {list(names)}; datasets there: "
                                 f"{listing(h5_names(entry))}")
            return None

        data = first("data/data", "instrument/detector/data")
        key_ds = first("data/image_key", "instrument/detector/image_key")
        control = first("data/image_key_control", "instrument/detector/image_key_control", required=False)
        angle_ds = first("data/rotation_angle", "sample/rotation_angle", required=user_geometry is None)
        with reading(path, "image_key / rotation_angle"):
            keys = np.asarray(key_ds[()]).reshape(-1).astype(np.int64)
            if control is not None:
                keys = np.where(np.asarray(control[()]).reshape(-1) == -1, -1, keys)
            angle_values = np.asarray(angle_ds[()]).reshape(-1) if angle_ds is not None else None
        if keys.size != data.shape[0]:
            raise fail(path, f"image_key has {keys.size} entries but {data.name} has {data.shape[0]} frames")
        if angle_values is not None and angle_values.size != keys.size:
            raise fail(path, f"rotation_angle has {angle_values.size} entries but there are {keys.size} frames")
        picked, single = row_selection(path, rows, _n_rows(path, data))
        frames = _h5_read_rows(path, data, picked)
        angle_unit = _h5_attr_str(angle_ds, "units")
        recorded = _recorded_pixel_size(entry, ("instrument/detector/x_pixel_size",))
    proj, flats, darks = (keys == 0), (keys == 1), (keys == 2)
    if not proj.any():
        raise fail(path, "has no projections (image_key == 0)")
    if not flats.any():
        raise fail(path, "has no flat fields (image_key == 1): cannot normalise the raw counts")
    skipped = int(keys.size - proj.sum() - flats.sum() - darks.sum())
    info.update(rows=picked, n_flats=int(flats.sum()), n_darks=int(darks.sum()))
    if skipped:
        info.setdefault("notes", []).append(f"skipped {skipped} invalid/alignment frame(s)")
    if not darks.any():
        info.setdefault("warnings", []).append(_no_darks("image_key == 2"))
    if recorded:
        info["recorded_pixel_size"] = recorded
    angles = angle_values[proj] if angle_values is not None else None
    if cone is not None:
        return cone_scan_from_frames(path, frames[proj], frames[flats], frames[darks] if darks.any() else None,
                                     angles, angle_unit, cone, info, min_transmission)
    return _raw_parallel_scan(path, "nxtomo-hdf5", frames[proj], frames[flats], frames[darks] if darks.any() else None,
                              angles, angle_unit, "rotation_angle", single, user_geometry, info, center=center,
                              det_spacing=det_spacing, image_size=image_size, pixel_size=pixel_size,
                              min_transmission=min_transmission)


def _raw_parallel_scan(path: Path, fmt: str, raw: np.ndarray, flat: np.ndarray, dark: Optional[np.ndarray],
                       angles: Optional[np.ndarray], angle_unit: Optional[str], angle_name: str, single: bool,
                       user_geometry: Optional[Geometry], info: dict, *, center, det_spacing, image_size,
                       pixel_size, min_transmission) -> Scan:
    """Shared tail of the HDF5 readers: raw ``[views, rows, det]`` → line integrals → Scan."""
    n_views, n_det = raw.shape[0], raw.shape[-1]
    if user_geometry is None:
        if angles is None:
            raise fail(path, f"has no {angle_name}: give its geometry as a TOML sidecar (--geometry FILE.toml; "
                             "geometry= in Python)")
        radians = angles_to_radians(path, angles, angle_unit, angle_name, info)
        if radians.size != n_views:
            raise fail(path, f"{angle_name} has {radians.size} angles but there are {n_views} projections")
        geometry_ = pixel_unit_geometry(path, radians, n_det, info, center=center, det_spacing=det_spacing,
                                        image_size=image_size, pixel_size=pixel_size)
    else:
        geometry_ = apply_overrides(path, user_geometry, center, det_spacing, image_size, pixel_size)
    sino = to_line_integrals(path, raw, "raw", flat, dark, min_transmission, info)
    return make_scan(path, fmt, sino, single, geometry_, info)
