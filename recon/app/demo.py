"""``recon demo``: the whole product on the bundled real scan, in a few minutes on a laptop CPU.

1. Read the bundled HTC2022 fan-beam scan (720 views) and estimate its photon count from the noise in air.
2. Simulate training phantoms (acrylic discs with holes) with exact analytic line integrals and Poisson
   noise at that photon count, in the scan's full 720-view geometry.
3. Train two known-operator models on a sparse-view subset (default 60 views), against the simulated
   equivalent of the real reference (FBP of all 720 simulated views): learned FBP with one shared filter,
   and the learned FBP with 6× angular upsampling and a 2-D view-circulant filter (least-squares start,
   then Adam with MSE + SSIM). Both start from analytic FBP.
4. Reconstruct the real scan from the sparse views and compare against analytic FBP (Ram-Lak, the window
   tuned on the training data, the window tuned on the reference itself), rebinning + FBP and
   view-interpolated FBP, against the organisers' full-data (720-view) reconstruction and segmentation:
   ``<out>/report/report.md``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..io import read_htc_mat
from ..io.atomic import atomic_output, check_writable
from ..simulation.noise import estimate_i0
from ..simulation.simulate import simulate_to_file
from ..training.config import parse_train_config
from ..training.loop import train
from .._logging import logger
from .bundled import HTC_REFERENCE, HTC_SCAN, HTC_SEGMENTATION, bundled_file
from .compare import compare_files

__all__ = ["run_demo", "demo_simulation_config", "demo_training_config"]

# the demo grid: 256² pixels of 2 × the organisers' 0.148322 mm pixel (their 75.9 mm field of view)
GRID_SIZE = 256
GRID_PIXEL = 0.2966446346660888


def demo_simulation_config(geometry, n: int, i0: float, seed: int = 0) -> str:
    """TOML text of the demo's training simulation: discs with holes in ``geometry``."""
    angles = ", ".join(repr(float(a)) for a in geometry.angles)
    return f"""[simulation]
n = {n}
seed = {seed}
det_supersample = 3

[phantom]
family = "disc_with_holes"
radius = 35.0
mu = 0.041

[noise]
i0 = {i0:.6g}

[geometry]
type = "fan"
detector = "{geometry.detector}"
n_det = {geometry.n_det}
det_spacing = {geometry.det_spacing!r}
det_offset = {geometry.det_offset!r}
image_size = {geometry.image_size}
pixel_size = {geometry.pixel_size!r}
sod = {geometry.sod!r}
sdd = {geometry.sdd!r}
angles = [{angles}]
"""


def demo_training_config(model: str, views: int, epochs: int, lstsq_samples: int = 16) -> str:
    """TOML text of one of the demo's training runs: ``model`` is ``"filter"`` (learned FBP, one shared
    filter) or ``"upsampled"`` (6× angular upsampling, 2-D filter, least-squares start, MSE + SSIM)."""
    if model == "filter":
        model_table = 'type = "learned_fbp"\nfilter = "ram-lak"\nlearn = "filter"\nfilter_basis = 64'
        training = f'batch_size = 16\nlr = 2e-3\ninit = "lstsq"\nlstsq_samples = {4 * lstsq_samples}'
    elif model == "upsampled":
        model_table = 'type = "view_upsampled_fbp"\nfactor = 6\nfilter = "hamming"\ncutoff = 0.65'
        training = (f'batch_size = 4\nlr = 3e-3\nloss = "mse+ssim"\nssim_weight = 0.01\ninit = "lstsq"\n'
                    f'lstsq_samples = {lstsq_samples}')
    else:
        raise ValueError(f"unknown demo model {model!r}")
    return f"""[data]
views = {views}
target = "full_view_fbp"
val_fraction = 0.1

[model]
{model_table}

[training]
epochs = {epochs}
{training}
seed = 0
"""


def run_demo(out: str = "recon-demo", views: int = 60, n_train: int = 120, epochs: int = 4,
             force: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run the demo into the folder ``out`` (refusing to overwrite without ``force``); returns the
    comparison result (scores per method) and prints where the report is."""
    t0 = time.perf_counter()
    out_dir = Path(out)
    report_dir = out_dir / "report"
    for path in (out_dir / "simulation.toml", out_dir / "train.h5", report_dir / "report.md"):
        check_writable(path, force)
    scan_path = bundled_file(HTC_SCAN)
    scan = read_htc_mat(scan_path, image_size=GRID_SIZE, pixel_size=GRID_PIXEL)
    i0 = estimate_i0(scan.sinogram) or 1e5
    logger.info(f"[1/4] {scan_path.name}: {scan.n_views} views × {scan.n_det} detectors; estimated photon count "
                f"I0 ≈ {i0:.3g} per detector element (from the noise in air); using {views} views")
    out_dir.mkdir(parents=True, exist_ok=True)
    sim_config = out_dir / "simulation.toml"
    with atomic_output(sim_config, force) as tmp:
        tmp.write_text(demo_simulation_config(scan.geometry, n_train, i0))
    data = simulate_to_file(sim_config, out_dir / "train.h5", force=force)
    logger.info(f"[2/4] simulated {n_train} phantoms with analytic sinograms ({scan.n_views} views) → {data} "
                f"({time.perf_counter() - t0:.0f} s)")
    runs = []
    for model, what in (("filter", "learned FBP, shared filter"),
                        ("upsampled", "learned FBP, 6× angular upsampling + 2-D filter")):
        cfg = parse_train_config(demo_training_config(model, views, epochs, min(12, n_train - 1)),
                                 f"demo training config ({model})", out_dir)
        run = out_dir / f"run_{model}"
        train(cfg, run, data=data, force=True, progress=progress)
        runs.append(run / "model.pt")
        logger.info(f"[3/4] trained {what} → {run} ({time.perf_counter() - t0:.0f} s)")
    result = compare_files(scan_path, report_dir, runs, reference=bundled_file(HTC_REFERENCE),
                           segmentation=bundled_file(HTC_SEGMENTATION), views=views, force=force)
    logger.info(f"[4/4] compared on the real scan ({time.perf_counter() - t0:.0f} s)")
    print(result["report"].split("\n![")[0])
    print(f"\nreport: {report_dir / 'report.md'}  figures: {report_dir / 'comparison.png'}, "
          f"{report_dir / 'profile.png'}")
    return result
