"""Shared helpers of the benchmark scripts: timing, machine description, benchmark geometries."""

from __future__ import annotations

import platform
import statistics
import time
from typing import Callable

import numpy as np

import recon
from recon.interop import to_astra


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(first-call seconds, median seconds of ``repeat`` further calls, last result)."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times), out


def machine() -> str:
    """One line: CPU model, cores, thread counts and library versions."""
    import numba
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import os

    return (f"{cpu}, {os.cpu_count()} cores; numba {numba.__version__} ({numba.get_num_threads()} threads), "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
            f"recon {recon.__version__}")


def bench_geometries(size: int = 512) -> dict[str, recon.Geometry]:
    """The benchmark cases of the issue, scaled with ``size``: fan flat 720 views × 1.5·size detectors over
    2π (sod 500, sdd 1000 mm), fan arc the same, parallel 360 views × 1.5·size over π; 200 mm field of view."""
    px = 200.0 / size
    n_det = int(1.5 * size)
    fan_angles = np.linspace(0, 2 * np.pi, round(720 * size / 512), endpoint=False)
    fan_det = 2 * 1.05 * 100.0 * 2 / n_det
    return {
        "fan flat": recon.FanBeam(fan_angles, n_det, fan_det, size, px, sod=500.0, sdd=1000.0, detector="flat"),
        "fan arc": recon.FanBeam(fan_angles, n_det, fan_det, size, px, sod=500.0, sdd=1000.0, detector="arc"),
        "parallel": recon.ParallelBeam(np.linspace(0, np.pi, round(360 * size / 512), endpoint=False), n_det,
                                       200.0 * 1.05 / n_det, size, px),
    }


def astra_geometries(geom: recon.Geometry):
    """ASTRA's ``(vol_geom, proj_geom)`` of a parallel or flat-fan geometry in ASTRA's habitual pixel units
    (:func:`recon.interop.to_astra` with ``unit_mm`` = the pixel size; timings do not depend on the unit),
    ``None`` for an arc detector (ASTRA 2D has none). Needs ``astra`` importable."""
    if isinstance(geom, recon.FanBeam) and geom.detector == "arc":
        return None
    return to_astra(geom, unit_mm=geom.pixel_size)