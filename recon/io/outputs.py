"""Output files: reconstructions as float32 TIFF (with pixel size and geometry) and PNG previews, and
matplotlib figures written atomically."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from .._version import __version__
from ..geometry import Geometry
from .atomic import atomic_output, check_writable

__all__ = ["Reconstruction", "write_tiff", "write_preview", "display_window", "pyplot", "save_figure"]

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class Reconstruction:
    """An image ``[N, N]`` (μ, 1/mm, float32), the geometry whose grid it is on, and how it was made."""

    image: np.ndarray
    geometry: Geometry
    method: str


def pyplot():
    """matplotlib.pyplot with the file-only Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: PathLike, dpi: int = 110) -> Path:
    """Write a matplotlib figure to ``path`` (PNG) atomically and close it."""
    plt = pyplot()
    with atomic_output(path, force=True) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def display_window(image: np.ndarray, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
    """A grey-level window from the ``low``/``high`` percentiles of ``image`` (never empty)."""
    lo, hi = np.percentile(image, [low, high])
    return (float(lo), float(hi)) if hi > lo else (float(lo) - 0.5, float(lo) + 0.5)


def write_tiff(path: PathLike, rec: Reconstruction, source: str = "", force: bool = False) -> Path:
    """Write ``rec.image`` as a float32 TIFF with the pixel size as resolution (pixels per cm) and a JSON
    description (units, pixel size, geometry, method, source file)."""
    import tifffile

    px = rec.geometry.pixel_size
    description = json.dumps({"units": "1/mm", "quantity": "linear attenuation coefficient", "pixel_size_mm": px,
                              "method": rec.method, "source": source, "recon_version": __version__,
                              "geometry": rec.geometry.to_dict()})
    with atomic_output(path, force) as tmp:
        tifffile.imwrite(tmp, rec.image.astype(np.float32), description=description, metadata=None,
                         resolution=(10.0 / px, 10.0 / px), resolutionunit="CENTIMETER")
    return Path(path)


def write_preview(path: PathLike, rec: Reconstruction, title: str = "", force: bool = False) -> Path:
    """PNG preview with a percentile window, a colour bar in 1/mm and a millimetre scale."""
    check_writable(path, force)
    plt = pyplot()
    half = rec.geometry.image_size * rec.geometry.pixel_size / 2
    vmin, vmax = display_window(rec.image)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    im = ax.imshow(rec.image, cmap="gray", vmin=vmin, vmax=vmax, extent=(-half, half, -half, half))
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_title(title or rec.method, fontsize=9)
    fig.colorbar(im, ax=ax, label="μ (1/mm)")
    return save_figure(fig, path)
