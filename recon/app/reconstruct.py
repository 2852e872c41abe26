"""``recon reconstruct``: measured scans → images, by analytic FBP, a learned model, or rebinning + FBP.

One function per method, all taking a :class:`recon.io.Scan` (one slice) and returning a
:class:`recon.io.outputs.Reconstruction` (the image ``[N, N]``, μ in 1/mm, with the geometry of its grid), and
the file workflow that writes each as a float32 TIFF with a PNG preview (:mod:`recon.io.outputs`).
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from tqdm import tqdm

from ..analytic.rebinning import parallel_geometry_for, rebin
from ..analytic.iterative import cgls, sirt
from ..analytic.recipe import fbp
from ..analytic.tv import tv_reconstruct
from ..geometry import Geometry
from ..io import read_scan
from .._checks import torch_device
from ..io.atomic import check_distinct, check_writable, output_name
from ..io.outputs import Reconstruction, check_output_suffix, write_reconstruction
from ..io.cone_scan import ConeScan
from ..io.scan import Scan
from ..io.volumes import VOLUME_SUFFIXES, write_volume
from ..models import KnownOperatorModel, apply_model, load_model
from .._logging import logger, progress_disabled
from .centring import CentreChoice, apply_centre, apply_cone_centre
from .cone import reconstruct_cone_files
from .stack import reconstruct_stack, stack_target

__all__ = ["METHODS", "ITERATIVE", "reconstruct_fbp", "reconstruct_rebin", "reconstruct_learned",
           "reconstruct_iterative", "reconstruct_scan", "reconstruct_files"]

PathLike = Union[str, os.PathLike]
METHODS = ("fbp", "learned", "rebin", "sirt", "cgls", "tv")
ITERATIVE = {"sirt": 100, "cgls": 30, "tv": 300}  # method: default number of iterations


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


def reconstruct_rebin(scan: Scan, filter: str = "ram-lak", cutoff: float = 1.0, n_views: Optional[int] = None,
                      image_size: Optional[int] = None, pixel_size: Optional[float] = None) -> Reconstruction:
    """Interpolation rebinning fan → parallel, then parallel FBP (the classical alternative to fan FBP)."""
    if not scan.geometry.point_source:
        raise ValueError("method 'rebin' converts fan-beam scans to parallel beam; this scan is parallel already")
    par = _grid(parallel_geometry_for(scan.geometry, n_views), image_size, pixel_size)
    parallel = rebin(scan.sinogram, scan.geometry, par)
    image = fbp(parallel, par, filter, cutoff)
    return Reconstruction(image.astype(np.float32), par, f"rebin + fbp ({filter}, cut-off {cutoff:g})")


def reconstruct_iterative(scan: Scan, method: str, iterations: Optional[int] = None,
                          tv_lambda: Optional[float] = None, image_size: Optional[int] = None,
                          pixel_size: Optional[float] = None, device: str = "cpu") -> Reconstruction:
    """SIRT (non-negative), CGLS or TV (Chambolle–Pock, ``tv_lambda`` in line integral² per 1/mm, x ≥ 0) of a
    one-slice scan on its own grid (or ``image_size`` × ``pixel_size``); any geometry, vector ones included."""
    g = _grid(scan.geometry, image_size, pixel_size)
    n_iter = ITERATIVE[method] if iterations is None else iterations
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or not 1 <= n_iter <= 100_000:
        raise ValueError(f"--iterations must be a whole number from 1 to 100000, got {iterations!r}")
    if tv_lambda is not None and not (math.isfinite(tv_lambda) and tv_lambda >= 0):
        raise ValueError(f"--tv-lambda must be a number >= 0, got {tv_lambda!r}")
    sino = torch.from_numpy(np.asarray(scan.sinogram, dtype=np.float32)).to(device)
    if method == "tv":
        if tv_lambda is None:
            raise ValueError("method 'tv' needs its regularisation weight: --tv-lambda (0.03 suits the HTC2022 "
                             "scans; recon compare --tv tunes it on a model's simulated training data)")
        image = tv_reconstruct(sino, g, tv_lambda, n_iter)
        what = f"tv (λ {tv_lambda:g}, at most {n_iter} iterations)"
    else:
        image = (sirt if method == "sirt" else cgls)(sino, g, n_iter)
        what = f"{method} ({n_iter} iterations)"
    return Reconstruction(image.cpu().numpy().astype(np.float32), g, what)


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


def reconstruct_scan(scan: Scan, method: str = "fbp", model: Optional[KnownOperatorModel] = None,
                     filter: str = "ram-lak", cutoff: float = 1.0, image_size: Optional[int] = None,
                     pixel_size: Optional[float] = None, device: str = "cpu", iterations: Optional[int] = None,
                     tv_lambda: Optional[float] = None) -> Reconstruction:
    """Dispatch on ``method`` (``fbp``, ``learned`` (needs ``model``), ``rebin``, ``sirt``, ``cgls``, ``tv``)
    for one slice."""
    if method in ITERATIVE:
        return reconstruct_iterative(scan, method, iterations, tv_lambda, image_size, pixel_size, device)
    if iterations is not None or tv_lambda is not None:
        raise ValueError(f"--iterations and --tv-lambda set the iterative methods ({', '.join(ITERATIVE)}); "
                         f"method {method!r} would ignore them")
    if method == "fbp":
        return reconstruct_fbp(scan, filter, cutoff, image_size, pixel_size, device)
    if method == "rebin":
        return reconstruct_rebin(scan, filter, cutoff, image_size=image_size, pixel_size=pixel_size)
    if method == "learned":
        if model is None:
            raise ValueError("method 'learned' needs a model (a run folder or its model.pt)")
        if image_size is not None or pixel_size is not None:
            raise ValueError("a learned model reconstructs on the grid it was trained for; leave the image size and "
                             "pixel size unset")
        return reconstruct_learned(scan, model, filter, cutoff, device)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def reconstruct_files(paths: Sequence[PathLike], out: PathLike, method: str = "fbp",
                      model_path: Optional[PathLike] = None, geometry: Optional[PathLike] = None,
                      filter: str = "ram-lak", cutoff: float = 1.0, views: Optional[int] = None,
                      angles: Optional[tuple[float, float]] = None, image_size: Optional[int] = None,
                      pixel_size: Optional[float] = None, device: str = "cpu", force: bool = False,
                      progress: bool = True, centre: CentreChoice = None, det_offset: Optional[float] = None,
                      iterations: Optional[int] = None, tv_lambda: Optional[float] = None,
                      slices: Union[None, int, slice] = None, read_options: Optional[dict] = None) -> list[Path]:
    """Reconstruct every file; returns the files written. A one-slice scan gives a float32 TIFF; a multi-slice
    2-D scan one volume of its slices (:mod:`recon.app.stack`; ``slices`` = a ``slice`` of detector rows reads
    only those); a cone-beam scan one volume (:func:`recon.app.cone.reconstruct_cone_files`, on ``image_size``² ×
    ``slices`` voxels of ``pixel_size`` mm, ``slices`` a count).

    ``out`` is the output file itself for one file (``.tif``/``.tiff``; ``.h5``/``.hdf5`` for a volume),
    otherwise a folder that receives ``<file stem>.tif``; a ``.png`` preview goes next to each. ``views`` keeps that
    many evenly spaced views (sparse view); ``angles`` = (start, stop) in radians keeps an arc. ``centre`` and
    ``det_offset`` set the rotation centre (:func:`recon.app.centring.apply_centre`; by default the file's is
    kept and checked against the data, with a warning where they disagree), on the full scan before views are
    selected. Every output path is checked before anything is computed, so nothing is overwritten without
    ``force``. ``read_options`` go to :func:`recon.io.read_scan` (e.g. ``binning``/``every`` of a Nikon scan).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    device = torch_device(device)
    model = load_model(model_path) if model_path is not None else None
    if method == "learned" and model is None:
        raise ValueError("method 'learned' needs a model (a run folder or its model.pt)")
    check_output_suffix(out, VOLUME_SUFFIXES, "a reconstruction (.tif, or .h5 for a volume)")  # before reading
    if isinstance(slices, slice):  # rows A:B of multi-slice 2-D scans: only those rows are read
        read_options = {**(read_options or {}), "rows": slices}
    read = [(Path(p), read_scan(p, geometry=geometry, **(read_options or {}))) for p in paths]
    cone = [(p, s) for p, s in read if isinstance(s, ConeScan)]
    if cone:
        if len(cone) != len(read):
            raise ValueError("cone-beam and 2-D scans in one command: reconstruct them separately")
        if tv_lambda is not None:
            raise ValueError("--tv-lambda applies to 2-D scans only so far")
        centred, notes = [], {}
        for p, s in cone:  # the centre on the full scan, before views are selected
            s, notes[str(p)] = apply_cone_centre(s, p.name, centre, det_offset)
            if notes[str(p)]:
                logger.info(f"{p.name}: {notes[str(p)]}")
            s = s.select_angles(*angles) if angles is not None else s
            centred.append((p, s.select_views(views) if views is not None else s))
        return reconstruct_cone_files(centred, out, method, filter, cutoff, image_size, pixel_size, slices, iterations,
                                      force, progress, model=model, device=device, notes=notes)
    if isinstance(slices, int):
        raise ValueError("--slices K sets the volume of cone-beam scans; for a multi-slice 2-D scan give the "
                         "detector rows as --slices A:B")
    scans, notes = _prepare_scans(read, centre, det_offset, angles, views)

    def one_slice(path: Path, scan: Scan) -> Reconstruction:
        rec = reconstruct_scan(scan, method, model, filter, cutoff, image_size, pixel_size, device, iterations,
                               tv_lambda)
        if notes[str(path)]:  # a centre that was changed is named in the TIFF's metadata and the preview's title
            rec = replace(rec, method=f"{rec.method}; {notes[str(path)]}")
        if scan.info.get("pixel_units"):  # no pixel size recorded: lengths in detector pixels, μ per pixel
            rec = replace(rec, length_unit="px")
        return rec

    jobs = _plan_outputs(scans, Path(out), force, [model.path] if model is not None else [])
    written = []
    for path, scan, target in tqdm(jobs, desc="reconstruct",
                                   disable=progress_disabled() if progress and len(jobs) > 1 else True):
        if scan.n_slices > 1:
            volume = reconstruct_stack(scan, lambda s: one_slice(path, s), progress, path.name)
            written.append(write_volume(target, volume, str(path), f"{path.name}: {volume.method}", force))
            continue
        rec = one_slice(path, scan)
        written.append(write_reconstruction(target, rec, str(path), f"{path.name}: {rec.method}", force))
    return written


