"""``recon reconstruct``: a measured scan → an image, by analytic FBP, a learned model, or rebinning + FBP.

One function per method, all taking a :class:`recon.io.Scan` (one slice) and returning the image
``[N, N]`` (μ in 1/mm) with the geometry of its grid, plus the writers for the float32 TIFF (pixel size and
geometry in its metadata) and the PNG preview.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from .._version import __version__
from ..analytic.filtered_backprojection import fbp
from ..geometry import FanBeam, Geometry, ParallelBeam, geometry_differences, view_indices
from ..io.atomic import atomic_output, check_writable
from ..io.scan import Scan
from ..models import GeometryConversion, KnownOperatorModel, load_model
from ..models.conversion import isocentre_pitch
from ..analytic.rebinning import rebin
from ..analytic.weights import arc_positions, scan_coverage

__all__ = ["METHODS", "Reconstruction", "parallel_geometry_for", "reconstruct_fbp", "reconstruct_rebin",
           "reconstruct_learned", "match_model_views", "reconstruct_scan", "write_tiff", "write_preview",
           "display_window", "reconstruct_files"]

PathLike = Union[str, os.PathLike]
METHODS = ("fbp", "learned", "rebin")


@dataclass(frozen=True)
class Reconstruction:
    """An image ``[N, N]`` (μ, 1/mm, float32), the geometry whose grid it is on, and how it was made."""

    image: np.ndarray
    geometry: Geometry
    method: str


def _grid(geometry: Geometry, image_size: Optional[int], pixel_size: Optional[float]) -> Geometry:
    changes = {k: v for k, v in (("image_size", image_size), ("pixel_size", pixel_size)) if v is not None}
    return geometry.replace(**changes) if changes else geometry


def reconstruct_fbp(scan: Scan, filter: str = "ram-lak", cutoff: float = 1.0, image_size: Optional[int] = None,
                    pixel_size: Optional[float] = None, device: str = "cpu") -> Reconstruction:
    """Analytic FBP of a one-slice scan on its own grid (or ``image_size`` × ``pixel_size``)."""
    g = _grid(scan.geometry, image_size, pixel_size)
    sino = torch.from_numpy(scan.sinogram).to(device)
    image = fbp(sino, g, filter, cutoff).cpu().numpy()
    return Reconstruction(image.astype(np.float32), g, f"fbp ({filter}, cut-off {cutoff:g})")


def parallel_geometry_for(fan: FanBeam, n_views: Optional[int] = None) -> ParallelBeam:
    """The parallel geometry a fan scan is rebinned to: views over π (as many as the fan scan unless
    ``n_views``), the same number of detectors at the fan detector's isocentre pitch, same image grid."""
    n = n_views or fan.n_views
    return ParallelBeam(np.arange(n) * (math.pi / n), fan.n_det, isocentre_pitch(fan), fan.image_size, fan.pixel_size,
                        det_offset=fan.det_offset * fan.sod / fan.sdd)


def reconstruct_rebin(scan: Scan, filter: str = "ram-lak", cutoff: float = 1.0, n_views: Optional[int] = None,
                      image_size: Optional[int] = None, pixel_size: Optional[float] = None) -> Reconstruction:
    """Interpolation rebinning fan → parallel, then parallel FBP (the classical alternative to fan FBP)."""
    if not isinstance(scan.geometry, FanBeam):
        raise ValueError("--method rebin converts fan-beam scans to parallel beam; this scan is parallel already")
    par = _grid(parallel_geometry_for(scan.geometry, n_views), image_size, pixel_size)
    parallel = rebin(scan.sinogram, scan.geometry, par)
    image = fbp(parallel, par, filter, cutoff)
    return Reconstruction(image.astype(np.float32), par, f"rebin + fbp ({filter}, cut-off {cutoff:g})")


def match_model_views(scan: Scan, model: KnownOperatorModel) -> tuple[Scan, KnownOperatorModel]:
    """The scan cut to the views the model was trained for (if it has more), and the model to apply: a
    model trained on a limited-angle or short-scan arc is moved to the scan's arc when that is the same arc
    rotated (same length and view spacing, another start; :func:`recon.limited_angle.retarget`). Raises
    ``ValueError`` saying what differs."""
    diffs = geometry_differences(model.geometry, scan.geometry, ignore=("angles", "image_size", "pixel_size"))
    if diffs:
        raise ValueError(f"the scan does not match the model's geometry ({type(model).__name__} expects "
                         f"{model.geometry!r}): " + "; ".join(diffs))
    if scan.n_views != model.geometry.n_views:
        try:
            idx = view_indices(scan.geometry, model.geometry)
        except ValueError as err:
            hint = (" (for an arc model, cut the scan's arc with --angles START:STOP)"
                    if scan_coverage(model.geometry).kind != "full" else "")
            raise ValueError(f"the scan's views do not include the model's: {err}{hint}") from None
        scan = scan.select_views(indices=idx)
    elif scan_coverage(model.geometry).kind != "full" and geometry_differences(model.geometry, scan.geometry):
        from ..analytic.arcs import retarget

        coverage = scan_coverage(scan.geometry)  # the scan's views in order along its arc, then the model moved
        scan = scan.select_views(indices=np.argsort(arc_positions(scan.geometry, coverage), kind="stable"))
        try:
            model = retarget(model, scan.geometry)
        except ValueError as err:
            raise ValueError(f"the scan's arc is not the model's arc at another start: {err}") from None
    model.check_geometry(scan.geometry, what="scan")
    return scan, model


