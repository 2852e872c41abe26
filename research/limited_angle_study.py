"""Limited-angle study (issue 7): tuned analytic FBP vs learned redundancy weights + filter, per arc length.

Reproduces everything in docs/limited_angle.md::

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python research/limited_angle_study.py --out study_la
    python research/limited_angle_study.py --quick --out /tmp/la_quick     # smoke run, a few minutes

Steps, per arc length L (default 90°, 70°, 50°):

1. simulate HTC2022-like discs with holes (``configs/fan_htc.toml`` phantoms, I₀ = 6·10⁴ as estimated from the
   real scans' air, ``det_supersample = 3``) as *full* 720-view scans; the target of each is the simulated
   equivalent of the organisers' reference — Ram-Lak FBP of all 720 noisy views on 512² × 0.148 mm,
   block-averaged 2×2 to the 256² × 0.297 mm grid;
2. training samples are arcs of length L cut from those full scans at random start angles (multiples of the
   0.5° view step); each is backprojected with its own angles (:meth:`recon.LearnedFBP.for_geometry`);
3. the baseline: :func:`recon.analytic.recipe.tune_recipe` (window × cut-off × end taper × least-
   squares global scale) on training arcs;
4. the learned model starts from that baseline (:meth:`recon.LearnedFBP.from_recipe`): least-squares filter
   (hat basis), then Adam on per-element weights + filter (MSE + small SSIM term, ReLU output), then the
   least-squares filter again for the final weights; a smooth-basis variant (8×16 weights) as the
   "independent quick experiment" comparison;
5. evaluation on held-out simulated phantoms and on the five real HTC2022 phantoms (arcs cut from the full
   scans at several start angles), against the full-data reference (RMSE, PSNR, SSIM) and the true
   segmentation (Matthews correlation of the Otsu-thresholded image).

Writes ``report.md``, ``metrics.json``, figures (PNG) and the trained models (``model_<L>.pt``, with their
geometry) into ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # research/ is not installed: its helpers come from the checkout

from recon import LearnedFBP, fbp, read_scan  # noqa: E402
from recon.analytic.arcs import cut_arc  # noqa: E402
from recon.analytic.recipe import CUTOFFS, TAPERS, tune_recipe  # noqa: E402
from recon.analytic.views import complete_arc  # noqa: E402
from recon.evaluation.quality import segmentation_mcc  # noqa: E402
from recon.io.references import load_reference  # noqa: E402
from recon.metrics import psnr, rmse, ssim  # noqa: E402
from recon.models import save_model  # noqa: E402
from recon.simulation.simulate import parse_config, simulate_sample  # noqa: E402
from research.arc_training import ArcSample, fit_filter_on_arcs, train_on_arcs  # noqa: E402
HTC = Path(os.environ.get("HTC2022_DIR", "/work/shared/data/htc2022-training"))
PHANTOMS = ("ta", "tb", "tc", "td", "solid_disc")
STEP = math.radians(0.5)


# ---- data ------------------------------------------------------------------------------------------------------

def simulation_config(i0: float = 6e4):
    """configs/fan_htc.toml at the organisers' 512² × 0.148 mm grid (block-averaged to 256² later)."""
    text = (ROOT / "configs" / "fan_htc.toml").read_text()
    text = text.replace("i0 = 1e4", f"i0 = {i0:g}").replace("image_size = 256", "image_size = 512")
    text = text.replace("pixel_size = 0.296644", "pixel_size = 0.1483223")
    return parse_config(text, "fan_htc.toml (512², I0 6e4)")


def block2(x: np.ndarray) -> np.ndarray:
    n = x.shape[-1] // 2
    return x.reshape(*x.shape[:-2], n, 2, n, 2).mean(axis=(-3, -1))


