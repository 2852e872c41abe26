"""Reproduce the known-operator targets on simulated HTC2022-like data (held-out test sets).

1. Learned FBP vs Ram-Lak and the tuned window (grid search on part of the test file) for noisy full-scan
   data (720 views, I0 = 1e4) and sparse views (90, 60), for a shared filter and for filter + smooth weights;
   at sparse views also ViewUpsampledFBP (6× angular upsampling, 2-D filter) against view-interpolated FBP.
2. Convergence: time for the shared-filter training to come within 2 % of its least-squares optimum.
3. Fan → parallel conversion network vs interpolation rebinning (sinogram error, image PSNR/SSIM, edge
   sharpness), 180 fan views → 360 parallel views.

Everything goes to ``--out`` (datasets, runs, ``summary.md``). Expect tens of minutes on 2 CPU cores
with the defaults; ``--quick`` runs a small version in a few minutes.

    python scripts/known_operator_targets.py --out targets [--n-train 1000] [--n-test 200] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from recon.evaluate import evaluate
from recon.simulate import load_config, simulate_to_file
from recon.train import parse_train_config, train

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
learn = "{learn}"
filter_basis = 64
{weights}
grid_pixel = {grid_pixel}
[training]
epochs = {epochs}
batch_size = 8
lr = 2e-2
lstsq_check = {lstsq}
"""


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="targets", help="output folder (reused: finished steps are skipped)")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="200 training / 40 test samples, 12 epochs")
    args = parser.parse_args()
    if args.quick:
        args.n_train, args.n_test, args.epochs = 200, 40, 12
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# Known-operator targets (n_train = {args.n_train}, n_test = {args.n_test}, {args.epochs} epochs)", ""]

    train_h5 = dataset("fan_htc.toml", out, args.n_train, seed=0)
    test_h5 = dataset("fan_htc.toml", out, args.n_test, seed=1)
    for views in (720, 90, 60):
        for learn in ("filter", "filter+weights"):
            name = f"fbp_{views}_{learn.replace('+', '_')}"
            text = FBP_RUN.format(views=views, learn=learn, epochs=args.epochs,
                                  weights="weight_basis = [12, 16]" if "weights" in learn else "",
                                  lstsq=str(learn == "filter" and views <= 90).lower())
            summary = run(text, train_h5, out / name)
            report = evaluate(out / name / "model.pt", test_h5)
            lines += [f"## Learned FBP, {views} views, learn = {learn}", ""]
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
            report = evaluate(out / name / "model.pt", test_h5)
            lines += [f"## ViewUpsampledFBP (×6, 2-D filter), {views} views", "",
                      f"Training: {summary['train_seconds']:.0f} s after the least-squares start.", "",
                      report["table"], ""]
            print("\n".join(lines[-4:]), flush=True)

    train_c = dataset("fan_htc_to_parallel.toml", out, args.n_train, seed=0)
    test_c = dataset("fan_htc_to_parallel.toml", out, args.n_test, seed=1)
    for learn, grid_pixel in (("filter", 0.1483223), ("filter+weights", 0.1483223)):
        name = f"f2p_{learn.replace('+', '_')}_{grid_pixel:g}"
        text = CONVERSION_RUN.format(learn=learn, epochs=args.epochs, grid_pixel=grid_pixel,
                                     weights="weight_basis = [12, 16]" if "weights" in learn else "",
                                     lstsq=str(learn == "filter").lower())
        summary = run(text, train_c, out / name)
        report = evaluate(out / name / "model.pt", test_c)
        lines += [f"## Fan → parallel conversion, learn = {learn}, grid pixel {grid_pixel} mm", "",
                  f"Training: {summary['train_seconds']:.0f} s.", "", report["table"], ""]
        print("\n".join(lines[-3:]), flush=True)
    (out / "summary.md").write_text("\n".join(lines))
    print(f"wrote {out / 'summary.md'}")


if __name__ == "__main__":
    main()
