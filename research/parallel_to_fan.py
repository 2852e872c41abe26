"""Parallel → fan conversion, the seed paper's experiment (Syben et al., GCPR 2018), against interpolation
rebinning and TV — on simulations and on the real HTC2022 scans.

1. Simulated ablation (``configs/parallel_htc_to_fan.toml``): 180 parallel views over 180°, rebinned from a
   noisy 720-view HTC2022 fan scan (I0 = 6e4), converted to that fan geometry (720 views over 360°). Each
   network of ABLATION is scored by ``recon evaluate`` against interpolation rebinning (sinogram error
   against the exact fan sinogram, then fan FBP with a window tuned per method on a quarter of the test
   file); TV from the parallel data (λ tuned there too) for scale.
2. Real data: each of the five HTC2022 training phantoms' measured 720-view fan scan is rebinned to 180
   parallel views over 180° (the parallel input), converted back to the measured fan geometry by the
   networks of REAL_MODELS and by rebinning, and scored against the **measured** fan views (relative L2 over
   the lines the parallel data contain) and, after fan FBP (windows tuned on the simulated training data), the
   image against the organisers' full-data FBP (PSNR, SSIM, edge 10–90 %, HTC2022 segmentation MCC, data
   consistency with the measured views); TV straight from the parallel data (λ tuned on the training data,
   scaled to the finer grid) and FBP of the measured fan scan itself for scale.

Everything goes to ``--out``; finished steps are reused. ``summary.md`` holds the tables.

    python research/parallel_to_fan.py --out p2f [--n-train 600] [--n-test 100] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image

import recon
from known_operator_targets import ROOT, dataset, run, run_name, scored
from recon.analytic.rebinning import Rebinning, field_of_view_radius, rebin_coverage
from recon.analytic.tv import TunedTV
from recon.evaluation.baselines import conversion_windows
from recon.evaluation.evaluate import evaluate
from recon.evaluation.quality import otsu_threshold
from recon.evaluation.report import format_table
from recon.evaluation.scores import scan_scores
from recon.geometry import geometry_differences
from recon.io.references import load_reference
from recon.metrics import psnr
from recon.models import build_model, load_model, save_model
from recon.simulation.dataset import SimulatedDataset
from recon.simulation.noise import poisson_noise
from recon.simulation.phantoms import make_phantom
from recon.simulation.shapes import ray_transform
from recon.simulation.simulate import load_config
from recon.training.config import parse_train_config

DATA = "parallel_htc_to_fan.toml"

RUN = """
[data]
val_fraction = 0.1
[model]
type = "parallel_to_fan"
filter = "ram-lak"
{model}
[training]
epochs = {epochs}
batch_size = 4
lr = {lr}
"""

# (name, [model] lines, epochs (0: the untrained analytic network), learning rate)
ABLATION = (
    ("×2 views, Ram-Lak (untrained)", "factor = 2", 0, 0.0),
    ("×2 views, learned 2-D filter", "factor = 2", 4, 5e-3),
    ("plain, Ram-Lak (untrained)", "", 0, 0.0),
    ("plain, learned filter + weights", 'learn = "filter+weights"\nfilter_basis = 64\nweight_basis = [12, 16]', 4,
     2e-2),
    ("×4 views, Ram-Lak (untrained)", "factor = 4", 0, 0.0),
    ("plain, grid 0.297 mm (2× the pitch), Ram-Lak (untrained)", "grid_pixel = 0.2966446", 0, 0.0),
)
REAL_MODELS = ("plain, learned filter + weights", "×2 views, learned 2-D filter")
TV_ENTRY = "×2 views, Ram-Lak (untrained)"  # the evaluation that also runs TV (the same for every entry)
PHANTOMS = ("ta", "tb", "tc", "td", "solid_disc")
TV_NAME = "TV from the parallel data"


def network(name: str, lines: str, epochs: int, lr: float, train_h5: Path, out: Path) -> tuple[Path, float]:
    """The run folder of an ablation entry (trained, or the analytic network saved untrained) and its
    training time (s)."""
    run_dir = out / run_name("p2f_", name)
    text = RUN.format(model=lines, epochs=max(epochs, 1), lr=lr or 5e-3)  # grid: the isocentre pitch
    if epochs == 0:
        if not (run_dir / "model.pt").exists():
            run_dir.mkdir(parents=True, exist_ok=True)
            data = SimulatedDataset(train_h5, keys=("sinograms",))
            save_model(build_model(parse_train_config(text, str(run_dir)).model, data.geometry, data.target_geometry),
                       run_dir / "model.pt")
        return run_dir, 0.0
    return run_dir, float(run(text, train_h5, run_dir)["train_seconds"])


def ablation(out: Path, train_h5: Path, test_h5: Path, args: argparse.Namespace) -> tuple[list[str], dict]:
    rows, labels, seconds, runs = {}, {}, {}, {}
    for name, lines, epochs, lr in ABLATION:
        run_dir, seconds[name] = network(name, lines, epochs, lr, train_h5, out)
        runs[name] = run_dir
        if not (run_dir / "evaluation.json").exists():
            evaluate(run_dir / "model.pt", test_h5, out=run_dir, tv=name == TV_ENTRY)
        report = scored(run_dir, test_h5)
        for method_id, scores in report["results"].items():
            label = report["methods"][method_id]["label"]
            key = {"model_1": run_name("", name)}.get(method_id, method_id)
            if method_id == "model_1":
                label = f"{name} + FBP ({label.split('FBP (')[1]}"
            labels.setdefault(key, label)
            rows.setdefault(key, scores)
        print(report["table"], flush=True)
    trained = ", ".join(f"{k}: {v:.0f} s" for k, v in seconds.items() if v)
    lines = ["## Simulated test set", "",
             f"{args.n_train} training phantoms, {args.n_test} test phantoms (a quarter of them tune each method's "
             "fan-FBP window and TV's λ); sinogram error: relative L2 to the exact fan sinogram. "
             f"Training ({train_h5.name}, 2 CPU cores): {trained}.", "", format_table(rows, labels), ""]
    return lines, runs


def parallel_input(scan: recon.Scan, model) -> tuple[torch.Tensor, recon.Geometry]:
    """The real parallel sinogram: the measured fan scan rebinned to the network's source geometry."""
    diffs = geometry_differences(model.output_geometry, scan.geometry, ignore=("image_size", "pixel_size"))
    if diffs:
        raise ValueError(f"the network converts to another fan geometry than the scan's: {diffs}")
    fan = torch.from_numpy(scan.sinogram.astype(np.float64))
    return Rebinning(scan.geometry, model.geometry, dtype=torch.float64)(fan), model.geometry


