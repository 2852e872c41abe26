"""Reference images of a measured scan (a full-data reconstruction, a segmentation) on a reconstruction grid."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Union

import numpy as np
from scipy import ndimage

from ..geometry import Geometry
from .formats.htc import HTC_EFFECTIVE_PIXEL_SIZE, read_htc_reference

__all__ = ["resample_to_grid", "load_reference"]

PathLike = Union[str, os.PathLike]


def resample_to_grid(image: np.ndarray, pixel_size: float, geometry: Geometry, binary: bool = False) -> np.ndarray:
    """Resample a centred square image (``pixel_size`` mm) onto ``geometry``'s grid: block means for an
    integer down-sampling factor (exact pixel alignment), bilinear interpolation otherwise. ``binary``
    re-thresholds at ½ (segmentations)."""
    image = np.asarray(image, dtype=np.float64)
    n, px = geometry.image_size, geometry.pixel_size
    factor = px / pixel_size
    if image.shape[0] == n and abs(factor - 1.0) < 1e-6:
        out = image
    elif abs(factor - round(factor)) < 1e-6 and image.shape[0] == n * round(factor):
        f = int(round(factor))
        out = image.reshape(n, f, n, f).mean(axis=(1, 3))
    else:
        m = image.shape[0]
        coords = geometry.pixel_coords / pixel_size + (m - 1) / 2.0  # column index in the source
        rows = coords[::-1][:, None] * np.ones((1, n))
        rows = (m - 1) - rows  # row 0 is +y
        cols = np.ones((n, 1)) * coords[None, :]
        out = ndimage.map_coordinates(image, [rows, cols], order=1, mode="constant", cval=0.0)
    return (out > 0.5).astype(np.uint8) if binary else out


def load_reference(path: PathLike, geometry: Geometry, pixel_size: Optional[float] = None) -> np.ndarray:
    """A reference image file (HTC ``.mat`` reference or segmentation, TIFF written by ``recon reconstruct``)
    on ``geometry``'s grid. ``pixel_size`` (mm) defaults to the file's (HTC: 0.148322 mm)."""
    path = Path(path)
    if path.suffix.lower() == ".mat":
        image = read_htc_reference(path)
        px = pixel_size or HTC_EFFECTIVE_PIXEL_SIZE
    elif path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            image = tif.pages[0].asarray()
            try:
                meta = json.loads(tif.pages[0].description)  # (a scan without a pixel size: lengths in pixels)
                px = pixel_size or meta.get("pixel_size_mm", meta.get("pixel_size_px"))
                if px is None:
                    raise KeyError("pixel_size_mm")
            except (ValueError, KeyError, TypeError):
                if pixel_size is None:
                    raise ValueError(f"{path}: no pixel size in the TIFF; pass the reference pixel size") from None
                px = pixel_size
    else:
        raise ValueError(f"{path}: reference must be an HTC .mat reference/segmentation or a TIFF")
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise ValueError(f"{path}: reference must be a square 2-D image, got shape {image.shape}")
    binary = image.dtype == np.uint8 or np.array_equal(np.unique(image), [0, 1])
    return resample_to_grid(image, px, geometry, binary=binary)