def simulate(n: int, seed: int, cache: Path | None = None):
    """``n`` full scans: (noisy sinograms [n, 720, 560] float32, targets [n, 256, 256] (full-data Ram-Lak FBP,
    block-averaged), phantom images [n, 256, 256], full geometry at 256²)."""
    cfg = simulation_config()
    g512 = cfg.geometry
    g256 = g512.replace(image_size=256, pixel_size=2 * g512.pixel_size)
    if cache is not None and cache.is_file():
        d = np.load(cache)
        if d["sinograms"].shape[0] >= n:
            return d["sinograms"][:n], d["targets"][:n], d["phantoms"][:n], g256
    sinos = np.empty((n, g512.n_views, g512.n_det), np.float32)
    targets = np.empty((n, 256, 256), np.float32)
    phantoms = np.empty((n, 256, 256), np.float32)
    for i in range(n):
        s = simulate_sample(cfg, i, seed=seed)
        sinos[i] = s["sinograms"]
        targets[i] = block2(fbp(s["sinograms"], g512, "ram-lak", warn=False))
        phantoms[i] = block2(s["images"])
    if cache is not None:
        np.savez(cache, sinograms=sinos, targets=targets, phantoms=phantoms)
    return sinos, targets, phantoms, g256


def real_data(grid):
    """The five real phantoms: {name: (sinogram [720, 560], geometry at the study grid, reference, segmentation)}."""
    out = {}
    for name in PHANTOMS:
        scan = read_scan(HTC / f"htc2022_{name}_full.mat")
        g = scan.geometry.replace(image_size=grid.image_size, pixel_size=grid.pixel_size)
        ref = load_reference(HTC / f"htc2022_{name}_full_recon_fbp.mat", g)
        seg = load_reference(HTC / f"htc2022_{name}_full_recon_fbp_seg.mat", g)
        out[name] = (scan.sinogram.astype(np.float32), g, ref.astype(np.float32), seg)
    return out


def arc_sample(sino: np.ndarray, geometry, target: np.ndarray, length: float, start: float) -> ArcSample:
    s, g = cut_arc(sino, geometry, length, start)
    return ArcSample(torch.from_numpy(np.ascontiguousarray(s)), g, torch.from_numpy(target))


def n_arc_views(length: float) -> int:
    return int(round(length / STEP)) + 1


# ---- models ----------------------------------------------------------------------------------------------------

def drawer(sinos, targets, grid, pool, length):
    """``draw(rng, k)``: k arcs of ``length`` from random phantoms of ``pool`` at random starts (0.5° grid)."""
    n_full = sinos.shape[1]

    def draw(rng, k):
        return [arc_sample(sinos[i], grid, targets[i], length, STEP * int(rng.integers(n_full)))
                for i in (int(pool[j]) for j in rng.integers(len(pool), size=k))]
    return draw


VARIANTS = {  # name: (weight basis, learn, filter basis, completion, fraction of --steps)
    "smooth 8×16 weights + filter": ((8, 16), "filter+weights", 48, False, 1.0),
    "per-element weights + filter": (None, "filter+weights", 48, False, 1.0),
    "smooth 8×16 weights + per-view filters": ((8, 16), "view_filters+weights", 24, False, 1.0),
    "view completion + smooth 8×16 weights + filter": ((8, 16), "filter+weights", 48, True, 0.3),
}
COMPLETION = "view completion (mean view) + tuned FBP + clip at 0"