def reconstruct_learned(scan: Scan, model: KnownOperatorModel, filter: str = "ram-lak", cutoff: float = 1.0,
                        device: str = "cpu") -> Reconstruction:
    """Apply a trained model: a learned FBP gives the image on its grid; a conversion network converts the
    sinogram, which analytic FBP (``filter``, ``cutoff``) then reconstructs on the model's input grid."""
    out, target = apply_model(scan, model, device)
    if model.output_kind == "image":
        return Reconstruction(out.astype(np.float32), model.geometry, f"learned fbp ({type(model).__name__})")
    image = fbp(out, target, filter, cutoff)
    return Reconstruction(image.astype(np.float32), target,
                          f"learned {model.geometry.kind} → {target.kind} + fbp ({filter}, cut-off {cutoff:g})")


def apply_model(scan: Scan, model: KnownOperatorModel, device: str = "cpu") -> tuple[np.ndarray, Geometry]:
    """The model's output for ``scan`` (cut to its views, see :func:`match_model_views`) as float64 numpy,
    and its geometry: the image ``[N, N]`` on the model's grid, or — for a conversion network — the converted
    sinogram, in the target geometry on the scan's image grid."""
    scan, model = match_model_views(scan, model)
    model = model.to(device).eval()
    sino = torch.from_numpy(scan.sinogram).to(device=device, dtype=next(model.buffers()).dtype)
    with torch.no_grad():
        out = model(sino).cpu().double().numpy()
    if model.output_kind == "image":
        return out, model.geometry
    assert isinstance(model, GeometryConversion)
    return out, model.output_geometry.replace(image_size=scan.geometry.image_size,
                                              pixel_size=scan.geometry.pixel_size)


def reconstruct_scan(scan: Scan, method: str = "fbp", model: Optional[KnownOperatorModel] = None,
                     filter: str = "ram-lak", cutoff: float = 1.0, image_size: Optional[int] = None,
                     pixel_size: Optional[float] = None, device: str = "cpu") -> Reconstruction:
    """Dispatch on ``method`` (``fbp``, ``learned`` (needs ``model``), ``rebin``) for one slice."""
    if method == "fbp":
        return reconstruct_fbp(scan, filter, cutoff, image_size, pixel_size, device)
    if method == "rebin":
        return reconstruct_rebin(scan, filter, cutoff, image_size=image_size, pixel_size=pixel_size)
    if method == "learned":
        if model is None:
            raise ValueError("--method learned needs --model RUN_DIR (or model.pt)")
        if image_size is not None or pixel_size is not None:
            raise ValueError("a learned model reconstructs on the grid it was trained for; drop --image-size/"
                             "--pixel-size")
        return reconstruct_learned(scan, model, filter, cutoff, device)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


# ---- output files -------------------------------------------------------------------------------------------

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
    from ..evaluation.report import _pyplot, save_figure

    check_writable(path, force)
    plt = _pyplot()
    half = rec.geometry.image_size * rec.geometry.pixel_size / 2
    vmin, vmax = display_window(rec.image)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    im = ax.imshow(rec.image, cmap="gray", vmin=vmin, vmax=vmax, extent=(-half, half, -half, half))
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_title(title or rec.method, fontsize=9)
    fig.colorbar(im, ax=ax, label="μ (1/mm)")
    return save_figure(fig, path)


def reconstruct_files(paths: Sequence[PathLike], out: PathLike, method: str = "fbp",
                      model_path: Optional[PathLike] = None, geometry: Optional[PathLike] = None,
                      filter: str = "ram-lak", cutoff: float = 1.0, views: Optional[int] = None,
                      angles: Optional[tuple[float, float]] = None, image_size: Optional[int] = None,
                      pixel_size: Optional[float] = None, device: str = "cpu", force: bool = False,
                      progress: bool = True) -> list[Path]:
    """Reconstruct every slice of every file; returns the TIFFs written.

    ``out`` is the TIFF itself for one single-slice file (``.tif``/``.tiff``), otherwise a folder that
    receives ``<file stem>[_slice<k>].tif`` and a ``.png`` preview next to each. ``views`` keeps that many
    evenly spaced views (sparse view); ``angles`` = (start, stop) in radians keeps an arc. Every output
    path is checked before anything is computed, so nothing is overwritten without ``force``.
    """
    from tqdm import tqdm

    from ..io import read_scan

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    model = load_model(model_path) if model_path is not None else None
    if method == "learned" and model is None:
        raise ValueError("--method learned needs --model RUN_DIR (or model.pt)")
    scans = []
    for path in paths:
        scan = read_scan(path, geometry=geometry)
        if angles is not None:
            scan = scan.select_angles(*angles)
        if views is not None:
            scan = scan.select_views(count=views)
        scans.append((Path(path), scan))
    out = Path(out)
    single = len(scans) == 1 and scans[0][1].n_slices == 1 and out.suffix.lower() in (".tif", ".tiff")
    jobs = []
    for path, scan in scans:
        for k in range(scan.n_slices):
            if single:
                target = out
            else:
                suffix = f"_slice{k}" if scan.n_slices > 1 else ""
                target = out / f"{path.stem}{suffix}.tif"
            check_writable(target, force)
            check_writable(target.with_suffix(".png"), force)
            jobs.append((path, scan if scan.n_slices == 1 else scan.slice(k), target))
    written = []
    for path, scan, target in tqdm(jobs, desc="reconstruct", disable=None if progress and len(jobs) > 1 else True):
        rec = reconstruct_scan(scan, method, model, filter, cutoff, image_size, pixel_size, device)
        written.append(write_tiff(target, rec, str(path), force))
        write_preview(target.with_suffix(".png"), rec, f"{path.name}: {rec.method}", force)
    return written
