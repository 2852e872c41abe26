"""Unrolled networks on held-out simulations (issue 23): the numbers recipes are chosen by, never the real scans.

**Arcs** (``--arc-runs``): every model of many arcs is applied to the held-out files' scans cut to each HTC2022
level's arc (90°…30°) at a start that changes from sample to sample, beside its analytic start (view completion +
FBP, the untrained network) and, with ``--tv``, TV with λ tuned per level on the model's training data (the λ
``recon benchmark htc2022`` uses, cached beside the run). Score per level: 3 × the mean Matthews correlation of the
organisers' segmentation procedure (``recon.evaluation.htc2022.segment``) with the phantom's segmentation (the
HTC2022 score's simulated twin) and the RMSE inside the field of view.

**Sparse views** (``--sparse-runs``): models of a set of views against the full-view FBP of the held-out scans
(how the organisers' reference is made), PSNR / SSIM inside the field of view, beside the view-interpolated FBP
start and, with ``--tv``, TV with λ tuned on the model's training data.

    python research/unrolled_study.py --data heldout.h5 shifted.h5 --arc-runs runs/arcs [--sparse-runs runs/s60]
        [--n 14] [--tv] [--out study.json]

Writes a Markdown table per file and task to stdout and everything to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from recon.analytic.arcs import cut_arc
from recon.evaluation.baselines import tv_arc_baseline, tv_training_baseline
from recon.evaluation.htc2022 import LEVELS, segment
from recon.evaluation.quality import matthews_correlation
from recon.metrics import field_of_view, psnr, rmse, ssim
from recon.models import load_model
from recon.simulation.dataset import load_samples


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    with torch.no_grad():
        out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def arc_scores(run: Path, data: Path, n: int, tv: bool) -> dict:
    """Per level and method: score (3 × mean MCC), RMSE inside the field of view (1/mm), seconds per image."""
    model = load_model(run).eval()
    samples = load_samples(data, "images", None, max_samples=n)
    full, fov = samples.geometry, field_of_view(samples.geometry.image_size)
    out: dict = {}
    for level, arc in LEVELS.items():
        if not model.arcs[0] - 1e-6 <= arc <= model.arcs[1] + 1e-6:
            continue
        tuned = tv_arc_baseline(model, arc) if tv else None
        rows: dict = {}
        for i in range(n):
            sino, g = cut_arc(samples.inputs[i], full, math.radians(arc), math.radians((i * 53.5 + arc) % 360))
            bound = model.for_geometry(g)
            truth = samples.targets[i].numpy()
            images = {"model": _timed(bound, sino)}
            start, seconds = _timed(model.recipe.reconstruct, sino, g.replace(image_size=full.image_size,
                                                                              pixel_size=full.pixel_size))
            images["analytic start (view completion + FBP)"] = (start, seconds)
            if tuned is not None:
                images[f"TV (λ {tuned.lam:g})"] = _timed(tuned.reconstruct, sino.float(), g)
            for name, (image, seconds) in images.items():
                x = image.numpy()
                r = rows.setdefault(name, {"mcc": [], "rmse": [], "seconds": []})
                r["mcc"].append(matthews_correlation(segment(x), truth > 0.5 * truth.max()))
                r["rmse"].append(rmse(x, truth, mask=fov))
                r["seconds"].append(seconds)
        out[arc] = {k: {"score": 3 * float(np.mean(v["mcc"])), "rmse": float(np.mean(v["rmse"])),
                        "seconds": float(np.mean(v["seconds"]))} for k, v in rows.items()}
    return out


def sparse_scores(run: Path, data: Path, n: int, tv: bool) -> dict:
    """Per method: PSNR / SSIM inside the field of view against the full-view FBP, seconds per image."""
    model = load_model(run).eval()
    samples = load_samples(data, "full_view_fbp", model.geometry.n_views, max_samples=n)
    g, fov = model.geometry, field_of_view(model.geometry.image_size)
    images = {"model": _timed(model, samples.inputs),
              "analytic start (" + model.recipe.describe() + ")": _timed(model.recipe.reconstruct, samples.inputs, g)}
    tuned = tv_training_baseline(model) if tv else None
    if tuned is not None:
        images[f"TV (λ {tuned.lam:g})"] = _timed(tuned.reconstruct, samples.inputs.float(), g)
    return {name: {"psnr": float(torch.as_tensor(psnr(x, samples.targets, mask=fov)).mean()),
                   "ssim": float(torch.as_tensor(ssim(x, samples.targets, mask=fov)).mean()), "seconds": s / n}
            for name, (x, s) in images.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--arc-runs", type=Path, nargs="*", default=[])
    parser.add_argument("--sparse-runs", type=Path, nargs="*", default=[])
    parser.add_argument("--n", type=int, default=14)
    parser.add_argument("--tv", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    record: dict = {}
    for data in args.data:
        for run in args.arc_runs:
            scores = arc_scores(run, data, args.n, args.tv)
            record[f"{data.name} {run}"] = scores
            names = list(next(iter(scores.values())))
            print(f"\n{data.name}, {run}: score per level (3 × mean MCC, {args.n} scans) / RMSE in the FOV\n")
            print("| method | " + " | ".join(f"{a}°" for a in scores) + " | total | s/image |")
            print("|---|" + "---|" * (len(scores) + 2))
            for name in names:
                cells = " | ".join(f"{scores[a][name]['score']:.3f} / {scores[a][name]['rmse']:.4f}" for a in scores)
                total = sum(scores[a][name]["score"] for a in scores)
                secs = np.mean([scores[a][name]["seconds"] for a in scores])
                print(f"| {name} | {cells} | {total:.2f} | {secs:.2f} |")
        for run in args.sparse_runs:
            scores = sparse_scores(run, data, args.n, args.tv)
            record[f"{data.name} {run}"] = scores
            print(f"\n{data.name}, {run}: against the full-view FBP inside the field of view ({args.n} scans)\n")
            print("| method | PSNR (dB) | SSIM | s/image |\n|---|---|---|---|")
            for name, s in scores.items():
                print(f"| {name} | {s['psnr']:.2f} | {s['ssim']:.4f} | {s['seconds']:.3f} |")
    if args.out:
        args.out.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
