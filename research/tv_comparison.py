"""Learned models against TV-regularised reconstruction (and the analytic baselines) on the five real HTC2022
phantoms, with run times (issue 14).

For each task — sparse view (``--views``, default 60 and 90 of 720: ``configs/train_upsampled_htc<V>.toml``) and
limited angle (``--arcs``, default 90°, 70° and 50° from 0°: ``configs/train_limited_<ARC>_completion.toml``) — trains
the shipped config on ``configs/fan_htc_real.toml`` simulations (once; finished runs are reused), then runs
``recon compare --tv`` on every phantom of ``--data`` against the organisers' full-data FBP and segmentation.
Writes ``<out>/tv_comparison.md``: per task the mean over the phantoms of PSNR, both SSIMs, the segmentation MCC
and the reconstruction time of every method, and on how many phantoms each is best in PSNR and in SSIM.

    python research/tv_comparison.py --out tv_study [--data ../shared/data/htc2022-training]
        [--views 60 90] [--arcs 90 70 50] [--unrolled 60=runs/unrolled_htc60 90=... arcs=runs/unrolled_arcs]

``--unrolled`` adds trained unrolled networks (``configs/train_unrolled_*.toml``, issue 23) as a second model of
the tasks they serve: ``V=RUN`` the sparse-view task of V views, ``arcs=RUN`` every arc task.
Scores are inside the field of view (the default of ``recon compare``).

About 80 minutes on 2 CPU cores (simulation 1, training ~4 per model, TV tuning and the oracles most of the rest).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from recon.app.compare import compare_files
from recon.simulation.simulate import simulate_to_file
from recon.training.config import load_train_config
from recon.training.loop import train

ROOT = Path(__file__).resolve().parents[1]


def _run(out: Path, data: Path, config: str) -> Path:
    run = out / "runs" / Path(config).stem
    if not (run / "model.pt").exists():
        train(load_train_config(ROOT / "configs" / config), run, data=data, force=True)
    return run


def _table(summary: dict) -> list[str]:
    lines = ["| method | PSNR (dB) | SSIM (Gaussian) | SSIM (DIVal) | seg. MCC | time (s) | best PSNR | best SSIM |",
             "|---|---|---|---|---|---|---|---|"]
    n = len(summary["scans"])
    for e in summary["methods"].values():
        m = e["mean"]
        lines.append(f"| {e['label']} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['ssim_dival']:.4f} | "
                     f"{m.get('segmentation_mcc', float('nan')):.3f} | {m['seconds']:.2f} | "
                     f"{e.get('best_psnr', 0)}/{n} | {e.get('best_ssim', 0)}/{n} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "htc2022-training")
    parser.add_argument("--views", type=int, nargs="*", default=[60, 90])
    parser.add_argument("--arcs", type=int, nargs="*", default=[90, 70, 50])
    parser.add_argument("--unrolled", nargs="*", default=[], metavar="TASK=RUN",
                        help="trained unrolled networks: V=RUN (V views) or arcs=RUN")
    args = parser.parse_args()
    unrolled = dict(item.split("=", 1) for item in args.unrolled)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = out / "htc_real.h5"
    if not data.exists():
        simulate_to_file(ROOT / "configs" / "fan_htc_real.toml", data)
    tasks = [(f"sparse view, {v} of 720 views", f"train_upsampled_htc{v}.toml", {"views": v}) for v in args.views]
    tasks += [(f"limited angle, {a}° from 0°", f"train_limited_{a}_completion.toml", {"angles": (0.0, float(a))})
              for a in args.arcs]
    text = ["# Learned vs TV vs analytic on the five real HTC2022 phantoms", ""]
    for title, config, selection in tasks:
        run = _run(out, data, config)
        extra = unrolled.get("arcs" if "angles" in selection else str(selection.get("views")))
        models = [run] + ([Path(extra)] if extra else [])
        folder = out / f"compare_{Path(config).stem}{'_unrolled' if extra else ''}"
        if not (folder / "summary.json").exists():
            kw = dict(selection)
            if "angles" in kw:
                kw["angles"] = tuple(math.radians(a) for a in kw["angles"])
            compare_files(args.data, folder, models, reference=str(args.data / "{stem}_recon_fbp.mat"),
                          segmentation=str(args.data / "{stem}_recon_fbp_seg.mat"), tv=True, **kw)
        summary = json.loads((folder / "summary.json").read_text())
        text += [f"## {title} (`configs/{config}`)", "", *_table(summary), ""]
    (out / "tv_comparison.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