def _prepare_scans(read: list[tuple[Path, Scan]], centre: CentreChoice, det_offset: Optional[float],
                   angles: Optional[tuple[float, float]], views: Optional[int]) -> tuple[list, dict[str, str]]:
    """The 2-D scans with their centre set (on the full scan) and the views or arc asked for, and per file the
    note naming a centre that was changed ("" if none)."""
    scans, notes = [], {}
    for path, scan in read:
        if scan.info.get("pixel_units"):  # (a note, not a warning: many synchrotron files record no pixel size)
            logger.info(f"{path.name}: no pixel size recorded: lengths in detector pixels, μ per pixel "
                        "(--det-spacing MM gives mm)")
        scan, notes[str(path)] = apply_centre(scan, path.name, centre, det_offset)
        if notes[str(path)]:
            logger.info(f"{path.name}: {notes[str(path)]}")
        logger.debug(f"{path.name}: {scan.format}, {scan.n_slices} slice(s) of {scan.n_views} views × {scan.n_det} "
                     f"elements; {scan.geometry!r}")
        if angles is not None:
            scan = scan.select_angles(*angles)
        if views is not None:
            scan = scan.select_views(count=views)
        scans.append((path, scan))
    return scans, notes


def _plan_outputs(scans: list[tuple[Path, Scan]], out: Path, force: bool,
                  other_inputs: list) -> list[tuple[Path, Scan, Path]]:
    """``(file, scan, output)`` per scan, every output checked before anything is computed: a one-slice scan
    gives a float32 TIFF (``out`` itself for one file, else ``out/<stem>.tif``), a multi-slice scan one volume
    (:func:`recon.app.stack.stack_target`)."""
    multi = any(scan.n_slices > 1 for _, scan in scans)
    check_output_suffix(out, VOLUME_SUFFIXES if multi else (".tif", ".tiff"),
                        "a multi-slice volume" if multi else "a 2-D reconstruction (float32)")
    single = len(scans) == 1 and out.suffix.lower() in VOLUME_SUFFIXES
    jobs = []
    for path, scan in scans:
        if scan.n_slices > 1:
            target = stack_target(out, path, len(scans) > 1)
        else:
            target = out if single else out / f"{output_name(path.stem)}.tif"
        check_writable(target, force)
        check_writable(target.with_suffix(".png"), force)
        jobs.append((path, scan, target))
    outputs = [p for _, _, target in jobs for p in (target, target.with_suffix(".png"))]
    check_distinct(outputs, [p for p, _ in scans] + [i for _, scan in scans for i in scan.info.get("inputs", [])]
                   + other_inputs)
    return jobs
