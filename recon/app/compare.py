"""``recon compare`` on files: one or many scans against the trained models, a report folder per scan and a
summary over them (:mod:`recon.evaluation.compare` does the comparison of one scan).

The baselines tuned on the models' training data are computed once for all scans (and cached beside each
run, :mod:`recon.evaluation.baselines`); only the oracles are tuned per scan, against its own reference.
RMSE, PSNR and SSIM are scored inside the field of view (the inscribed disc of the grid) unless
``region="square"``; every JSON file and report names the region.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from tqdm import tqdm

from ..evaluation.compare import Comparison, compare_scan
from ..evaluation.report import comparison_figures, format_report, format_summary, summarise_scans
from ..evaluation.scores import SSIM_KEYS, check_region
from ..io import read_scan
from ..io.atomic import atomic_folder, check_distinct, check_writable, output_name
from ..io.references import load_reference
from ..models import load_model
from ..io.cone_scan import ConeScan
from .centring import check_centre
from .cone import compare_cone_files
from ..training.figures import plot_filter
from .._logging import progress_disabled

__all__ = ["compare_files", "scan_paths", "per_scan", "OUTPUTS"]

PathLike = Union[str, os.PathLike]
OUTPUTS = ("comparison.png", "profile.png", "metrics.json", "report.md")
SUMMARY = ("summary.json", "summary.md")


def scan_paths(scans: Union[PathLike, Sequence[PathLike]]) -> list[Path]:
    """The scan files: the paths given, a folder standing for the files in it (sorted; files whose name marks a
    reconstruction or segmentation, ``*_recon*``/``*_seg*``, are references, not scans)."""
    items = [scans] if isinstance(scans, (str, os.PathLike)) else list(scans)
    paths: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and not p.name.startswith(".")
                           and "_recon" not in p.stem and "_seg" not in p.stem)
            if not found:
                raise FileNotFoundError(f"{item}: the folder holds no scan files")
            paths.extend(found)
        else:
            paths.append(item)
    if not paths:
        raise ValueError("no scan to compare")
    return paths


def per_scan(values: Union[None, PathLike, Sequence[PathLike]], scans: Sequence[Path], what: str
             ) -> list[Optional[Path]]:
    """One ``what`` file (reference, segmentation) per scan: none, one per scan in the scans' order, or one
    template with ``{stem}`` (the scan file's name without its suffix), e.g. ``refs/{stem}_recon_fbp.mat``."""
    if values is None or (not isinstance(values, (str, os.PathLike)) and len(values) == 0):
        return [None] * len(scans)
    values = [values] if isinstance(values, (str, os.PathLike)) else list(values)
    if len(values) == 1 and "{stem}" in str(values[0]):
        return [Path(str(values[0]).format(stem=s.stem)) for s in scans]
    if len(values) != len(scans):
        raise ValueError(f"{len(values)} {what} file(s) for {len(scans)} scans: give one per scan, in order, or "
                         "one template with {stem}")
    return [Path(v) for v in values]


def _write_report(out: Path, path: Path, c: Comparison, models: Sequence, model_paths: Sequence[PathLike],
                  reference: Optional[Path], segmentation: Optional[Path]) -> dict[str, Any]:
    """The report of one scan into the (staging) folder ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    comparison_figures(out, c.recs, c.reference, c.segmentation, c.scores, c.context["region_id"])
    for k, model in enumerate(models, start=1):
        if model.has_filter:  # (an unrolled network learns CNNs, no filter)
            plot_filter(model, out / f"filter_{k}.png")
    result = {"scan": str(path), "models": [str(p) for p in model_paths], "reference": str(reference or ""),
              "segmentation": str(segmentation or ""), **c.context, "ssim_conventions": SSIM_KEYS,
              "methods": c.methods, "scores": c.scores}
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    labels = {i: m["label"] for i, m in c.methods.items()}
    report = format_report(c.scores, labels, c.context, f"Comparison on {path.name}")
    (out / "report.md").write_text(report)
    return {**result, "report": report}


def compare_files(scans: Union[PathLike, Sequence[PathLike]], out: PathLike, model_paths: Sequence[PathLike] = (),
                  reference: Union[None, PathLike, Sequence[PathLike]] = None,
                  segmentation: Union[None, PathLike, Sequence[PathLike]] = None,
                  geometry: Optional[PathLike] = None, views: Optional[int] = None,
                  angles: Optional[tuple[float, float]] = None, force: bool = False, tv: bool = False,
                  region: str = "fov") -> dict[str, Any]:
    """Compare every scan of ``scans`` (files or folders, see :func:`scan_paths`) and write the report folder
    ``out`` — for several scans one sub-folder per scan (named by its file stem) and ``summary.md`` /
    ``summary.json``. References and segmentations: see :func:`per_scan`; ``tv``: TV as a method too; ``region``:
    where RMSE, PSNR and SSIM are scored, ``"fov"`` or ``"square"`` (:func:`recon.evaluation.compare.compare_scan`).
    Every output is checked before
    anything is computed, so nothing is overwritten without ``force``. Returns the result of the one scan, or
    ``{"scans": [...], "summary": ..., "report": summary markdown}``."""
    check_region(region)
    paths = scan_paths(scans)
    refs, segs = per_scan(reference, paths, "reference"), per_scan(segmentation, paths, "segmentation")
    out = Path(out)
    single = len(paths) == 1
    stems = [output_name(p.stem) for p in paths]  # a scan named "...npy" must not write into the parent of out
    if len(set(stems)) != len(stems):
        raise ValueError(f"two scans share a file name ({sorted(s for s in stems if stems.count(s) > 1)[0]!r}): "
                         "their reports would overwrite each other")
    folders = [out] if single else [out / s for s in stems]
    for folder in folders:
        for name in OUTPUTS + tuple(f"filter_{k}.png" for k in range(1, len(model_paths) + 1)):
            check_writable(folder / name, force)
    for name in () if single else SUMMARY:
        check_writable(out / name, force)
    outputs = [folder / name for folder in folders for name in OUTPUTS]
    check_distinct(outputs, [*paths, *model_paths, *(p for p in refs + segs if p is not None)])
    models = [load_model(p) for p in model_paths]
    memo: dict = {}
    comparisons = []
    scans = [read_scan(path, geometry=geometry) for path in paths]
    if any(isinstance(s, ConeScan) for s in scans):
        if not single or segs[0] is not None or tv:
            raise ValueError("compare one cone-beam scan at a time, without --segmentation or --tv")
        check_distinct(outputs, scans[0].info.get("inputs", []))
        return compare_cone_files(paths[0], scans[0], out, models, model_paths, refs[0], views, angles, force, region)
    for path, scan in zip(paths, scans):
        if scan.n_slices > 1:
            raise ValueError(f"{path}: compare works on one slice; this scan has {scan.n_slices}")
        check_centre(scan, Path(path).name)  # warns where the data put the rotation centre elsewhere
    check_distinct(outputs, [i for scan in scans for i in scan.info.get("inputs", [])])  # sidecars, flats, …
    for path, scan, ref, seg in tqdm(list(zip(paths, scans, refs, segs)), desc="scans", unit="scan",
                                     disable=progress_disabled() if len(paths) > 1 else True):
        grid = models[0].geometry if models and models[0].output_kind == "image" else scan.geometry
        comparisons.append(compare_scan(scan, models, load_reference(ref, grid) if ref is not None else None,
                                        load_reference(seg, grid) if seg is not None else None, views, angles,
                                        grid, memo=memo, tv=tv, region=region))
    # the report folder(s) as one set: every figure first, each report.md (and summary.md) last
    last = ["report.md"] if single else [f"{s}/report.md" for s in stems] + ["summary.md"]
    with atomic_folder(out, last, force) as stage:
        staged = [stage] if single else [stage / s for s in stems]
        results = [_write_report(folder, path, c, models, model_paths, ref, seg)
                   for path, ref, seg, folder, c in zip(paths, refs, segs, staged, comparisons)]
        if not single:
            summary = summarise_scans(results)
            text = format_summary(summary, f"Comparison on {len(paths)} scans")
            (stage / "summary.json").write_text(json.dumps({"ssim_conventions": SSIM_KEYS, **summary}, indent=2))
            (stage / "summary.md").write_text(text)
    if single:
        return results[0]
    return {"scans": [{k: v for k, v in r.items() if k != "report"} for r in results], "summary": summary,
            "report": text}
