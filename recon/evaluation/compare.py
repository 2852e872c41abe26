"""``recon compare``: learned models against analytic FBP on one real scan, with a report.

Every method reconstructs the same (e.g. sparse-view) data on the same grid — the grid of the first model:

* ``FBP ram-lak``;
* ``FBP tuned``: the window/cut-off chosen on the model's simulated training data (when that file is still
  where the run recorded it) — the fair baseline: it has seen what the model has seen;
* ``FBP oracle``: the window/cut-off chosen against the reference itself — an upper bound no analytic
  filter choice can beat on this scan;
* ``rebin + FBP`` (fan scans): interpolation rebinning to parallel beam, then FBP with the tuned window;
* ``view-interpolated FBP`` (uniform full scans): the views interpolated linearly ×U (U of the
  upsampling models, else 4), window/cut-off tuned on the training data (else against the reference) —
  the analytic method that sparse-view learned models must beat (:mod:`recon.views`);
* ``limited-angle FBP`` (arcs: limited angle, short scan): window, cut-off, end taper and global scale tuned
  on the training data (a model trained with ``init = "tuned"`` stores it — with views completed for a model
  that completes them; else tuned on the reference), as it is and clipped at 0 (:mod:`recon.limited_angle`);
* each model (learned FBP, or conversion network + FBP).

Against the reference (``--reference``: an image file, e.g. the HTC ``*_recon_fbp.mat``; default: FBP of the
*full* scan, all views) each gets RMSE, PSNR (data range of the reference), SSIM; plus edge sharpness (10–90 %
rise of the mean edge profile across the segmentation's boundaries, mm), noise (std in the material away
from edges), data consistency ``‖A x − p‖ / ‖p‖`` on the views used, and — with ``--segmentation`` — the
HTC2022 score (Matthews correlation of the Otsu-thresholded image with the true segmentation).

Writes ``comparison.png`` (same window for all, difference images), ``profile.png`` (a line through edges),
``filter_<model>.png`` for learned filters, ``metrics.json`` and ``report.md``.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from scipy import ndimage

from ..analytic.recipe import TunedFilter, tune_fbp
from ..analytic.filtered_backprojection import fbp
from ..geometry import FanBeam, Geometry
from ..io.atomic import atomic_output, check_writable
from ..io.scan import Scan
from ..metrics import psnr, rmse, ssim
from ..models import GeometryConversion, KnownOperatorModel, load_model, training_summary
from ..operators import project
from .quality import edge_rise_distance, flat_region_noise, otsu_threshold, segmentation_mcc
from ..app.reconstruct import (Reconstruction, apply_model, display_window, match_model_views, parallel_geometry_for,
                          reconstruct_learned)
from ..analytic.rebinning import rebin
from ..analytic.views import uniform_full_scan_step
from ..analytic.weights import scan_coverage

__all__ = ["resample_to_grid", "load_reference", "compare_scan", "compare_files", "score"]

PathLike = Union[str, os.PathLike]
OUTPUTS = ("comparison.png", "profile.png", "metrics.json", "report.md")


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
    from ..io import read_htc_reference
    from ..io.readers import HTC_EFFECTIVE_PIXEL_SIZE

    path = Path(path)
    if path.suffix.lower() == ".mat":
        image = read_htc_reference(path)
        px = pixel_size or HTC_EFFECTIVE_PIXEL_SIZE
    elif path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            image = tif.pages[0].asarray()
            try:
                px = pixel_size or json.loads(tif.pages[0].description)["pixel_size_mm"]
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


def score(image: np.ndarray, reference: np.ndarray, segmentation: np.ndarray, sinogram: np.ndarray,
          geometry: Geometry, true_segmentation: bool) -> dict[str, float]:
    """All measures of one reconstruction (see the module docstring)."""
    px = geometry.pixel_size
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64))
    p = np.asarray(sinogram, dtype=np.float64)
    residual = project(x, geometry).numpy() - p
    out = {"rmse": rmse(image, reference), "psnr": psnr(image, reference), "ssim": ssim(image, reference),
           "edge_rise_mm": edge_rise_distance(image, segmentation, px),
           "noise_std": flat_region_noise(image, segmentation, px),
           "data_consistency": float(np.linalg.norm(residual) / np.linalg.norm(p))}
    if true_segmentation:
        out["segmentation_mcc"] = segmentation_mcc(image, segmentation)
    return out


def _tuned_on_training_data(model: KnownOperatorModel, upsample: Sequence[int] = (1,),
                            max_samples: int = 16) -> Optional[TunedFilter]:
    """The FBP window (and view-interpolation factor, from ``upsample``) tuned on up to ``max_samples``
    samples of an image model's simulated training data, against the target it was trained on, if the run
    recorded a file that is still readable; ``None`` otherwise (and for conversion networks)."""
    summary = training_summary(model)
    data = summary.get("data")
    if model.output_kind != "image" or not data or not Path(data).is_file():
        return None
    from ..simulation.dataset import SimulatedDataset
    from ..geometry import view_indices
    from ..training.loop import load_training_data

    try:
        views = view_indices(SimulatedDataset(data, keys=("sinograms",)).geometry, model.geometry)
        td = load_training_data(data, summary.get("target", "images"), views, max_samples=max_samples)
        return tune_fbp(td.inputs, td.targets, model.geometry, upsample=upsample)
    except (ValueError, OSError):
        return None


def _conversion_windows(model: GeometryConversion, max_samples: int = 16) -> Optional[dict[str, TunedFilter]]:
    """Windows of the parallel FBP after interpolation rebinning (``"rebinning"``) and after the conversion
    network (``"network"``), each tuned on up to ``max_samples`` samples of the network's simulated training
    data against their phantoms, if the run recorded a file that is still readable; ``None`` otherwise."""
    data = training_summary(model).get("data")
    if not data or not Path(data).is_file():
        return None
    from .evaluate import convert_both
    from ..training.loop import load_training_data, read_dataset

    try:
        td = load_training_data(data, "target_sinograms", None, max_samples=max_samples)
        truth = read_dataset(data, "images", td.inputs.shape[0])
        grid = model.output_geometry.replace(image_size=td.geometry.image_size, pixel_size=td.geometry.pixel_size)
        return {name: tune_fbp(p, truth, grid) for name, p in convert_both(model, td.inputs).items()}
    except (ValueError, OSError, KeyError):
        return None


def _downstream_window(sinogram: np.ndarray, geometry: Geometry, reference: np.ndarray,
                       windows: Optional[dict[str, TunedFilter]], method: str, fallback: TunedFilter,
                       own_oracle: bool) -> tuple[str, TunedFilter]:
    """The parallel-FBP window after a conversion (``method``: "rebinning" or "network"): the one tuned on
    the training data if ``windows`` has it, else (``own_oracle``) one tuned on the reference for this
    sinogram, else ``fallback``. Returns (label, window)."""
    if windows is not None:
        return f"{windows[method].describe()}, tuned on training data", windows[method]
    if own_oracle:
        tuned = tune_fbp(torch.from_numpy(sinogram)[None], torch.from_numpy(reference)[None], geometry)
        return f"{tuned.describe()}, oracle", tuned
    return fallback.describe(), fallback


def _limited_angle_baselines(models: Sequence[KnownOperatorModel], sino: np.ndarray, reference: np.ndarray,
                             g: Geometry) -> dict[str, Reconstruction]:
    """For arcs (limited angle, short scan): the limited-angle FBP (window, cut-off, end taper, scale; with
    views completed for a model that completes them) that each model's training tuned (``init = "tuned"``),
    and the plain one tuned on the reference itself (oracle) unless a model stored it; each also clipped at
    0, the non-linearity the learned models' positivity adds."""
    from ..analytic.arcs import LimitedAngleFBP, tune_limited_angle_fbp

    stored = [LimitedAngleFBP.from_dict(d) for d in
              (training_summary(m).get("limited_angle_baseline") for m in models) if d]
    found = [(b, "limited-angle FBP tuned on training data") for b in dict.fromkeys(stored)]
    if not any(not b.complete_views for b, _ in found):
        found.insert(0, (tune_limited_angle_fbp(sino[None], reference[None], g), "limited-angle FBP oracle"))
    recs = {}
    for baseline, label in found:
        label = ("view completion + " if baseline.complete_views else "") + label
        image = np.asarray(baseline.reconstruct(sino, g))
        recs[f"{label} ({baseline.describe()})"] = Reconstruction(image, g, label)
        recs[f"{label}, clipped at 0"] = Reconstruction(np.maximum(image, 0.0), g, f"{label}, clipped")
    return recs


