"""Benchmark recon's GPU kernels (Triton) against the PyTorch reference path and ASTRA's CUDA projectors,
in the same run, and time ``recon train`` of the sparse-view recipe on the GPU.

Cases (issue 13): (a) torch-radon's case — 256², 256 views × 256 detectors, batch 128, parallel beam and flat
fan beam; (b) HTC-like flat fan beam, 512², 720 views × 768 detectors, batch 8 (also: batched fan FBP).
Per operator (A, Aᵀ, B_w, B_wᵀ) and case: images/s and peak GPU memory for the Triton kernels, the torch
reference (``backend="torch"``) and ASTRA CUDA (``FP_CUDA``/``BP_CUDA`` per image from host arrays, when
``astra`` imports with CUDA); the first-call (compile) time of each kernel; dot-product defects on the GPU in
float32 and float64; then ``recon simulate`` of ``--train-samples`` scans and one epoch of
``recon train --config configs/train_upsampled_htc60.toml`` on the GPU (and with ``--cpu-train`` on this
machine's CPU; ``--cpu-seconds S`` gives the ratio to a CPU time measured elsewhere).

    python scripts/bench_gpu.py                     # on a GPU machine: the table, in a few minutes
    TRITON_INTERPRET=1 python scripts/bench_gpu.py --quick --device cpu --no-train   # smoke test without a GPU
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from benchlib import astra_geometries, bench_geometries, machine

import recon

ROOT = Path(__file__).resolve().parents[1]
OPS = {"A": ("project", "image"), "Aᵀ": ("backproject", "sinogram"), "B_w": ("weighted_backproject", "sinogram"),
       "B_wᵀ": ("weighted_backproject_adjoint", "image")}


def cases(quick: bool) -> dict[str, tuple[recon.Geometry, int]]:
    """{name: (geometry, batch)} of the issue's cases (tiny versions with ``quick``)."""
    n, views, det, batch = (16, 12, 16, 4) if quick else (256, 256, 256, 128)
    ang_par = np.linspace(0, np.pi, views, endpoint=False)
    ang_fan = np.linspace(0, 2 * np.pi, views, endpoint=False)
    px = 200.0 / n
    out = {f"(a) parallel {n}², {views}×{det}, batch {batch}":
           (recon.ParallelBeam(ang_par, det, 200.0 * 1.05 / det, n, px), batch),
           f"(a) fan flat {n}², {views}×{det}, batch {batch}":
           (recon.FanBeam(ang_fan, det, 2 * 1.05 * 200.0 / det, n, px, sod=500.0, sdd=1000.0), batch)}
    htc = bench_geometries(24 if quick else 512)["fan flat"]
    out[f"(b) fan flat {htc.image_size}², {htc.n_views}×{htc.n_det}, batch {2 if quick else 8}"] = (htc, 2 if quick else 8)
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, repeat: int) -> tuple[float, float, float]:
    """(first call s, median of ``repeat`` calls s, peak memory MB of one call)."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    first = time.perf_counter() - t0
    times = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    peak = (torch.cuda.max_memory_allocated(device) - base) / 2 ** 20 if device.type == "cuda" else float("nan")
    return first, statistics.median(times), peak


def astra_cuda(geom: recon.Geometry, data: np.ndarray, op: str) -> Optional[Callable[[], None]]:
    """ASTRA CUDA FP (``A``) or BP (``Aᵀ``) of every item of ``data`` from host arrays, or None."""
    try:
        import astra
        if not astra.use_cuda():
            return None
    except (ImportError, AttributeError):
        return None
    geometries = astra_geometries(geom)
    if op not in ("A", "Aᵀ") or geometries is None:
        return None
    vg, pg = geometries
    pid = astra.create_projector("cuda", pg, vg)

    def run() -> None:
        for item in data:
            if op == "A":
                sid, _ = astra.create_sino(item, pid)
                astra.data2d.delete(sid)
            else:
                rid, _ = astra.create_backprojection(item, pid)
                astra.data2d.delete(rid)
    return run


def operator_table(device: torch.device, quick: bool, repeat: int, reference: bool) -> list[str]:
    rows = ["| case | op | Triton img/s | Triton peak MB | first call s | torch img/s | Triton/torch | "
            "ASTRA CUDA img/s | Triton/ASTRA |", "|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for case, (g, batch) in cases(quick).items():
        for name, (fn_name, kind) in OPS.items():
            shape = (batch,) + (g.image_shape if kind == "image" else g.sino_shape)
            x = torch.rand(shape, device=device)
            fn = getattr(recon, fn_name)
            first, t, peak = timed(lambda: fn(x, g, backend="triton", check_finite=False), device, repeat)
            cells = [f"{batch / t:,.0f}", f"{peak:.0f}", f"{first:.2f}"]
            if reference:
                tr = timed(lambda: fn(x, g, backend="torch", check_finite=False), device, max(1, repeat // 3))[1]
                cells += [f"{batch / tr:,.0f}", f"{tr / t:.1f}×"]
            else:
                cells += ["–", "–"]
            peer = astra_cuda(g, x.cpu().numpy(), name)
            if peer is not None:
                ta = timed(peer, torch.device("cpu"), max(1, repeat // 3))[1]
                cells += [f"{batch / ta:,.0f}", f"{ta / t:.1f}×"]
            else:
                cells += ["n/a", "n/a"]
            rows.append(f"| {case} | {name} | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    return rows


def fbp_and_defects(device: torch.device, quick: bool, repeat: int) -> list[str]:
    lines = []
    g, batch = list(cases(quick).values())[2]
    sino = torch.rand((batch,) + g.sino_shape, device=device)
    t = timed(lambda: recon.fbp(sino, g, "hann", 0.8, backend="triton"), device, repeat)[1]
    lines.append(f"- fan FBP (filter + B_w), {g.image_size}², {g.n_views}×{g.n_det}, batch {batch}: "
                 f"{batch / t:,.0f} images/s")
    for case, (g, _) in cases(quick).items():
        for dtype in (torch.float32, torch.float64):
            x = torch.rand((2,) + g.image_shape, device=device, dtype=dtype)
            y = torch.rand((2,) + g.sino_shape, device=device, dtype=dtype)
            d = []
            for fwd, adj in (("project", "backproject"), ("weighted_backproject_adjoint", "weighted_backproject")):
                lhs = float((getattr(recon, fwd)(x, g, backend="triton").double() * y.double()).sum())
                rhs = float((x.double() * getattr(recon, adj)(y, g, backend="triton").double()).sum())
                d.append(abs(lhs - rhs) / abs(rhs))
            lines.append(f"- dot defect {case}, {str(dtype)[6:]}: A/Aᵀ {d[0]:.1e}, B_w/B_wᵀ {d[1]:.1e}")
    return lines


def train_timing(args: argparse.Namespace) -> list[str]:
    """Simulate, then one epoch of the sparse-view recipe on the GPU (and on this CPU with ``--cpu-train``)."""
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "htc.h5"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "recon", "simulate", "--config", str(ROOT / "configs" / "fan_htc_real.toml"),
                        "--n", str(args.train_samples), "--out", str(data)], check=True, capture_output=True)
        lines.append(f"- simulated {args.train_samples} scans in {time.perf_counter() - t0:.0f} s")
        devices = [args.device] + (["cpu"] if args.cpu_train else [])
        seconds = {}
        for device in devices:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "recon", "train", "--config",
                            str(ROOT / "configs" / "train_upsampled_htc60.toml"), "--data", str(data), "--out",
                            str(Path(tmp) / f"run_{device}"), "--epochs", "1", "--device", device],
                           check=True, capture_output=True)
            seconds[device] = time.perf_counter() - t0
            lines.append(f"- recon train (train_upsampled_htc60, 1 epoch, {args.train_samples} scans) on {device}: "
                         f"{seconds[device]:.1f} s")
        cpu = seconds.get("cpu", args.cpu_seconds)
        if cpu:
            lines.append(f"- GPU speed-up of recon train: {cpu / seconds[args.device]:.1f}×")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test of the script)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--no-reference", action="store_true", help="skip the torch reference path")
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--train-samples", type=int, default=96)
    parser.add_argument("--cpu-train", action="store_true", help="also time recon train on this machine's CPU")
    parser.add_argument("--cpu-seconds", type=float, default=None, help="recon train time on another CPU (s)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU (Triton interpreter)"
    print(f"# GPU benchmark — {gpu}; {machine()}\n", flush=True)
    operator_table(device, args.quick, args.repeat, not args.no_reference)
    print("\n" + "\n".join(fbp_and_defects(device, args.quick, args.repeat)), flush=True)
    if not args.no_train:
        print("\n" + "\n".join(train_timing(args)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