def heldout_errors(scan: recon.Scan, par_geom: recon.Geometry, rebinning: Rebinning, covered: torch.Tensor,
                   models: dict) -> dict[str, float]:
    """Sinogram error against measured views the input never saw: the parallel data rebinned from the even
    fan views only, each conversion scored on the odd views (whose noise is independent of the input)."""
    g, measured = scan.geometry, torch.from_numpy(scan.sinogram.astype(np.float64))
    even = g.replace(angles=g.angles[0::2])
    par = Rebinning(even, par_geom, dtype=torch.float64)(measured[0::2])
    with torch.no_grad():
        out = {"rebinning": rebinning(par),
               **{name: m(par) for name, m in models.items()}}
    target = measured[1::2][covered[1::2]]
    return {name: float((p[1::2][covered[1::2]] - target).norm() / target.norm()) for name, p in out.items()}


def real_study(out: Path, runs: dict, args: argparse.Namespace) -> list[str]:
    models = {name: load_model(runs[name] / "model.pt").double().eval() for name in REAL_MODELS}
    first = next(iter(models.values()))
    windows = {name: conversion_windows(m) for name, m in models.items()}
    tv = TunedTV.from_dict(json.loads((runs[TV_ENTRY] / "evaluation.json").read_text())["methods"]["tv"]["params"])
    per: dict[str, dict[str, dict]] = {}
    for phantom in PHANTOMS:
        stem = args.htc / f"htc2022_{phantom}_full"
        scan = recon.read_scan(f"{stem}.mat")
        g = scan.geometry  # the measured fan scan, on the organisers' 512² × 0.148 mm grid
        reference = load_reference(f"{stem}_recon_fbp.mat", g)
        seg = load_reference(f"{stem}_recon_fbp_seg.mat", g) > 0.5
        measured = scan.sinogram.astype(np.float64)
        par, par_geom = parallel_input(scan, first)
        covered = torch.from_numpy(rebin_coverage(par_geom, g))
        rebinning = Rebinning(par_geom, g, dtype=torch.float64)
        converted, timing = {}, {}
        start = time.perf_counter()
        converted["rebinning"] = rebinning(par)
        timing["rebinning"] = time.perf_counter() - start
        for name, m in models.items():
            start = time.perf_counter()
            with torch.no_grad():
                converted[name] = m(par)
            timing[name] = time.perf_counter() - start
        heldout = heldout_errors(scan, par_geom, rebinning, covered, models)
        scores: dict[str, dict] = {}
        for name, p in converted.items():
            window = (windows[REAL_MODELS[0]]["rebin_fbp"] if name == "rebinning" else windows[name]["model"])
            start = time.perf_counter()
            image = window.recipe.reconstruct(p, g).numpy()
            elapsed = timing[name] + time.perf_counter() - start
            err = (p - torch.from_numpy(measured))[covered].norm() / torch.from_numpy(measured)[covered].norm()
            scores[name] = {"sinogram_rel_l2": float(err), "sinogram_rel_l2_heldout": heldout[name],
                            **scan_scores(image, reference, seg, measured, g, True),
                            "seconds": elapsed, "window": window.describe()}
        grid_par = par_geom.replace(image_size=g.image_size, pixel_size=g.pixel_size)
        lam = tv.lam * g.pixel_size / args.train_pixel  # TV sums pixel differences: λ scales with the pixel
        start = time.perf_counter()
        image = recon.tv_reconstruct(par.float(), grid_par, lam, tv.n_iter).double().numpy()
        scores[TV_NAME] = {**scan_scores(image, reference, seg, measured, g, True),
                           "seconds": time.perf_counter() - start, "window": f"λ {lam:g}, {tv.n_iter} iterations"}
        image = recon.fbp(measured, g, "hann", 1.0)
        scores["measured fan scan, FBP (for scale)"] = {**scan_scores(image, reference, seg, measured, g, True),
                                                         "seconds": float("nan"), "window": "hann 1"}
        per[phantom] = scores
        print(phantom, {k: round(v["psnr"], 2) for k, v in scores.items()}, flush=True)
    (out / "real.json").write_text(json.dumps(per, indent=2))
    return real_tables(per)


