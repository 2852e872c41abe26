"""Benchmark recon's cone-beam operators and FDK on the CPU against the CPU cone-beam peers that install here —
torchtomo, mbirjax and diffct (its portable PyTorch path), mapped onto recon's conventions by
``scripts/cone_peers.py`` — in the same run, each (tool, size) in its own process so that its peak memory is its own.
With ``--gpu``, also recon's Triton kernels on CUDA tensors (tool ``recon-gpu``: the data already on the GPU,
timed to ``torch.cuda.synchronize``; its peak memory is the GPU's, ``torch.cuda.max_memory_allocated``).

Cases: a circular flat-detector scan of ``n³`` voxels of 1 mm with ``views`` projections of ``n × n`` pixels (sod
3n mm, sdd 4.5n mm, pitch 1.5 mm: the volume fills the field of view); A (forward projection), Aᵀ (backprojection)
and FDK, float32, median of ``--repeat`` warm calls after one untimed call (mbirjax compiles on its first call).

    python scripts/bench_cone.py --sizes 64 128 --views 180 [--peers-python PEERS_VENV/bin/python]
    python scripts/bench_cone.py --sizes 128 256 --views 360 --gpu      # on a GPU machine

The peers run under ``--peers-python`` (an environment holding them and recon, see ``scripts/cone_peers.py``);
recon runs under this interpreter. Prints a table: seconds per operator, the ratio peer / recon, peak resident
memory (MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OPS = ("project", "backproject", "fdk")


def scan(n: int, views: int) -> dict:
    return {"angles": np.linspace(0, 2 * np.pi, views, endpoint=False).tolist(), "rows": n, "cols": n,
            "row_mm": 1.5, "col_mm": 1.5, "sod": 3.0 * n, "sdd": 4.5 * n, "nz": n, "ny": n, "nx": n, "voxel_mm": 1.0}


def phantom(n: int) -> np.ndarray:
    """A ball of 0.02/mm with an off-centre ball of 0.03/mm inside (float32 ``[n, n, n]``)."""
    c = (np.arange(n) - (n - 1) / 2.0).astype(np.float32)
    z, y, x = np.meshgrid(c, c, c, indexing="ij")
    vol = 0.02 * (x ** 2 + y ** 2 + z ** 2 < (0.4 * n) ** 2)
    vol += 0.01 * ((x - 0.1 * n) ** 2 + (y + 0.1 * n) ** 2 + z ** 2 < (0.1 * n) ** 2)
    return vol.astype(np.float32)


def operators(tool: str, s: dict) -> dict:
    """``{op: callable(data) -> array}`` of ``tool`` for the scan ``s``."""
    if tool in ("recon", "recon-gpu"):
        import recon

        g = recon.ConeBeam(s["angles"], (s["rows"], s["cols"]), (s["row_mm"], s["col_mm"]), sod=s["sod"], sdd=s["sdd"])
        grid = recon.VolumeGrid((s["nz"], s["ny"], s["nx"]), s["voxel_mm"])
        return {"project": lambda v: recon.project(v, g, grid=grid),
                "backproject": lambda p: recon.backproject(p, g, grid=grid),
                "fdk": lambda p: recon.fdk(p, g, grid)}
    sys.path.insert(0, HERE)
    from cone_peers import PEERS

    peer = PEERS[tool](np.asarray(s["angles"]), s["rows"], s["cols"], s["row_mm"], s["col_mm"], s["sod"], s["sdd"],
                       s["nz"], s["ny"], s["nx"], s["voxel_mm"])
    ops = {"project": peer.project, "backproject": peer.backproject}
    if peer.fdk is not None:
        ops["fdk"] = peer.fdk
    return ops


def run_one(tool: str, n: int, views: int, repeat: int) -> dict:
    """Time ``tool``'s operators at size ``n`` in this process: ``{op: seconds}``, peak RSS in MiB (the GPU's
    peak allocation for ``recon-gpu``)."""
    s = scan(n, views)
    ops = operators(tool, s)
    vol = phantom(n)
    sync = lambda: None  # noqa: E731
    if tool == "recon-gpu":
        import torch

        vol = torch.as_tensor(vol, device="cuda")
        sync = torch.cuda.synchronize
    proj = ops["project"](vol)  # also the untimed first call of A
    proj = proj if tool == "recon-gpu" else np.asarray(proj, dtype=np.float32)
    out = {}
    for op in OPS:
        if op not in ops:
            continue
        data = vol if op == "project" else proj
        ops[op](data)
        sync()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            ops[op](data)
            sync()
            times.append(time.perf_counter() - t0)
        out[op] = statistics.median(times)
    if tool == "recon-gpu":
        import torch

        out["peak_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    else:
        out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--views", type=int, default=180)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--peers", nargs="*", default=["torchtomo", "mbirjax", "diffct"])
    ap.add_argument("--peers-python", default=None, help="interpreter of an environment holding the peers")
    ap.add_argument("--gpu", action="store_true", help="also time recon's Triton kernels on the GPU (recon-gpu)")
    ap.add_argument("--gpu-only", action="store_true", help="only recon-gpu (no CPU baseline: ratios to itself)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds one tool may take for one size")
    ap.add_argument("--one", nargs=2, metavar=("TOOL", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.views, args.repeat)))
        return
    rows = []
    for n in args.sizes:
        tools = ["recon-gpu"] if args.gpu_only else \
            ["recon"] + (["recon-gpu"] if args.gpu else []) + (args.peers if args.peers_python else [])
        for tool in tools:
            python = sys.executable if tool.startswith("recon") else args.peers_python
            try:
                r = subprocess.run([python, __file__, "--one", tool, str(n), "--views", str(args.views), "--repeat",
                                    str(args.repeat)], capture_output=True, text=True, timeout=args.timeout,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            except subprocess.TimeoutExpired:
                print(f"{tool} {n}³: more than {args.timeout:g} s, stopped")
                continue
            if r.returncode != 0:
                print(f"{tool} {n}³: failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
                continue
            rows.append((n, tool, json.loads(r.stdout.strip().splitlines()[-1])))
            print(n, tool, rows[-1][2], flush=True)
    print(f"\n{args.views} views, float32, median of {args.repeat} warm calls; ratio = tool time / recon time "
          "(the first tool of each size)")
    print(f"{'size':>6} {'tool':<10}" + "".join(f"{op:>22}" for op in OPS) + f"{'peak MiB':>10}")
    for n, tool, r in rows:
        base = next(b for m, t, b in rows if m == n)
        cells = "".join(f"{r[op]:>12.3f} s ({r[op] / base[op]:>5.1f}×)" if op in r else f"{'—':>22}" for op in OPS)
        print(f"{n:>5}³ {tool:<10}{cells}{r['peak_mib']:>10.0f}")


if __name__ == "__main__":
    main()
