"""Output files: reconstructions as float32 TIFF (with pixel size and geometry) and PNG previews, and
matplotlib figures written atomically."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from .._version import __version__
from ..geometry import Geometry
from .atomic import atomic_output, atomic_outputs

__all__ = ["NOT_RECONSTRUCTIONS", "check_output_suffix", "Reconstruction", "write_tiff", "write_preview", "write_reconstruction", "display_window", "pyplot",
           "save_figure", "plain_text", "check_finite_image"]

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class Reconstruction:
    """An image ``[N, N]`` (μ, 1/mm, float32), the geometry whose grid it is on, and how it was made;
    ``length_unit`` ``"px"`` where the scan recorded no pixel size (lengths in detector pixels, μ per pixel)."""

    image: np.ndarray
    geometry: Geometry
    method: str
    length_unit: str = "mm"


#: Suffixes of files that are not a reconstruction: an ``--out`` ending in one is a mistake, not a folder name.
NOT_RECONSTRUCTIONS = (".png", ".jpg", ".jpeg", ".npy", ".npz", ".mat", ".json", ".toml", ".txt", ".csv")


def check_output_suffix(out: PathLike, allowed: Sequence[str], what: str) -> None:
    """``ValueError`` naming ``allowed`` when ``out`` ends in a suffix that is not (one of ``allowed``, or a folder
    name): a reconstruction written as ``what`` cannot be ``x.png``."""
    suffix = Path(out).suffix.lower()
    if suffix in NOT_RECONSTRUCTIONS or (suffix in (".tif", ".tiff", ".h5", ".hdf5") and suffix not in allowed):
        raise ValueError(f"out {out}: {what} is written as {'/'.join(allowed)} (with a .png preview beside it); "
                         "give such a file or a folder")


def plain_text(text: str) -> str:
    """``text`` (a file name, a title) made safe to render: undecodable bytes of a file name appear as ``\\x..``
    escapes instead of failing the PNG writer; use it with ``parse_math=False`` so ``$`` stays a ``$``."""
    return os.fsencode(text).decode("utf-8", "backslashreplace") if isinstance(text, str) else str(text)


def check_finite_image(image: np.ndarray, what: str) -> None:
    """``ValueError`` if ``image`` holds NaN/Inf: a non-finite pixel is never written to an output."""
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        raise ValueError(f"{what}: {bad} of {image.size} pixels are NaN/Inf; nothing written")


def pyplot():
    """matplotlib.pyplot with the file-only Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: PathLike, dpi: int = 110) -> Path:
    """Write a matplotlib figure to ``path`` (PNG) atomically and close it."""
    try:
        with atomic_output(path, force=True) as tmp:
            _savefig(fig, tmp, dpi)
    finally:
        pyplot().close(fig)
    return Path(path)


def _savefig(fig, path: PathLike, dpi: int) -> None:
    """``fig`` as PNG at ``path``; a character of a file name that the font lacks is drawn as a box, silently."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        fig.savefig(path, dpi=dpi, format="png", bbox_inches="tight")


def display_window(image: np.ndarray, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
    """A grey-level window from the ``low``/``high`` percentiles of ``image`` (never empty)."""
    lo, hi = np.percentile(image, [low, high])
    return (float(lo), float(hi)) if hi > lo else (float(lo) - 0.5, float(lo) + 0.5)


def write_tiff(path: PathLike, rec: Reconstruction, source: str = "", force: bool = False) -> Path:
    """Write ``rec.image`` as a float32 TIFF with the pixel size as resolution (pixels per cm) and a JSON
    description (units, pixel size, geometry, method, source file)."""
    check_finite_image(rec.image, str(path))
    with atomic_output(path, force) as tmp:
        _tiff(tmp, rec, source)
    return Path(path)


def tiff_resolution(pixel: float, unit: str) -> dict:
    """tifffile's resolution arguments for pixels of ``pixel`` ``unit``: pixels per cm where the unit is mm, none
    where the lengths are in detector pixels (a TIFF has no such unit)."""
    return {"resolution": (10.0 / pixel, 10.0 / pixel), "resolutionunit": "CENTIMETER"} if unit == "mm" else {}


def _tiff(path: Path, rec: Reconstruction, source: str) -> None:
    import tifffile

    px, unit = rec.geometry.pixel_size, rec.length_unit
    description = json.dumps({"units": f"1/{unit}", "quantity": "linear attenuation coefficient",
                              f"pixel_size_{unit}": px, "method": rec.method, "source": source,
                              "recon_version": __version__, "geometry": rec.geometry.to_dict()}, ensure_ascii=True)
    tifffile.imwrite(path, rec.image.astype(np.float32), description=description, metadata=None,
                     **tiff_resolution(px, unit))


def write_preview(path: PathLike, rec: Reconstruction, title: str = "", force: bool = False) -> Path:
    """PNG preview with a percentile window, a colour bar in 1/mm and a millimetre scale (per pixel and pixels
    where ``rec.length_unit`` is ``"px"``)."""
    check_finite_image(rec.image, str(path))
    with atomic_output(path, force) as tmp:
        _preview(tmp, rec, title)
    return Path(path)


def write_reconstruction(path: PathLike, rec: Reconstruction, source: str = "", title: str = "",
                         force: bool = False) -> Path:
    """The TIFF ``path`` (:func:`write_tiff`) and its PNG preview next to it (:func:`write_preview`) as one
    set: both or neither (the preview is committed first, the TIFF last)."""
    path = Path(path)
    check_finite_image(rec.image, str(path))
    with atomic_outputs([path.with_suffix(".png"), path], force) as (png, tif):
        _preview(png, rec, title)
        _tiff(tif, rec, source)
    return path


def _preview(path: Path, rec: Reconstruction, title: str) -> None:
    plt = pyplot()
    half = rec.geometry.image_size * rec.geometry.pixel_size / 2
    vmin, vmax = display_window(rec.image)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    im = ax.imshow(rec.image, cmap="gray", vmin=vmin, vmax=vmax, extent=(-half, half, -half, half))
    unit = rec.length_unit
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"y ({unit})")
    ax.set_title(plain_text(title or rec.method), fontsize=9, parse_math=False)
    fig.colorbar(im, ax=ax, label=f"μ (1/{unit})" if unit == "mm" else "μ (per detector pixel)")
    try:
        _savefig(fig, path, 110)
    finally:
        plt.close(fig)