def protocol_check(out: Path, runs: dict, test_h5: Path, n: int = 40) -> list[str]:
    """The real-data protocol on simulations: score the conversions of the first ``n`` test samples against the
    *noisy* fan scan the parallel data were rebinned from (as the real study must) and against the exact fan
    sinogram, and their fan FBP against the FBP of that noisy scan and against the phantom."""
    cfg = load_config(ROOT / "configs" / DATA)
    data = SimulatedDataset(test_h5, keys=("sinograms", "target_sinograms", "images"))
    model = load_model(runs[REAL_MODELS[1]] / "model.pt").double().eval()
    windows = conversion_windows(model)
    with h5py.File(test_h5, "r") as f:
        seed = int(f.attrs["seed"])
    grid = cfg.acquisition.replace(image_size=data.geometry.image_size, pixel_size=data.geometry.pixel_size)
    rebinning = Rebinning(data.geometry, cfg.acquisition, dtype=torch.float64)
    covered = torch.from_numpy(rebin_coverage(data.geometry, cfg.acquisition))
    sums: dict[str, dict[str, list]] = {"rebinning": {}, "network": {}}
    for i in range(n):
        par, clean_t, truth = (x.double() for x in data[i])
        phantom_seq, noise_seq = np.random.SeedSequence([seed, i]).spawn(2)
        phantom = make_phantom(cfg.family, np.random.default_rng(phantom_seq), **cfg.phantom_params)
        clean = ray_transform(phantom, cfg.acquisition, det_supersample=cfg.det_supersample)
        noisy = torch.from_numpy(poisson_noise(clean, cfg.i0, np.random.default_rng(noise_seq), cfg.electronic_sigma,
                                               cfg.min_counts))
        reference = recon.fbp(noisy, grid, "hann", 1.0).numpy()
        with torch.no_grad():
            converted = {"rebinning": rebinning(par), "network": model(par)}
        for name, p in converted.items():
            window = windows["rebin_fbp" if name == "rebinning" else "model"]
            image = window.recipe.reconstruct(p, grid).numpy()
            for key, value in (("vs noisy scan", ((p - noisy)[covered].norm() / noisy[covered].norm()).item()),
                               ("vs exact", ((p - clean_t)[covered].norm() / clean_t[covered].norm()).item()),
                               ("PSNR vs FBP of the noisy scan", float(psnr(image, reference))),
                               ("PSNR vs phantom", float(psnr(image, truth.numpy())))):
                sums[name].setdefault(key, []).append(value)
    keys = list(sums["rebinning"])
    lines = ["## The real-data protocol on simulations", "",
             f"The first {n} test phantoms scored as the real scans must be — against the noisy fan scan the "
             "parallel data were rebinned from, and the image against that scan's FBP (hann) — and against the "
             "exact fan sinogram and the phantom:", "",
             "| conversion | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, v in sums.items():
        lines.append(f"| {name} | " + " | ".join(f"{np.mean(v[k]):.4f}" if k.startswith("vs") else
                                                f"{np.mean(v[k]):.2f}" for k in keys) + " |")
    (out / "protocol.json").write_text(json.dumps({k: {m: float(np.mean(x)) for m, x in v.items()}
                                                   for k, v in sums.items()}, indent=2))
    return lines + [""]


def tooth_study(out: Path, path: Path, center: float = 296.0) -> list[str]:
    """The real synchrotron parallel scan (181 views over 180°, pixel units, rotation centre at ``center``): the
    detector cropped symmetric about the axis (a centred half turn), converted by rebinning and by the untrained
    ×2 known-operator network (no model of this geometry is trained) to a fan beam of the same isocentre pitch
    (720 views over 360°, magnification 1.25), reconstructed by fan FBP and compared with the parallel FBP of
    the measured data."""
    scan = recon.read_scan(path, rows=0, center=center)
    half = int(min(center, scan.geometry.n_det - 1 - center))
    first = int(round(center)) - half
    sino = torch.from_numpy(scan.sinogram[:, first:first + 2 * half + 1].astype(np.float64))
    par = recon.ParallelBeam(scan.geometry.angles, 2 * half + 1, 1.0, 2 * half + 1, 1.0)
    fan = recon.FanBeam(np.linspace(0, 2 * np.pi, 720, endpoint=False), int(1.25 * (2 * half + 1)) + 40, 1.25,
                        par.image_size, 1.0, sod=1500.0, sdd=1875.0, detector="flat")
    reference = recon.fbp(sino, par, "hann", 1.0).numpy()
    xy = par.pixel_coords
    disc = np.hypot(xy[None, :], xy[::-1, None]) < min(field_of_view_radius(par), field_of_view_radius(fan)) - 2
    seg = (reference > otsu_threshold(reference[disc])) & disc
    network = recon.ParallelToFan(par, fan, factor=2, dtype=torch.float64).eval()
    rows, images = {}, {}
    for name, convert in (("rebinning", Rebinning(par, fan, dtype=torch.float64)), ("×2 network, untrained", network)):
        start = time.perf_counter()
        with torch.no_grad():
            p = convert(sino)
        image = recon.fbp(p, fan, "hann", 1.0).numpy() * disc
        elapsed = time.perf_counter() - start
        rows[name] = {**scan_scores(image, reference * disc, seg, sino.numpy(), par, False), "seconds": elapsed}
        images[name] = image
    figure = np.concatenate([reference * disc, *images.values()], axis=1)
    scaled = np.clip(figure / np.percentile(figure, 99.5), 0, 1) * 255
    Image.fromarray(scaled.astype(np.uint8)).save(out / "tooth.png")
    (out / "tooth.json").write_text(json.dumps(rows, indent=2))
    lines = ["## Real parallel scan: the tooth (TomoPy sample data)", "",
             f"181 views over 180°, detector cropped to {2 * half + 1} columns about the rotation centre (column "
             f"{center:g}), pixel units; converted to a flat fan beam (720 views over 360°, magnification 1.25, "
             "isocentre pitch 1 px), fan FBP (hann) against the parallel FBP (hann) of the measured data, inside "
             "the field of view; data consistency against the measured parallel sinogram.", "",
             "| conversion | PSNR (dB) | SSIM | edge 10–90 % (px) | ‖Ax−p‖/‖p‖ | time (s) |",
             "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r['edge_rise_mm']:.2f} | "
                     f"{r['data_consistency']:.4f} | {r['seconds']:.2f} |")
    return lines + [""]


def real_tables(per: dict[str, dict[str, dict]]) -> list[str]:
    methods = list(next(iter(per.values())))
    cols = (("sinogram_rel_l2", "{:.4f}"), ("sinogram_rel_l2_heldout", "{:.4f}"), ("psnr", "{:.2f}"),
            ("ssim", "{:.3f}"), ("edge_rise_mm", "{:.3f}"),
            ("segmentation_mcc", "{:.3f}"))
    lines = ["## Real HTC2022 phantoms", "",
             "Parallel input: each measured 720-view fan scan rebinned to 180 parallel views over 180°. Output: the "
             "measured 720-view fan geometry. Sinogram error: relative L2 to the **measured** fan views (the lines "
             "the parallel data contain; includes the measurement noise, correlated with the input's); "
             "held-out: the parallel data made from the even fan views only, the error on the odd views (noise "
             "independent of the input); image: fan FBP of the converted sinogram "
             "(window tuned on the simulated training data) against the organisers' full-data FBP; MCC of the "
             "HTC2022 segmentation against theirs.", ""]
    for key, fmt in cols:
        lines += [f"**{key}**", "", "| method | " + " | ".join(per) + " | mean |", "|---|" + "---|" * (len(per) + 1)]
        for m in methods:
            if key not in per[PHANTOMS[0]][m]:
                continue
            vals = [per[p][m][key] for p in per]
            cells = " | ".join(fmt.format(v) for v in vals)
            lines.append(f"| {m} | {cells} | **{fmt.format(np.mean(vals))}** |")
        lines.append("")
    lines += ["Time per scan (s): " + ", ".join(f"{m} {np.mean([per[p][m]['seconds'] for p in per]):.2f}"
                                                 for m in methods if m != methods[-1]) + ".", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("p2f"), help="output folder (finished steps are reused)")
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="120 training / 24 test samples")
    parser.add_argument("--htc", type=Path, default=ROOT.parent / "shared" / "data" / "htc2022-training",
                        help="folder with the real htc2022_<name>_full*.mat scans (skipped if missing)")
    parser.add_argument("--tooth", type=Path, default=ROOT.parent / "shared" / "data" / "tooth" / "tooth.h5",
                        help="the real parallel scan (skipped if missing)")
    args = parser.parse_args()
    if args.quick:
        args.n_train, args.n_test = 120, 24
    args.out.mkdir(parents=True, exist_ok=True)
    train_h5 = dataset(DATA, args.out, args.n_train, seed=0)
    test_h5 = dataset(DATA, args.out, args.n_test, seed=1)
    args.train_pixel = SimulatedDataset(train_h5, keys=("sinograms",)).geometry.pixel_size
    lines = ["# Parallel → fan conversion against interpolation rebinning", ""]
    table, runs = ablation(args.out, train_h5, test_h5, args)
    lines += table
    if args.htc.is_dir():
        lines += real_study(args.out, runs, args)
        lines += protocol_check(args.out, runs, test_h5)
    if args.tooth.is_file():
        lines += tooth_study(args.out, args.tooth)
    (args.out / "summary.md").write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {args.out / 'summary.md'}")


if __name__ == "__main__":
    main()