def train_variant(baseline, g0, draw, variant, steps, lr, batch, seed, log):
    """Start from the tuned baseline (for completion models: the tuned FBP of completed arcs); least-squares
    shared filter (weights fixed); Adam on weights + filter(s) with a ReLU output (MSE against the full-data
    target)."""
    basis, learn, filter_basis, completion, fraction = variant
    steps = max(1, int(round(steps * fraction)))
    model = LearnedFBP.from_recipe(g0, baseline, learn=learn, weight_basis=basis, filter_basis=filter_basis,
                                   positivity=True)
    t = time.perf_counter()
    fit = None
    if "view_filters" not in learn and not completion:  # (for completion models it gains < 1 %: skipped)
        fit = fit_filter_on_arcs(model, draw(np.random.default_rng(seed + 1), 24))
    t_ls = time.perf_counter() - t
    val = draw(np.random.default_rng(seed + 2), 8)
    history = train_on_arcs(model, draw, steps=steps, batch_size=batch, lr=lr, seed=seed,
                            log_every=max(steps // 8, 1), validation=val)
    log((f"    least squares filter {fit['loss_before']:.3e} -> {fit['loss']:.3e} ({t_ls:.0f} s); " if fit else "    ")
        + f"Adam {steps} steps, validation MSE: "
        + ", ".join(f"{r['step']}:{r['val_loss']:.3e}" for r in history if "val_loss" in r)
        + f" ({history[-1]['seconds']:.0f} s)")
    return model, {"lstsq": fit, "steps": steps, "seconds": t_ls + history[-1]["seconds"]}


# ---- evaluation ------------------------------------------------------------------------------------------------

def scores(image: np.ndarray, reference: np.ndarray, segmentation: np.ndarray) -> dict[str, float]:
    return {"rmse": float(rmse(image, reference)), "psnr": float(psnr(image, reference)),
            "ssim": float(ssim(image, reference)), "mcc": float(segmentation_mcc(image, segmentation))}


def methods_for(baseline, models, completion=None):
    """{method name: function(ArcSample) -> image}"""
    relu = lambda f: (lambda s: np.maximum(f(s), 0.0))  # noqa: E731
    base = lambda s: baseline.reconstruct(s.sinogram.double(), s.geometry).numpy()  # noqa: E731
    out = {"Ram-Lak FBP (untuned)": lambda s: fbp(s.sinogram.double(), s.geometry, warn=False).numpy(),
           "tuned limited-angle FBP (baseline)": base,
           "tuned FBP + clip at 0": relu(base)}
    if completion is not None:
        out[COMPLETION] = relu(lambda s: completion.reconstruct(s.sinogram.double(), s.geometry).numpy())
    for name, model in models.items():
        def run(s, model=model):
            with torch.no_grad():
                return model.for_geometry(s.geometry)(s.sinogram).double().numpy()
        out[name] = run
    return out


def evaluate(methods, cases):
    """cases: list of (label dict, ArcSample, reference, segmentation) → rows of scores."""
    rows, images = [], {}
    for label, sample, ref, seg in cases:
        for name, f in methods.items():
            img = f(sample)
            rows.append({**label, "method": name, **scores(img, ref, seg)})
            images[(label.get("phantom"), label.get("start"), name)] = img
    return rows, images


def summarise(rows, key=("method",)):
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in key), []).append(r)
    return {k: {m: float(np.mean([r[m] for r in v])) for m in ("rmse", "psnr", "ssim", "mcc")} | {"n": len(v)}
            for k, v in groups.items()}


# ---- report ----------------------------------------------------------------------------------------------------

