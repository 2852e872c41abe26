"""Sparse-view fan beam on the five real HTC2022 phantoms: learned models trained only on simulations
against analytic FBP (Ram-Lak, tuned window, oracle window), rebinning + FBP and view-interpolated FBP.

1. Simulate discs with holes in the HTC2022 geometry (all 720 views, photon count estimated from the air
   of the bundled scan) — once, shared by every run.
2. For each view count (default 60 and 90): train the learned FBP with one shared filter and the learned
   FBP with 6× angular upsampling and a 2-D view-circulant filter (least-squares start, then Adam with
   MSE + 0.01 SSIM), both against the full-view-FBP target (how the real reference is made).
3. ``recon compare`` on every phantom (``ta tb tc td solid_disc`` from ``--data``, with the organisers'
   full-data FBP as reference and their segmentation), then one table per view count with every phantom
   and the mean: ``<out>/report.md``.

    python research/sparse_view_study.py --out sparse_study [--data ../shared/data/htc2022-training]
        [--views 60 90] [--n-train 400] [--quick]

About 20–30 minutes on 2 CPU cores with the defaults (``--quick``: ~5 minutes, fewer samples/epochs).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from recon.app.bundled import HTC_SCAN, bundled_file
from recon.app.compare import compare_files
from recon.app.demo import GRID_PIXEL, GRID_SIZE, demo_simulation_config, demo_training_config
from recon.io import read_htc_mat
from recon.simulation.noise import estimate_i0
from recon.simulation.simulate import simulate_to_file
from recon.training.config import parse_train_config
from recon.training.loop import train

PHANTOMS = ("ta", "tb", "tc", "td", "solid_disc")
COLUMNS = (("psnr", "PSNR (dB)", "{:.2f}"), ("ssim", "SSIM", "{:.3f}"), ("edge_rise_mm", "edge (mm)", "{:.3f}"),
           ("segmentation_mcc", "MCC", "{:.3f}"))


def short_name(method_id: str, label: str) -> str:
    """A method's label without the per-scan details in brackets (oracle windows differ per phantom)."""
    return label if method_id.startswith("model_") else label.split(" (")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" /
                        "htc2022-training", help="folder with htc2022_<name>_full*.mat")
    parser.add_argument("--views", type=int, nargs="+", default=[60, 90])
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lstsq-samples", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="100 samples, 1 epoch, 12 least-squares samples")
    args = parser.parse_args()
    if args.quick:
        args.n_train, args.epochs, args.lstsq_samples = 100, 1, 12
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    scan = read_htc_mat(bundled_file(HTC_SCAN), image_size=GRID_SIZE, pixel_size=GRID_PIXEL)
    i0 = estimate_i0(scan.sinogram) or 1e5
    data = out / "train.h5"
    if not data.is_file():
        (out / "simulation.toml").write_text(demo_simulation_config(scan.geometry, args.n_train, i0))
        simulate_to_file(out / "simulation.toml", data)
    print(f"simulation ready ({time.perf_counter() - t0:.0f} s)", flush=True)
    results: dict = {}
    for views in args.views:
        runs = []
        for model in ("filter", "upsampled"):
            run = out / f"run_{model}_{views}"
            if not (run / "model.pt").is_file():
                cfg = parse_train_config(demo_training_config(model, views, args.epochs, args.lstsq_samples),
                                         f"{model} at {views} views", out)
                train(cfg, run, data=data, force=True, progress=False)
            runs.append(run / "model.pt")
            print(f"{views} views: trained {model} ({time.perf_counter() - t0:.0f} s)", flush=True)
        scans = [args.data / f"htc2022_{name}_full.mat" for name in PHANTOMS]
        result = compare_files(scans, out / f"compare_{views}", runs, reference=str(args.data / "{stem}_recon_fbp.mat"),
                               segmentation=str(args.data / "{stem}_recon_fbp_seg.mat"), views=views, force=True)
        for name, r in zip(PHANTOMS, result["scans"]):
            results.setdefault(views, {})[name] = {short_name(i, r["methods"][i]["label"]): v
                                                   for i, v in r["scores"].items()}
        print(f"{views} views: compared on {len(scans)} phantoms ({time.perf_counter() - t0:.0f} s)", flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    lines = ["# Sparse-view study on the real HTC2022 phantoms", "",
             f"Training: {args.n_train} simulated discs with holes (720 views, I0 = {i0:.3g}), target = FBP of all "
             f"720 simulated views; reference = organisers' full-data FBP; {time.perf_counter() - t0:.0f} s.", ""]
    for views, per_phantom in results.items():
        methods = list(next(iter(per_phantom.values())))
        lines += [f"## {views} views of 720", "", "PSNR / SSIM / edge 10–90 % (mm) / segmentation MCC (Otsu)", "",
                  "| method | " + " | ".join(per_phantom) + " | mean |", "|---|" + "---|" * (len(per_phantom) + 1)]
        for m in methods:
            cells, sums = [], {c[0]: 0.0 for c in COLUMNS}
            for name in per_phantom:
                s = per_phantom[name][m]
                cells.append(" / ".join(fmt.format(s[key]) for key, _, fmt in COLUMNS))
                for key, _, _ in COLUMNS:
                    sums[key] += s[key] / len(per_phantom)
            mean = " / ".join(fmt.format(sums[key]) for key, _, fmt in COLUMNS)
            lines.append(f"| {m} | " + " | ".join(cells) + f" | **{mean}** |")
        lines.append("")
    (out / "report.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
