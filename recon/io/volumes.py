"""Output volumes — of cone-beam reconstructions, and of multi-slice 2-D scans reconstructed slice by slice: a
multi-page float32 TIFF (one page per slice, slice 0 at +z, the
voxel size as resolution and a JSON description with units, grid, geometry and method) or an HDF5 file, with a PNG
of the three central orthogonal slices beside it — written atomically, as one set."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from .._version import __version__
from ..geometry import Geometry, VolumeGrid
from .atomic import atomic_outputs
from .outputs import _savefig, check_finite_image, display_window, plain_text, pyplot, tiff_resolution

__all__ = ["VolumeReconstruction", "write_volume", "read_volume", "VOLUME_SUFFIXES"]

PathLike = Union[str, os.PathLike]
VOLUME_SUFFIXES = (".tif", ".tiff", ".h5", ".hdf5")


@dataclass(frozen=True)
class VolumeReconstruction:
    """A volume ``[nz, ny, nx]`` (μ, 1/mm, float32) on ``grid``, the scan ``geometry`` it came from (a cone-beam
    geometry, or the 2-D geometry of every slice of a multi-slice scan), and how; ``length_unit`` ``"px"`` where
    the scan recorded no pixel size (lengths in detector pixels, μ per pixel)."""

    volume: np.ndarray
    grid: VolumeGrid
    geometry: Geometry
    method: str
    length_unit: str = "mm"

    def description(self, source: str) -> dict[str, Any]:
        return {"units": f"1/{self.length_unit}", "quantity": "linear attenuation coefficient",
                "axis_order": "z, y, x (slice 0 at +z, row 0 at +y)", "length_unit": self.length_unit,
                f"voxel_size_{self.length_unit}": list(self.grid.voxel_size), "grid": self.grid.to_dict(), "method": self.method,
                "source": source, "recon_version": __version__, "geometry": self.geometry.to_dict()}


def write_volume(path: PathLike, rec: VolumeReconstruction, source: str = "", title: str = "",
                 force: bool = False) -> Path:
    """``path`` (``.tif``/``.tiff``: multi-page float32 TIFF; ``.h5``/``.hdf5``: dataset ``volume`` with the
    description as attributes) and ``path.png`` with the central slices; both or neither."""
    path = Path(path)
    if path.suffix.lower() not in VOLUME_SUFFIXES:
        raise ValueError(f"out {path}: a volume is written as .tif/.tiff (multi-page float32) or .h5/.hdf5")
    check_finite_image(rec.volume, str(path))
    with atomic_outputs([path.with_suffix(".png"), path], force) as (png, data):
        _preview(png, rec, title)
        if path.suffix.lower() in (".h5", ".hdf5"):
            _hdf5(data, rec, source)
        else:
            _tiff(data, rec, source)
    return path


def _tiff(path: Path, rec: VolumeReconstruction, source: str) -> None:
    import tifffile

    vx = rec.grid.voxel_size[2]
    description = {"shape": list(rec.volume.shape), **rec.description(source)}  # "shape": tifffile reads it back 3-D
    tifffile.imwrite(path, rec.volume.astype(np.float32), description=json.dumps(description), metadata=None,
                     **tiff_resolution(vx, rec.length_unit))


def _hdf5(path: Path, rec: VolumeReconstruction, source: str) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        d = f.create_dataset("volume", data=rec.volume.astype(np.float32), chunks=(1,) + rec.volume.shape[1:])
        for key, value in rec.description(source).items():
            d.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value


def read_volume(path: PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """A volume written by :func:`write_volume` and its description (for tests and ``recon info``)."""
    import tifffile

    path = Path(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            d = f["volume"]
            return d[()], {k: (json.loads(v) if k in ("grid", "geometry") or k.startswith("voxel_size") else v)
                           for k, v in d.attrs.items()}
    with tifffile.TiffFile(path) as tif:
        return tif.asarray(), json.loads(tif.pages[0].description)


def _preview(path: Path, rec: VolumeReconstruction, title: str) -> None:
    """The central axial (z), coronal (y) and sagittal (x) slices, mm axes, one window."""
    plt = pyplot()
    v, g = rec.volume, rec.grid
    nz, ny, nx = v.shape
    vmin, vmax = display_window(v[nz // 2])
    x, y, z = (float(g.x[0]), float(g.x[-1])), (float(g.y[0]), float(g.y[-1])), (float(g.z[0]), float(g.z[-1]))
    u = rec.length_unit
    views = ((v[nz // 2], (x[0], x[1], y[1], y[0]), f"x ({u})", f"y ({u})", f"z = {g.z[nz // 2]:.3g} {u}"),  # l r b t
             (v[:, ny // 2], (x[0], x[1], z[1], z[0]), f"x ({u})", f"z ({u})", f"y = {g.y[ny // 2]:.3g} {u}"),
             (v[:, :, nx // 2], (y[0], y[1], z[1], z[0]), f"y ({u})", f"z ({u})", f"x = {g.x[nx // 2]:.3g} {u}"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), constrained_layout=True)
    for ax, (image, extent, xl, yl, name) in zip(axes, views):
        im = ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax, extent=extent)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_title(name, fontsize=9)
    fig.colorbar(im, ax=axes, label=f"μ (1/{u})", shrink=0.8)
    fig.suptitle(plain_text(title or rec.method), fontsize=9)
    try:
        _savefig(fig, path, 100)
    finally:
        plt.close(fig)