def figure_images(path: Path, length_deg, images, reference, phantom, start, methods):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["tuned limited-angle FBP (baseline)"] + [m for m in methods if m.startswith(("smooth", "per-element", "view"))]
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(2.6 * (len(names) + 1), 5.4))
    axes[0, 0].imshow(reference, cmap="gray", vmin=0, vmax=0.05)
    axes[0, 0].set_title(f"{phantom}: full-data reference", fontsize=8)
    axes[1, 0].axis("off")
    for k, name in enumerate(names, start=1):
        img = images[(phantom, start, name)]
        e = float(np.sqrt(np.mean((img - reference) ** 2)))
        axes[0, k].imshow(img, cmap="gray", vmin=0, vmax=0.05)
        axes[0, k].set_title(f"{name}\nRMSE {e:.2e}", fontsize=7)
        axes[1, k].imshow(img - reference, cmap="coolwarm", vmin=-0.03, vmax=0.03)
        axes[1, k].set_title("− reference", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{length_deg:g}° arc starting at {start}° (real HTC2022 data)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def figure_weights(path: Path, models, length_deg):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.2))
    axes = np.atleast_1d(axes)
    for ax, (name, model) in zip(axes, models.items()):
        w = model.weights
        span = 360.0 if model.complete_views else length_deg
        rel = (w.weights() / w.initial).detach().numpy()
        im = ax.imshow(rel, aspect="auto", cmap="viridis", extent=(0, rel.shape[1], span, 0))
        ax.set_title(f"{name}\nW / W_baseline", fontsize=8)
        ax.set_xlabel("detector element")
        ax.set_ylabel("β − β_start (°)")
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def table(summary, methods, baseline_name="tuned limited-angle FBP (baseline)"):
    b = summary[(baseline_name,)]["rmse"]
    lines = ["| method | RMSE (1/mm) | RMSE reduction vs tuned | PSNR (dB) | SSIM | seg. MCC (Otsu) |", "|---|---|---|---|---|---|"]
    for m in methods:
        s = summary[(m,)]
        lines.append(f"| {m} | {s['rmse']:.3e} | {100 * (1 - s['rmse'] / b):+.1f} % | {s['psnr']:.2f} | "
                     f"{s['ssim']:.3f} | {s['mcc']:.3f} |")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--arcs", type=float, nargs="+", default=[90.0, 70.0, 50.0], help="arc lengths (degrees)")
    ap.add_argument("--starts", type=float, nargs="+", default=[0.0, 90.0, 180.0, 270.0],
                    help="start angles (degrees) of the arcs cut from the real scans")
    ap.add_argument("--n-train", type=int, default=280)
    ap.add_argument("--n-test", type=int, default=40)
    ap.add_argument("--steps", type=int, default=600, help="Adam steps per model")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--tune-samples", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variants", type=int, nargs="*", default=None, help="indices of VARIANTS to train (default all)")
    ap.add_argument("--cache", type=Path, default=None, help="npz cache of the simulated full scans")
    ap.add_argument("--quick", action="store_true", help="tiny run: 24+8 phantoms, 60 steps, coarse tuning grid")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        args.n_train, args.n_test, args.steps, args.tune_samples = 24, 8, 60, 8
    args.out.mkdir(parents=True, exist_ok=True)
    log_lines = []

    def log(msg):
        print(msg, flush=True)
        log_lines.append(msg)

    t_all = time.perf_counter()
    n = args.n_train + args.n_test
    cache = args.cache or args.out / f"simulated_{n}_seed{args.seed}.npz"
    t = time.perf_counter()
    sinos, targets, phantoms, grid = simulate(n, args.seed, cache)
    log(f"simulated {n} full 720-view scans (+ full-data FBP targets) in {time.perf_counter() - t:.0f} s")
    sim_seg = (phantoms > 0.5 * 0.041).astype(np.uint8)
    real = real_data(grid)
    train_pool = np.arange(args.n_train)
    test_ids = np.arange(args.n_train, n)
    if args.quick:
        cutoffs, tapers = (0.1, 0.3, 0.6, 1.0), np.deg2rad([0.0, 5.0, 15.0])
    else:
        cutoffs, tapers = CUTOFFS, TAPERS
    results = {"args": {k: str(v) for k, v in vars(args).items()}, "arcs": {}}
    report = []
    for length_deg in args.arcs:
        length = math.radians(length_deg)
        log(f"== {length_deg:g}° arc ({n_arc_views(length)} views)")
        draw = drawer(sinos, targets, grid, train_pool, length)
        tune_set = draw(np.random.default_rng(args.seed + 100), args.tune_samples)
        t = time.perf_counter()
        tuned = tune_recipe([s.sinogram.double() for s in tune_set], [s.target.double() for s in tune_set],
                            [s.geometry for s in tune_set], cutoffs=cutoffs, tapers=tapers, fit_scale=True)
        baseline = tuned.recipe
        t_tune = time.perf_counter() - t
        log(f"  tuned baseline: {baseline.describe()} (MSE {tuned.mse:.3e}; {len(tuned.scores)} candidates, "
            f"{t_tune:.0f} s)")
        t = time.perf_counter()
        completed = [complete_arc(s.sinogram, s.geometry) for s in tune_set[:12]]
        completion = dataclasses.replace(
            tune_recipe([c[0].double() for c in completed], [s.target.double() for s in tune_set[:12]],
                        [c[1] for c in completed], cutoffs=cutoffs, tapers=(0.0,), fit_scale=True).recipe,
            complete_views=True)
        log(f"  tuned completion FBP: {completion.describe()} ({time.perf_counter() - t:.0f} s)")
        g0 = cut_arc(sinos[0], grid, length, 0.0)[1]
        models, train_info = {}, {}
        for k, (name, variant) in enumerate(VARIANTS.items()):
            if args.variants and k not in args.variants:
                continue
            log(f"  training {name}")
            start_model = completion if variant[3] else baseline
            model, info = train_variant(start_model, g0, draw, variant, args.steps, args.lr, args.batch, args.seed, log)
            models[name], train_info[name] = model, info
            save_model(model, args.out / f"model_{length_deg:g}_{k}.pt", force=True,
                       extra={"variant": name, "baseline": baseline.describe(), "arc_length_deg": length_deg,
                              "arc_views": g0.n_views, "completion": bool(variant[3])})
        methods = methods_for(baseline, models, completion)
        # held-out simulated phantoms, one random start each; real phantoms at the given starts
        rng = np.random.default_rng(args.seed + 200)
        sim_cases = []
        for i in test_ids:
            start = STEP * int(rng.integers(sinos.shape[1]))
            sim_cases.append(({"phantom": f"sim{i}", "start": round(math.degrees(start), 1)},
                              arc_sample(sinos[i], grid, targets[i], length, start), targets[i], sim_seg[i]))
        real_cases = [({"phantom": name, "start": s}, arc_sample(sino, g, ref, length, math.radians(s)), ref, seg)
                      for name, (sino, g, ref, seg) in real.items() for s in args.starts]
        t = time.perf_counter()
        sim_rows, _ = evaluate(methods, sim_cases)
        real_rows, real_images = evaluate(methods, real_cases)
        log(f"  evaluated {len(sim_cases)} simulated + {len(real_cases)} real arcs in {time.perf_counter() - t:.0f} s")
        sim_sum, real_sum = summarise(sim_rows), summarise(real_rows)
        per_phantom = summarise(real_rows, ("phantom", "method"))
        wins = {m: int(sum(1 for a, b in zip([r for r in real_rows if r["method"] == m],
                                               [r for r in real_rows if r["method"] == "tuned limited-angle FBP (baseline)"])
                         if a["rmse"] < b["rmse"])) for m in models}
        tag = f"{length_deg:g}"
        figure_images(args.out / f"images_{tag}.png", length_deg, real_images, real["ta"][2], "ta", args.starts[1 % len(args.starts)], methods)
        figure_weights(args.out / f"weights_{tag}.png", models, length_deg)
        results["arcs"][tag] = {"baseline": baseline.describe(), "completion": completion.describe(), "baseline_mse": tuned.mse, "tune_seconds": t_tune,
                                "train": {k: {"seconds": v["seconds"], "lstsq": v["lstsq"]} for k, v in train_info.items()},
                                "simulated": {k[0]: v for k, v in sim_sum.items()},
                                "real": {k[0]: v for k, v in real_sum.items()},
                                "real_per_phantom": {f"{k[0]} | {k[1]}": v for k, v in per_phantom.items()},
                                "real_wins_vs_baseline": wins, "real_rows": real_rows}
        report += [f"## {length_deg:g}° arc ({n_arc_views(length)} views of 0.5°)", "",
                   f"Tuned baseline: {baseline.describe()} (tuned on {args.tune_samples} simulated training arcs, "
                   f"{len(tuned.scores)} candidates). View-completion FBP: {completion.describe()}.", "",
                   f"### Held-out simulated phantoms ({len(sim_cases)} phantoms, one random start each)", "",
                   *table(sim_sum, methods), "",
                   f"### Real HTC2022 phantoms ({len(real)} phantoms × starts {', '.join(f'{s:g}°' for s in args.starts)}"
                   f" = {len(real_cases)} arcs)", "", *table(real_sum, methods), "",
                   "Arcs where the learned model has a lower RMSE than the tuned baseline: "
                   + ", ".join(f"{m}: {w}/{len(real_cases)}" for m, w in wins.items()), "",
                   "Per real phantom (mean over starts), RMSE (1/mm) / seg. MCC:", "",
                   "| phantom | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
        for ph in real:
            report.append(f"| {ph} | " + " | ".join(
                f"{per_phantom[(ph, m)]['rmse']:.3e} / {per_phantom[(ph, m)]['mcc']:.3f}" for m in methods) + " |")
        report += ["", f"![images](images_{tag}.png)", "", f"![weights](weights_{tag}.png)", ""]
    total = time.perf_counter() - t_all
    log(f"total {total:.0f} s")
    head = [f"# Limited-angle study (research/limited_angle_study.py{' --quick' if args.quick else ''})", "",
            f"{args.n_train} simulated training phantoms, {args.n_test} held-out; Adam {args.steps} steps of batch "
            f"{args.batch} (lr {args.lr:g}); total runtime {total / 60:.1f} min on 1 CPU thread.", "",
            "Targets and references: the full-data (720-view) FBP — the organisers' reconstruction for the real "
            "phantoms (block-averaged to 256² × 0.297 mm), Ram-Lak FBP of the full noisy simulated scan for the "
            "simulated ones. Segmentation score: Matthews correlation of the Otsu-thresholded image with the true "
            "segmentation (real: the organisers'; simulated: the phantom).", ""]
    (args.out / "report.md").write_text("\n".join(head + report + ["## Log", "", "```", *log_lines, "```", ""]))
    (args.out / "metrics.json").write_text(json.dumps(results, indent=1, default=float))
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