def _interpolation_factors(models: Sequence[KnownOperatorModel]) -> tuple[int, ...]:
    """View-interpolation factor(s) of the interpolated-FBP baseline: those of the upsampling models, else 4."""
    return tuple(sorted({int(m.factor) for m in models if getattr(m, "factor", None) is not None})) or (4,)


def compare_scan(full: Scan, models: Sequence[KnownOperatorModel], reference: Optional[np.ndarray] = None,
                 segmentation: Optional[np.ndarray] = None, views: Optional[int] = None,
                 angles: Optional[tuple[float, float]] = None, grid: Optional[Geometry] = None
                 ) -> tuple[dict[str, dict[str, float]], dict[str, Reconstruction], dict[str, Any]]:
    """Reconstruct ``full`` (or its ``views``/``angles`` subset, or the views the first model needs) with
    every method and score them. ``reference``/``segmentation`` must be on the comparison grid (that of the
    first model, else ``grid``, else the scan's). Returns (scores, reconstructions, context)."""
    scan = full
    if angles is not None:
        scan = scan.select_angles(*angles)
    if views is not None:
        scan = scan.select_views(count=views)
    if models:
        scan = match_model_views(scan, models[0])[0]
        grid = models[0].geometry if models[0].output_kind == "image" else (grid or scan.geometry)
    grid = grid or scan.geometry
    g = scan.geometry.replace(image_size=grid.image_size, pixel_size=grid.pixel_size)
    context: dict[str, Any] = {"n_views_used": scan.n_views, "n_views_full": full.n_views, "grid": g.to_dict()}
    if reference is None:
        g_full = full.geometry.replace(image_size=g.image_size, pixel_size=g.pixel_size)
        reference = fbp(full.sinogram.astype(np.float64), g_full, "hann", 1.0, warn=False)
        context["reference"] = f"FBP (hann) of the full scan, {full.n_views} views"
    true_seg = segmentation is not None
    if segmentation is None:
        segmentation = (reference > otsu_threshold(reference)).astype(np.uint8)
        context["segmentation"] = "Otsu threshold of the reference"
    recs: dict[str, Reconstruction] = {}
    sino = scan.sinogram.astype(np.float64)
    recs["FBP ram-lak"] = Reconstruction(fbp(sino, g, "ram-lak", warn=False), g, "fbp ram-lak")
    try:  # view-interpolated FBP: the analytic sparse-view baseline, for uniform full scans
        uniform_full_scan_step(g)
        factors = _interpolation_factors(models)
    except ValueError:
        factors = ()
    # window (and interpolation factor) tuned once on the training data and once on the reference (oracle)
    trained = next((t for t in (_tuned_on_training_data(m, (1,) + factors) for m in models) if t is not None),
                   None)
    tuned = trained.restricted((1,)) if trained is not None else None
    if tuned is not None:
        recs[f"FBP tuned on training data ({tuned.describe()})"] = Reconstruction(
            fbp(sino, g, tuned.filter, tuned.cutoff, warn=False), g, "fbp tuned")
    sino_t, ref_t = torch.from_numpy(sino)[None], torch.from_numpy(reference)[None]
    oracles = tune_fbp(sino_t, ref_t, g, upsample=(1,) + factors)
    oracle = oracles.restricted((1,))
    recs[f"FBP oracle ({oracle.describe()})"] = Reconstruction(
        fbp(sino, g, oracle.filter, oracle.cutoff, warn=False), g, "fbp oracle")
    window = tuned or oracle
    if scan_coverage(g).kind != "full":
        recs.update(_limited_angle_baselines(models, sino, reference, g))
    if factors:
        interpolated, label = ((trained.restricted(factors), "view-interpolated FBP tuned on training data")
                               if trained is not None else
                               (oracles.restricted(factors), "view-interpolated FBP oracle"))
        recs[f"{label} ({interpolated.describe()})"] = Reconstruction(
            interpolated.reconstruct(sino, g), g, "view-interpolated fbp")
    conversion = next((m for m in models if isinstance(m, GeometryConversion)), None)
    windows = _conversion_windows(conversion) if conversion is not None else None
    if isinstance(g, FanBeam):
        par = (conversion.output_geometry.replace(image_size=g.image_size, pixel_size=g.pixel_size)
               if conversion is not None else parallel_geometry_for(g))
        rebinned = rebin(sino, g, par)
        label, rebin_window = _downstream_window(rebinned, par, reference, windows, "rebinning", window,
                                                 conversion is not None)
        recs[f"rebin + FBP ({label})"] = Reconstruction(
            fbp(rebinned, par, rebin_window.filter, rebin_window.cutoff, warn=False), par, "rebin + fbp")
    for k, model in enumerate(models):
        if isinstance(model, GeometryConversion):  # its own parallel-FBP window, tuned like rebinning's
            out, target = apply_model(scan, model)
            own = _conversion_windows(model) if model is not conversion else windows
            label, w = _downstream_window(out, target, reference, own, "network", window, True)
            rec = Reconstruction(fbp(out, target, w.filter, w.cutoff, warn=False), target, "learned conversion + fbp")
            label = f"learned {type(model).__name__} ({model.learned_parts()}) + FBP ({label})"
        else:
            rec = reconstruct_learned(scan, model, window.filter, window.cutoff)
            label = f"learned {type(model).__name__} ({model.learned_parts()})"
        recs[label if label not in recs else f"{label} #{k + 1}"] = rec
    scores = {name: score(rec.image, reference, segmentation, sino, g, true_seg) for name, rec in recs.items()}
    context.update(reference_image=reference, segmentation_image=segmentation)
    return scores, recs, context


