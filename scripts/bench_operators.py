"""Benchmark recon's projection operators on the CPU against ASTRA's CPU projectors, in the same run.

Cases (``--size 512`` gives the issue's sizes): fan beam with a flat detector, 512², 720 views over 2π ×
768 detectors (ASTRA ``line_fanflat``); parallel beam 512², 360 views over π × 768 detectors (ASTRA
``linear``, i.e. Joseph like recon); fan beam with an arc detector (recon only: ASTRA 2D has none).

For each operator the median of ``--repeat`` runs after a warm-up is reported, in float32, with the ratio
ASTRA time / recon time. recon's first call is measured in fresh subprocesses: with an empty Numba cache
(JIT compilation included) and with the on-disk cache warm. Memory: peak resident set size of the process
and the size of recon's cached per-geometry coefficients.

    python scripts/bench_operators.py [--size 512] [--repeat 3] [--batch 8]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from typing import Callable, Optional

import numpy as np
from benchlib import astra_geometries, bench_geometries, machine, timed

import recon
from recon.operators.rays import joseph_rays

FIRST_CALL = """
import time, numpy as np
t0 = time.perf_counter()
import recon
t1 = time.perf_counter()
g = recon.FanBeam(np.linspace(0, 2 * np.pi, 720, endpoint=False), 768, 0.547, 512, 0.39, sod=500, sdd=1000)
x = np.ones((512, 512), np.float32)
y = recon.project(x, g); t2 = time.perf_counter()
recon.backproject(y, g); t3 = time.perf_counter()
recon.weighted_backproject(y, g); t4 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.2f} {t4 - t3:.2f}")
"""


def first_call_seconds(cache_dir: str) -> list[float]:
    """[import, first project, first backproject, first weighted_backproject] in a fresh interpreter."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True, check=True)
    return [float(v) for v in out.stdout.split()]


def astra_operators(geom: recon.Geometry, image: np.ndarray, sino: np.ndarray):
    """(FP, BP) closures running ASTRA's CPU algorithms on pre-allocated data, or None if unavailable."""
    try:
        import astra
    except ImportError:
        return None
    geometries = astra_geometries(geom)
    if geometries is None:
        return None
    vg, pg = geometries
    pid = astra.create_projector("line_fanflat" if isinstance(geom, recon.FanBeam) else "linear", pg, vg)
    vid = astra.data2d.create("-vol", vg, image)
    sid = astra.data2d.create("-sino", pg, sino)

    def algorithm(kind: str) -> Callable[[], None]:
        cfg = astra.astra_dict(kind)
        cfg["ProjectorId"] = pid
        cfg["ProjectionDataId"] = sid
        cfg["VolumeDataId" if kind == "FP" else "ReconstructionDataId"] = vid
        alg = astra.algorithm.create(cfg)
        return lambda: astra.algorithm.run(alg)
    return algorithm("FP"), algorithm("BP")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="image size N (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per operator (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=8, help="batch size for the images/s line (default: %(default)s)")
    parser.add_argument("--skip-first-call", action="store_true", help="skip the fresh-subprocess compile timing")
    args = parser.parse_args(argv)

    print(f"# Operator benchmark — {machine()}\n")
    if not args.skip_first_call:
        with tempfile.TemporaryDirectory() as cache:
            cold = first_call_seconds(cache)
            warm = first_call_seconds(cache)
        print("First call in a fresh process (fan flat 512², 720 × 768): import / project / backproject / "
              "weighted_backproject")
        print(f"- empty Numba cache (JIT compilation): {' / '.join(f'{v:.2f} s' for v in cold)}")
        print(f"- warm on-disk cache:                  {' / '.join(f'{v:.2f} s' for v in warm)}\n")

    rss0 = peak_rss_mb()
    rng = np.random.default_rng(0)
    print("| case | operator | recon (s) | ASTRA CPU (s) | ASTRA / recon |")
    print("|---|---|---|---|---|")
    coeff_mb = {}
    for case, geom in bench_geometries(args.size).items():
        image = rng.random(geom.image_shape, dtype=np.float32)
        sino = rng.random(geom.sino_shape, dtype=np.float32)
        label = f"{case} {geom.image_size}², {geom.n_views}×{geom.n_det}"
        ours = {
            "project (A)": timed(lambda: recon.project(image, geom), args.repeat)[1],
            "backproject (Aᵀ)": timed(lambda: recon.backproject(sino, geom), args.repeat)[1],
            "weighted_backproject (B_w)": timed(lambda: recon.weighted_backproject(sino, geom), args.repeat)[1],
        }
        rays = joseph_rays(geom, geom.grid)
        coeff_mb[case] = sum(getattr(rays, k).nbytes for k in rays.__dataclass_fields__) / 2 ** 20
        peers = astra_operators(geom, image, sino)
        astra_times = {}
        if peers is not None:
            astra_times["project (A)"] = timed(peers[0], args.repeat)[1]
            astra_times["backproject (Aᵀ)"] = timed(peers[1], args.repeat)[1]
        for op, t in ours.items():
            if op in astra_times:
                print(f"| {label} | {op} | {t:.3f} | {astra_times[op]:.3f} | {astra_times[op] / t:.1f}× |")
            else:
                print(f"| {label} | {op} | {t:.3f} | n/a | n/a |")

    geom = bench_geometries(args.size)["fan flat"]
    batch = rng.random((args.batch,) + geom.image_shape, dtype=np.float32)
    t_batch = timed(lambda: recon.project(batch, geom), 1)[1]
    print(f"\nBatched projection, fan flat, batch {args.batch}: {args.batch / t_batch:.1f} images/s "
          f"({t_batch / args.batch:.3f} s per image)")
    print(f"Memory: peak RSS {peak_rss_mb():.0f} MB (+{peak_rss_mb() - rss0:.0f} MB during the cases, ASTRA "
          f"included); cached Joseph coefficients per geometry: "
          + ", ".join(f"{k} {v:.1f} MB" for k, v in coeff_mb.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
