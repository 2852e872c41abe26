"""``recon reconstruct`` for cone-beam scans: FDK (``--method fbp``), SIRT or CGLS onto a volume, written as a
multi-page float32 TIFF (or HDF5) with a PNG of the three central slices (:mod:`recon.io.volumes`)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from tqdm import tqdm

from ..analytic.fdk import fdk
from ..analytic.iterative import cgls, sirt
from ..evaluation.compare_cone import compare_cone_scan
from ..evaluation.evaluate_cone import volume_figure
from ..evaluation.report import format_table
from ..evaluation.scores import SSIM_KEYS
from ..io.atomic import atomic_folder, check_distinct, check_writable, output_name
from ..io.cone_scan import ConeScan
from ..io.outputs import check_output_suffix
from ..io.volumes import VOLUME_SUFFIXES, VolumeReconstruction, read_volume, write_volume
from ..models import LearnedFDK
from .._logging import progress_disabled

__all__ = ["CONE_METHODS", "reconstruct_cone", "reconstruct_cone_files"]

PathLike = Union[str, os.PathLike]
CONE_METHODS = {"fbp": None, "sirt": 100, "cgls": 30, "learned": None}  # method: default iterations (fbp is FDK)


def reconstruct_cone(scan: ConeScan, method: str = "fbp", filter: str = "ram-lak", cutoff: float = 1.0,
                     image_size: Optional[int] = None, pixel_size: Optional[float] = None,
                     slices: Optional[int] = None, iterations: Optional[int] = None,
                     model: Optional[LearnedFDK] = None, device: Optional[torch.device] = None) -> VolumeReconstruction:
    """FDK (``method="fbp"``), SIRT, CGLS or a learned FDK (``"learned"``, ``model``: on the model's volume) of a
    cone-beam scan onto its default volume (:meth:`recon.io.ConeScan.default_grid`) or the one ``image_size`` ×
    ``image_size`` × ``slices`` voxels of ``pixel_size`` mm asks for; on ``device`` (CUDA: the Triton kernels)."""
    if method not in CONE_METHODS:
        raise ValueError(f"--method {method} is not available for cone-beam scans; choose one of "
                         f"{', '.join(CONE_METHODS)} (fbp is FDK)")
    p = torch.from_numpy(scan.projections).to(device or torch.device("cpu"))
    if method == "learned":
        if not isinstance(model, LearnedFDK):
            raise ValueError(f"a cone-beam scan is reconstructed by a learned_fdk model; got "
                             f"{type(model).__name__ if model is not None else 'no model'}")
        if image_size is not None or pixel_size is not None or slices is not None or iterations is not None:
            raise ValueError("a learned model reconstructs on the volume it was trained for; leave --image-size, "
                             "--pixel-size, --slices and --iterations unset")
        model.check_geometry(scan.geometry, "scan")
        with torch.no_grad():
            volume = model.to(p.device).eval()(p.to(model.dtype))
        return VolumeReconstruction(volume.cpu().numpy().astype(np.float32), model.grid, scan.geometry,
                                    f"learned fdk ({model.learned_parts()})")
    grid = scan.geometry.check_grid(scan.default_grid(image_size, pixel_size, slices), "the volume")
    if method == "fbp":
        if iterations is not None:
            raise ValueError("--iterations sets sirt/cgls; FDK (--method fbp) would ignore it")
        volume, what = fdk(p, scan.geometry, grid, filter, cutoff), f"fdk ({filter}, cut-off {cutoff:g})"
    else:
        n = CONE_METHODS[method] if iterations is None else iterations
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100_000:
            raise ValueError(f"--iterations must be a whole number from 1 to 100000, got {iterations!r}")
        volume = (sirt if method == "sirt" else cgls)(p, scan.geometry, n, grid=grid)
        what = f"{method} ({n} iterations)"
    return VolumeReconstruction(volume.cpu().numpy().astype(np.float32), grid, scan.geometry, what)


def reconstruct_cone_files(scans: Sequence[tuple[Path, ConeScan]], out: PathLike, method: str = "fbp",
                           filter: str = "ram-lak", cutoff: float = 1.0, image_size: Optional[int] = None,
                           pixel_size: Optional[float] = None, slices: Optional[int] = None,
                           iterations: Optional[int] = None, force: bool = False, progress: bool = True,
                           model: Optional[LearnedFDK] = None, device: Optional[torch.device] = None,
                           notes: Optional[dict[str, str]] = None) -> list[Path]:
    """One volume per scan: ``out`` is the volume file itself (``.tif``/``.tiff``/``.h5``) for one scan, otherwise a
    folder receiving ``<file stem>.tif``; a ``.png`` of the central slices beside each; ``notes`` (per file) are
    added to the volume's method (a rotation centre that was set). Every output is checked
    before anything is computed; inputs are never written over."""
    out = Path(out)
    single = len(scans) == 1 and out.suffix.lower() in VOLUME_SUFFIXES
    check_output_suffix(out, VOLUME_SUFFIXES, "a volume")
    jobs = []
    for path, scan in scans:
        target = out if single else out / f"{output_name(path.stem)}.tif"
        check_writable(target, force)
        check_writable(target.with_suffix(".png"), force)
        jobs.append((path, scan, target))
    check_distinct([p for _, _, t in jobs for p in (t, t.with_suffix(".png"))],
                   [p for p, _ in scans] + [i for _, s in scans for i in s.info.get("inputs", [])]
                   + ([model.path] if getattr(model, "path", None) is not None else []))
    written = []
    for path, scan, target in tqdm(jobs, desc="reconstruct",
                                   disable=progress_disabled() if progress and len(jobs) > 1 else True):
        rec = reconstruct_cone(scan, method, filter, cutoff, image_size, pixel_size, slices, iterations, model,
                               device)
        if (notes or {}).get(str(path)):  # a centre that was changed is named in the metadata and the preview
            rec = replace(rec, method=f"{rec.method}; {notes[str(path)]}")
        g = rec.grid
        title = (f"{path.name}: {rec.method}; {' × '.join(map(str, g.shape))} voxels of "
                 f"{g.voxel_size[2]:.4g} mm")
        written.append(write_volume(target, rec, str(path), title, force))
    return written



def compare_cone_files(path: Path, scan: ConeScan, out: PathLike, models: Sequence, model_paths: Sequence[PathLike],
                       reference: Optional[PathLike], views: Optional[int], angles: Optional[tuple[float, float]],
                       force: bool, region: str) -> dict:
    """``recon compare`` of one cone-beam scan (:mod:`recon.evaluation.compare_cone`): the report folder ``out``
    (``comparison.png``, ``metrics.json``, ``report.md``) of FDK, tuned FDK, CGLS and the learned FDK models on the
    ``angles``/``views`` selection, scored against ``reference`` (a volume file; default FDK of the full scan)."""
    bad = [type(m).__name__ for m in models if not isinstance(m, LearnedFDK)]
    if bad:
        raise ValueError(f"a cone-beam scan is compared with learned_fdk models; got {', '.join(bad)}")
    selected = scan.select_angles(*angles) if angles is not None else scan
    selected = selected.select_views(views) if views is not None else selected
    ref = read_volume(reference)[0] if reference is not None else None
    c = compare_cone_scan(scan, selected, models, ref, region)
    labels = {k: m["label"] for k, m in c["methods"].items()}
    table = format_table(c["scores"], labels, region)
    text = (f"# Comparison on {path.name}\n\n{selected.n_views} of the scan's {scan.n_views} views, reconstructed on "
            f"{c['grid']!r}; scored against {c['reference_label']}, slice by slice "
            f"({c['context']['n_slices_scored']} slices).\n\n{table}\n")
    result = {"scan": str(path), "models": [str(p) for p in model_paths], "reference": str(reference or ""),
              **c["context"], "ssim_conventions": SSIM_KEYS, "methods": c["methods"], "scores": c["scores"]}
    with atomic_folder(Path(out), ["report.md"], force) as stage:
        volume_figure([("reference", c["reference"])] + [(labels[k], v) for k, v in c["recs"].items()], c["grid"],
                      stage / "comparison.png")
        (stage / "metrics.json").write_text(json.dumps(result, indent=2))
        (stage / "report.md").write_text(text)
    return {**result, "report": text}