def _format_report(scores: dict[str, dict[str, float]], context: dict[str, Any], title: str) -> str:
    cols = [("psnr", "PSNR (dB)", "{:.2f}"), ("ssim", "SSIM", "{:.4f}"), ("rmse", "RMSE (1/mm)", "{:.2e}"),
            ("edge_rise_mm", "edge 10–90 % (mm)", "{:.3f}"), ("noise_std", "noise std (1/mm)", "{:.2e}"),
            ("data_consistency", "‖Ax−p‖/‖p‖", "{:.4f}"), ("segmentation_mcc", "seg. MCC (Otsu)", "{:.4f}")]
    cols = [c for c in cols if any(c[0] in s for s in scores.values())]
    lines = [f"# {title}", "", f"Views used: {context['n_views_used']} of {context['n_views_full']}. "
             f"Reference: {context.get('reference', 'given file')}. "
             f"Segmentation: {context.get('segmentation', 'given file')}. PSNR data range: max − min of the "
             "reference.", "", "| method | " + " | ".join(c[1] for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for name, s in scores.items():
        lines.append(f"| {name} | " + " | ".join(c[2].format(s[c[0]]) if c[0] in s else "" for c in cols) + " |")
    lines += ["", "![comparison](comparison.png)", "", "![profile](profile.png)", ""]
    return "\n".join(lines)


def _figures(out: Path, recs: dict[str, Reconstruction], reference: np.ndarray, segmentation: np.ndarray,
             scores: dict[str, dict[str, float]], force: bool) -> None:
    from .report import _pyplot, save_figure

    plt = _pyplot()
    names = list(recs)
    vmin, vmax = display_window(reference)
    span = 0.25 * (vmax - vmin)
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(3.0 * (len(names) + 1), 6.4))
    axes[0, 0].imshow(reference, cmap="gray", vmin=vmin, vmax=vmax)
    axes[0, 0].set_title("reference", fontsize=8)
    axes[1, 0].imshow(segmentation, cmap="gray")
    axes[1, 0].set_title("segmentation", fontsize=8)
    for k, name in enumerate(names, start=1):
        img = recs[name].image
        axes[0, k].imshow(img, cmap="gray", vmin=vmin, vmax=vmax)
        axes[0, k].set_title(textwrap.fill(name, 34) + f"\nPSNR {scores[name]['psnr']:.2f} dB, "
                             f"SSIM {scores[name]['ssim']:.3f}", fontsize=7)
        axes[1, k].imshow(img - reference, cmap="coolwarm", vmin=-span, vmax=span)
        axes[1, k].set_title("− reference", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    save_figure(fig, out / "comparison.png")
    # line profile: the image row that crosses the most edges of the segmentation
    row = int(np.argmax(np.abs(np.diff(segmentation.astype(int), axis=1)).sum(axis=1)))
    fig, ax = plt.subplots(figsize=(8, 4))
    g = next(iter(recs.values())).geometry
    x = g.pixel_coords
    ax.plot(x, reference[row], "k", lw=2, label="reference")
    for name in names:
        ax.plot(x, recs[name].image[row], lw=1, label=name)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("μ (1/mm)")
    ax.set_title(f"profile along image row {row} (y = {x[::-1][row]:.1f} mm)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, out / "profile.png")


def compare_files(scan_path: PathLike, out: PathLike, model_paths: Sequence[PathLike] = (),
                  reference: Optional[PathLike] = None, segmentation: Optional[PathLike] = None,
                  geometry: Optional[PathLike] = None, views: Optional[int] = None,
                  angles: Optional[tuple[float, float]] = None, force: bool = False) -> dict[str, Any]:
    """Run :func:`compare_scan` on a file and write the report folder ``out`` (see the module docstring)."""
    from ..io import read_scan
    from .report import plot_filter

    out = Path(out)
    for name in OUTPUTS:
        check_writable(out / name, force)
    models = [load_model(p) for p in model_paths]
    scan = read_scan(scan_path, geometry=geometry)
    if scan.n_slices > 1:
        raise ValueError(f"{scan_path}: compare works on one slice; this scan has {scan.n_slices}")
    grid = models[0].geometry if models and models[0].output_kind == "image" else scan.geometry
    ref = load_reference(reference, grid) if reference is not None else None
    seg = load_reference(segmentation, grid) if segmentation is not None else None
    scores, recs, context = compare_scan(scan, models, ref, seg, views, angles, grid)
    reference_image = context.pop("reference_image")
    segmentation_image = context.pop("segmentation_image")
    out.mkdir(parents=True, exist_ok=True)
    _figures(out, recs, reference_image, segmentation_image, scores, force)
    for k, model in enumerate(models):
        plot_filter(model, out / f"filter_{k + 1}.png")
    result = {"scan": str(scan_path), "models": [str(p) for p in model_paths], "reference": str(reference or ""),
              "segmentation": str(segmentation or ""), **context, "scores": scores}
    with atomic_output(out / "metrics.json", force) as tmp:
        tmp.write_text(json.dumps(result, indent=2))
    report = _format_report(scores, context, f"Comparison on {Path(scan_path).name}")
    with atomic_output(out / "report.md", force) as tmp:
        tmp.write_text(report)
    result["report"] = report
    return result
