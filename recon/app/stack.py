"""Multi-slice 2-D scans — every synchrotron scan, whose detector rows are independent parallel slices — as one
volume: the slices reconstructed one by one (with progress), stacked into ``[n_slices, N, N]`` and written as a
multi-page float32 TIFF or an HDF5 volume with its metadata and a PNG of the central slices
(:func:`recon.io.volumes.write_volume`).

The slice spacing is the detector's row pitch at the rotation axis, taken equal to the column pitch (the readers
record one pitch: square detector pixels); slice 0 is the first row read, at +z. ``--slices A:B`` reads only rows
``A … B−1`` of the file, so a volume larger than memory is reconstructed a slab at a time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
from tqdm import tqdm

from .._checks import check_memory
from ..geometry import Geometry, VolumeGrid
from ..io.atomic import output_name
from ..io.outputs import Reconstruction
from ..io.scan import Scan
from ..io.volumes import VOLUME_SUFFIXES, VolumeReconstruction
from .._logging import progress_disabled

__all__ = ["parse_slices", "stack_target", "row_pitch", "reconstruct_stack"]

PathLike = Union[str, os.PathLike]


def parse_slices(text: Optional[str]) -> Union[None, int, slice]:
    """``--slices``: ``K`` (a count: the slices of a cone-beam volume) or ``A:B`` (detector rows ``A … B−1`` of a
    multi-slice 2-D scan; ``A:`` to the last row, ``:B`` from the first)."""
    if text is None:
        return None
    text = str(text).strip()
    try:
        if ":" not in text:
            count = int(text)
            if count < 1:
                raise ValueError
            return count
        start, stop = text.split(":", 1)
        start = int(start) if start.strip() else 0
        stop = int(stop) if stop.strip() else None
    except ValueError:
        raise ValueError(f"--slices {text!r}: give a count K (cone beam) or a row range A:B (rows A … B−1 of a "
                         "multi-slice scan)") from None
    if start < 0 or (stop is not None and stop <= start):
        raise ValueError(f"--slices {text!r}: the row range A:B needs 0 <= A < B")
    return slice(start, stop)


def stack_target(out: Path, path: Path, several_files: bool) -> Path:
    """Where the volume of the scan in ``path`` goes: ``out`` itself when it names a volume file (.tif, .tiff, .h5,
    .hdf5) and there is one input file, else ``out/<stem>.tif``."""
    if out.suffix.lower() in VOLUME_SUFFIXES:
        if several_files:
            raise ValueError(f"out {out}: several scans write one volume each; give a folder")
        return out
    return out / f"{output_name(path.stem)}.tif"


def row_pitch(geometry: Geometry) -> float:
    """The distance between two slices at the rotation axis: the detector pitch, divided by the magnification for
    a point source (rows as wide as the columns)."""
    pitch = float(geometry.det_spacing)
    return pitch * geometry.sod / geometry.sdd if geometry.point_source else pitch


def reconstruct_stack(scan: Scan, one_slice: Callable[[Scan], Reconstruction], progress: bool = True,
                      name: str = "") -> VolumeReconstruction:
    """Reconstruct every slice of ``scan`` (``[n_slices, n_views, n_det]``) with ``one_slice`` and stack them;
    refused before any work when the volume cannot fit in the memory available."""
    n = scan.n_slices
    first = one_slice(scan.slice(0))
    size = first.image.shape[-1]
    check_memory(n * size * size * 4 * 2, f"a volume of {n} slices of {size}² (float32, written once)")
    volume = np.empty((n, size, size), dtype=np.float32)
    volume[0] = first.image
    for k in tqdm(range(1, n), desc=f"slices of {name}" if name else "slices", initial=1, total=n,
                  disable=progress_disabled() if progress else True):
        volume[k] = one_slice(scan.slice(k)).image
    pixel = float(first.geometry.pixel_size)
    grid = VolumeGrid((n, size, size), (row_pitch(scan.geometry), pixel, pixel))
    rows = scan.info.get("rows")
    where = f"; detector rows {rows[0]}–{rows[-1]}" if rows is not None and len(rows) == n else ""
    return VolumeReconstruction(volume, grid, first.geometry, f"{first.method}, slice by slice{where}",
                                first.length_unit)
