"""Reproduce the known-operator targets on simulated HTC2022-like data (held-out test sets).

1. Learned FBP vs Ram-Lak and the tuned window (grid search on part of the test file) for noisy full-scan
   data (720 views, I0 = 1e4) and sparse views (90, 60), for a shared filter and for filter + smooth weights;
   at sparse views also ViewUpsampledFBP (6× angular upsampling, 2-D filter) against view-interpolated FBP.
2. Convergence: time for the shared-filter training to come within 2 % of its least-squares optimum.
3. Fan → parallel conversion network vs interpolation rebinning (sinogram error, image PSNR/SSIM, edge
   sharpness), 180 fan views → 360 parallel views: the ablation of docs/research_conversion.md (plain
   network untrained / learned filter / filter + weights; view-upsampled network untrained / learned 2-D
   filter), each scored by ``recon evaluate`` (parallel FBP window tuned per method).

Everything goes to ``--out`` (datasets, runs, ``summary_<parts>.md``). Expect tens of minutes on 2 CPU cores
with the defaults; ``--quick`` runs a small version in a few minutes.

    python research/known_operator_targets.py --out targets [--n-train 1000] [--n-test 200] [--quick]
                                             [--parts fbp conversion]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from recon.app.compare import compare_files
from recon.evaluation.evaluate import evaluate
from recon.evaluation.report import format_table
from recon.models import build_model, save_model
from recon.simulation.dataset import SimulatedDataset
from recon.simulation.simulate import load_config, simulate_to_file
from recon.training.config import parse_train_config
from recon.training.loop import train

ROOT = Path(__file__).resolve().parent.parent

FBP_RUN = """
[data]
views = {views}
val_fraction = 0.1
[model]
type = "learned_fbp"
learn = "{learn}"
filter_basis = 64
{weights}
[training]
epochs = {epochs}
batch_size = 16
lr = 2e-2
lstsq_check = {lstsq}
loss = "{loss}"
ssim_weight = {ssim_weight}
"""

UPSAMPLED_RUN = """
[data]
views = {views}
val_fraction = 0.1
[model]
type = "view_upsampled_fbp"
factor = 6
filter = "hamming"
cutoff = 0.65
[training]
init = "lstsq"
lstsq_samples = 32
epochs = {epochs}
batch_size = 4
lr = 3e-3
loss = "mse+ssim"
ssim_weight = 0.01
"""

CONVERSION_RUN = """
[data]
val_fraction = 0.1
[model]
type = "fan_to_parallel"
{model}
[training]
epochs = {epochs}
batch_size = {batch}
lr = {lr}
"""

# (name, [model] lines, epochs (0: the untrained analytic network), batch size, learning rate)
CONVERSION_ABLATION = (
    ("plain, grid 0.297 mm (2× the pitch), Ram-Lak (untrained)", "grid_pixel = 0.2966446", 0, 8, 2e-2),
    ("plain, Ram-Lak (untrained)", 'learn = "filter"', 0, 8, 2e-2),
    ("plain, grid 0.074 mm (½ the pitch), Ram-Lak (untrained)", "grid_pixel = 0.07416115", 0, 8, 2e-2),
    ("plain, learned filter", 'learn = "filter"\nfilter_basis = 64', 5, 8, 2e-2),
    ("plain, learned filter + weights", 'learn = "filter+weights"\nfilter_basis = 64\nweight_basis = [12, 16]', 5, 8,
     2e-2),
    ("×4 views, Ram-Lak (untrained)", "factor = 4", 0, 4, 5e-3),
    ("×4 views, learned 2-D filter", "factor = 4", 4, 4, 5e-3),
)

# real phantoms, and the trained conversion networks compared on them
PHANTOMS = ("ta", "tb", "tc", "td", "solid_disc")
REAL_MODELS = ("plain, learned filter + weights", "×4 views, learned 2-D filter")


def dataset(config: str, out: Path, n: int, seed: int) -> Path:
    path = out / f"{Path(config).stem}_n{n}_s{seed}.h5"
    if not path.exists():
        t0 = time.perf_counter()
        simulate_to_file(load_config(ROOT / "configs" / config), path, n=n, seed=seed)
        print(f"simulated {path.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return path


def run(text: str, data: Path, out: Path) -> dict:
    if (out / "metrics.json").exists():
        return json.loads((out / "metrics.json").read_text())
    return train(parse_train_config(text, str(out)), out, data=data, force=True, progress=False)


def run_name(prefix: str, name: str) -> str:
    """A folder name for the ablation entry ``name``: ``prefix`` + its letters and digits, ``_`` elsewhere."""
    return prefix + "".join(c if c.isalnum() else "_" for c in name).strip("_")


def scored(run_dir: Path, test: Path) -> dict:
    """``recon evaluate`` of ``run_dir/model.pt`` on ``test``, written to ``run_dir`` (reused if there)."""
    if (run_dir / "evaluation.json").exists():
        report = json.loads((run_dir / "evaluation.json").read_text())
        labels = {i: m["label"] for i, m in report["methods"].items()}
        # a stored evaluation names its region; one from before regions were named scored the whole square
        return {**report, "table": format_table(report["results"], labels, report.get("region_id", "square"))}
    return evaluate(run_dir / "model.pt", test, out=run_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="targets", help="output folder (reused: finished steps are skipped)")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="200 training / 40 test samples, 12 epochs")
    parser.add_argument("--views", type=int, nargs="+", default=[720, 90, 60], help="learned-FBP view counts")
    parser.add_argument("--fbp-loss", choices=("mse", "mse+ssim"), default="mse",
                        help="loss of the learned-FBP runs (mse+ssim: normalised MSE + ssim_weight · (1 − SSIM))")
    parser.add_argument("--ssim-weight", type=float, default=0.01)
    parser.add_argument("--htc", type=Path, default=ROOT.parent / "shared" / "data" / "htc2022-training",
                        help="folder with the real htc2022_<name>_full*.mat scans (skipped if missing)")
    parser.add_argument("--parts", nargs="+", choices=("fbp", "conversion"), default=["fbp", "conversion"])
    args = parser.parse_args()
    if args.quick:
        args.n_train, args.n_test, args.epochs = 200, 40, 12
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# Known-operator targets (n_train = {args.n_train}, n_test = {args.n_test})", ""]

    if "fbp" in args.parts:
        lines += fbp_targets(out, args)
    if "conversion" in args.parts:
        lines += conversion_ablation(out, args)
    summary = out / f"summary_{'_'.join(args.parts)}{'' if args.fbp_loss == 'mse' else '_ssim'}.md"
    summary.write_text("\n".join(lines))
    print(f"wrote {summary}")


def fbp_targets(out: Path, args: argparse.Namespace) -> list[str]:
    """Learned FBP (shared filter; filter + weights; view-upsampled at sparse views) vs the tuned baselines."""
    lines: list[str] = []
    train_h5 = dataset("fan_htc.toml", out, args.n_train, seed=0)
    test_h5 = dataset("fan_htc.toml", out, args.n_test, seed=1)
    for views in args.views:
        for learn in ("filter", "filter+weights"):
            name = f"fbp_{views}_{learn.replace('+', '_')}" + ("" if args.fbp_loss == "mse" else "_ssim")
            text = FBP_RUN.format(views=views, learn=learn, epochs=args.epochs, loss=args.fbp_loss,
                                  ssim_weight=args.ssim_weight,
                                  weights="weight_basis = [12, 16]" if "weights" in learn else "",
                                  lstsq=str(learn == "filter" and views <= 90 and args.fbp_loss == "mse").lower())
            summary = run(text, train_h5, out / name)
            report = scored(out / name, test_h5)
            lines += [f"## Learned FBP, {views} views, learn = {learn} ({args.epochs} epochs, loss {args.fbp_loss})", ""]
            if summary.get("lstsq"):
                lines.append(f"Training: {summary['train_seconds']:.0f} s for {args.epochs} epochs; final training "
                             f"MSE = least-squares optimum × (1 {summary['gap_to_lstsq']:+.2%}).")
            else:
                lines.append(f"Training: {summary['train_seconds']:.0f} s for {args.epochs} epochs.")
            lines += ["", report["table"], ""]
            print("\n".join(lines[-4:]), flush=True)
        if views < 720:  # sparse views: 6× angular upsampling + 2-D view-circulant filter
            name = f"upsampled_{views}"
            summary = run(UPSAMPLED_RUN.format(views=views, epochs=max(1, args.epochs // 5)), train_h5, out / name)
            report = scored(out / name, test_h5)
            lines += [f"## ViewUpsampledFBP (×6, 2-D filter), {views} views", "",
                      f"Training: {summary['train_seconds']:.0f} s after the least-squares start.", "",
                      report["table"], ""]
            print("\n".join(lines[-4:]), flush=True)
    return lines


def conversion_ablation(out: Path, args: argparse.Namespace) -> list[str]:
    """Fan → parallel: each network of CONVERSION_ABLATION and interpolation rebinning, each followed by a
    parallel FBP whose window is tuned on the first quarter of the test file; one table."""
    train_c = dataset("fan_htc_to_parallel.toml", out, args.n_train, seed=0)
    test_c = dataset("fan_htc_to_parallel.toml", out, args.n_test, seed=1)
    rows, labels, seconds = {}, {}, {}
    for name, model_lines, epochs, batch, lr in CONVERSION_ABLATION:
        run_dir = out / run_name("f2p_", name)
        text = CONVERSION_RUN.format(model=model_lines, epochs=max(epochs, 1), batch=batch, lr=lr)
        if epochs == 0:  # the analytic network itself
            if not (run_dir / "model.pt").exists():
                run_dir.mkdir(parents=True, exist_ok=True)
                data = SimulatedDataset(train_c, keys=("sinograms",))
                save_model(build_model(parse_train_config(text, str(run_dir)).model, data.geometry,
                                       data.target_geometry), run_dir / "model.pt")
        else:
            seconds[name] = run(text, train_c, run_dir)["train_seconds"]
        report = scored(run_dir, test_c)
        for method_id, scores in report["results"].items():
            window = report["methods"][method_id]["label"].split("FBP (")[1]
            key = "rebin_fbp" if method_id == "rebin_fbp" else run_name("", name)
            labels[key] = f"rebinning + FBP ({window}" if method_id == "rebin_fbp" else f"{name} + FBP ({window}"
            rows.setdefault(key, scores)
        print(report["table"], flush=True)
    real = real_conversion(out, args) if args.htc.is_dir() else []
    lines = ["## Fan → parallel conversion (180 fan views → 360 parallel views) vs interpolation rebinning", "",
             f"Trained on {args.n_train} simulated samples, scored on {args.n_test} others (a quarter of them tune "
             "each method's parallel-FBP window). Sinogram error: relative L2 to the exact parallel sinogram. "
             "Training times: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()) + ".", "",
             format_table(rows, labels), ""] + real
    print("\n".join(lines), flush=True)
    return lines


def real_conversion(out: Path, args: argparse.Namespace) -> list[str]:
    """The REAL_MODELS of the ablation trained again at the real scans' photon count, then ``recon compare`` at
    180 of the 720 views of each real HTC2022 phantom (each network's and rebinning's parallel-FBP window tuned
    on that training data); per-phantom and mean table."""
    train_r = dataset("fan_htc_to_parallel_real.toml", out, args.n_train, seed=0)
    models = []
    for name, model_lines, epochs, batch, lr in CONVERSION_ABLATION:
        if name in REAL_MODELS:
            run_dir = out / run_name("f2p_real_", name)
            run(CONVERSION_RUN.format(model=model_lines, epochs=epochs, batch=batch, lr=lr), train_r, run_dir)
            models.append(run_dir / "model.pt")
    per_phantom: dict[str, dict[str, dict]] = {}
    scans = [args.htc / f"htc2022_{name}_full.mat" for name in PHANTOMS]
    result = compare_files(scans, out / "f2p_compare", models, reference=str(args.htc / "{stem}_recon_fbp.mat"),
                           segmentation=str(args.htc / "{stem}_recon_fbp_seg.mat"), views=180, force=True)
    for name, r in zip(PHANTOMS, result["scans"]):
        per_phantom[name] = {r["methods"][i]["label"].split(" + FBP (" if i.startswith("model_") else " (")[0]: v
                             for i, v in r["scores"].items()}
    cols = (("psnr", "{:.2f}"), ("ssim", "{:.4f}"), ("edge_rise_mm", "{:.3f}"), ("data_consistency", "{:.4f}"))
    lines = ["### Real HTC2022 phantoms (180 of 720 views; reference: the organisers' full-data FBP)", "",
             f"Networks trained on {args.n_train} simulations at the real photon count (I0 = 6e4).", "",
             "PSNR / SSIM / edge 10–90 % (mm) / ‖Ax−p‖/‖p‖, per phantom and mean", "",
             "| method | " + " | ".join(per_phantom) + " | mean |", "|---|" + "---|" * (len(per_phantom) + 1)]
    for method in next(iter(per_phantom.values())):
        cells = [" / ".join(f.format(per_phantom[p][method][k]) for k, f in cols) for p in per_phantom]
        mean = " / ".join(f.format(sum(per_phantom[p][method][k] for p in per_phantom) / len(per_phantom))
                          for k, f in cols)
        lines.append(f"| {method} | " + " | ".join(cells) + f" | **{mean}** |")
    return lines + [""]


if __name__ == "__main__":
    main()
