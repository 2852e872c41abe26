"""Synthetic scanner files of every reader layout (HTC .mat, Data Exchange, NXtomo, TIFF, arrays with a
sidecar), and the paths of the shared real scans (``$RECON_SHARED_DATA``, default ``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from recon.app.bundled import HTC_SCAN, bundled_file


SHARED = Path(os.environ.get("RECON_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
HTC = SHARED / "htc2022-training"
if not (HTC / "htc2022_ta_full.mat").is_file():  # a clean clone has no shared data, but bundles phantom ta
    HTC = bundled_file(HTC_SCAN).parent
TOOTH = SHARED / "tooth" / "tooth.h5"
needs_htc = pytest.mark.skipif(not (HTC / "htc2022_ta_full.mat").is_file(),
                               reason=f"HTC2022 data not found under {HTC} (set RECON_SHARED_DATA)")
needs_tooth = pytest.mark.skipif(not TOOTH.is_file(), reason=f"tooth.h5 not found at {TOOTH} (set RECON_SHARED_DATA)")


# ==== synthetic data =======================================================================================

N_VIEWS, N_ROWS, N_DET = 12, 3, 16
I0 = 4.0e4


def line_integrals(seed: int = 0, shape=(N_VIEWS, N_ROWS, N_DET)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 3.0, size=shape)


def raw_counts(p: np.ndarray, seed: int = 1):
    """Raw counts ``I0·exp(-p)·gain + dark`` (float32, as scanners store them) with 3 flats and 2 darks."""
    rng = np.random.default_rng(seed)
    frame = p.shape[1:]
    gain = rng.uniform(0.7, 1.3, size=frame)
    dark = rng.uniform(80.0, 120.0, size=frame)
    raw = (I0 * np.exp(-p) * gain + dark).astype(np.float32)
    flats = (I0 * gain + dark + np.array([30.0, 0.0, -30.0]).reshape((3,) + (1,) * len(frame))).astype(np.float32)
    darks = (dark + np.array([2.0, -2.0]).reshape((2,) + (1,) * len(frame))).astype(np.float32)
    return raw, flats, darks


def angles_deg(n: int = N_VIEWS) -> np.ndarray:
    return np.arange(n) * 180.0 / n


def write_dxchange(path: Path, p: np.ndarray, *, white: bool = True, theta: bool = True) -> Path:
    raw, flats, darks = raw_counts(p)
    with h5py.File(path, "w") as f:
        f["exchange/data"] = raw
        if white:
            f["exchange/data_white"] = flats
        f["exchange/data_dark"] = darks
        if theta:
            f["exchange/theta"] = angles_deg(p.shape[0])
            f["exchange/theta"].attrs["units"] = "degrees"
    return path


def write_nxtomo(path: Path, p: np.ndarray, *, attributes: bool = True, unit: str = "degree",
                 cone: dict | None = None) -> Path:
    """An NXtomo file of line integrals ``p`` ``[views, rows, det]`` (raw counts with flats and darks); ``cone``:
    ``{field: (value, units)}`` written below ``entry/instrument`` (``source/distance``, ``detector/distance``,
    ``detector/x_pixel_size``, ...) in place of the default 6.5 µm x pixel size."""
    raw, flats, darks = raw_counts(p)
    frames = np.concatenate([darks, flats[:2], raw, flats[2:]])
    keys = np.array([2] * 2 + [1] * 2 + [0] * len(raw) + [1])
    angles = np.concatenate([[0.0] * 4, angles_deg(len(raw)), [180.0]])
    if unit.startswith("rad"):
        angles = np.deg2rad(angles)
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        det = entry.create_group("instrument/detector")
        det["data"] = frames
        det["image_key"] = keys
        for name, (value, units) in (cone or {"detector/x_pixel_size": (6.5e-6, "m")}).items():
            entry[f"instrument/{name}"] = value
            if units is not None:
                entry[f"instrument/{name}"].attrs["units"] = units
        sample = entry.create_group("sample")
        sample["rotation_angle"] = angles
        sample["rotation_angle"].attrs["units"] = unit
        if attributes:
            entry.attrs["NX_class"] = "NXentry"
            entry["definition"] = "NXtomo"
            data = entry.create_group("data")
            data.attrs["NX_class"] = "NXdata"
            data["data"] = det["data"]            # hard links, as NeXus writers do
            data["image_key"] = det["image_key"]
            data["rotation_angle"] = sample["rotation_angle"]
    return path


def parallel_table(n_views: int = N_VIEWS, n_det: int = N_DET, **extra) -> dict:
    table = {"type": "parallel", "n_det": n_det, "det_spacing": 0.5, "image_size": n_det, "pixel_size": 0.5,
             "angles": {"start": 0.0, "stop": 180.0, "count": n_views, "unit": "deg"}}
    table.update(extra)
    return table


def toml_value(v) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)


def write_sidecar(path: Path, data: dict | None = None, geometry: dict | None = None) -> Path:
    lines = []
    if data is not None:
        lines += ["[data]"] + [f"{k} = {toml_value(v)}" for k, v in data.items()] + [""]
    lines += ["[geometry]"] + [f"{k} = {toml_value(v)}" for k, v in (geometry or parallel_table()).items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_htc(path: Path, name: str = "CtDataFull", n_views: int = 9, n_det: int = 16, drop=()) -> np.ndarray:
    """A small HTC-style .mat file: angles 0:45:360 (last = first), fan geometry; returns the sinogram."""
    sino = line_integrals(3, (n_views, n_det))
    params = {"angles": np.linspace(0.0, 360.0, n_views), "distanceSourceOrigin": 100.0,
              "distanceSourceDetector": 150.0, "numDetectorsPost": n_det, "pixelSizePost": 0.5,
              "effectivePixelSizePost": 0.5 * 100.0 / 150.0, "projectName": "synthetic"}
    for key in drop:
        params.pop(key)
    scipy.io.savemat(path, {name: {"type": "sinogram", "sinogram": sino, "parameters": params}})
    return sino


def listing(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


# ==== Scan derivations ======================================================================================

def write_mat73(path: Path, **arrays) -> None:
    """A MATLAB v7.3 file: HDF5 behind a 512-byte MATLAB header, arrays stored column-major (transposed)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in arrays.items():
            f[name] = np.asarray(value).T
    header = b"MATLAB 7.3 MAT-file, written by the recon tests".ljust(116) + b"\x00" * 8 + b"\x00\x02IM"
    with open(path, "r+b") as f:
        f.write(header)
