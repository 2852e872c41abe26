"""Rotation-centre estimation on real scans, against algotom in the same run.

* the bundled synchrotron tooth (parallel beam over 180°, axis reported at column ≈ 296 by its authors);
* the five HTC2022 training scans (fan beam, 360°, published centre-corrected: detector offset 0) with their
  detector offset shifted by ±2 and ±5 elements — the estimate must recover the shift (to 0.1 element);
* a simulated 360° parallel scan with ring artefacts (stripes in the sinogram) and noise, known offset.

recon: :func:`recon.analytic.centre.estimate_centre` (opposite rays where the scan has them, else Vo's Fourier
double wedge); algotom: ``find_center_vo`` (Vo 2014) on the first 180° of each sinogram (for the fan scans the
approximation a parallel-beam tool makes), ``find_center_360`` on 360° parallel data. Columns are 0-based
detector columns of the rotation axis.

    python scripts/bench_centre.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import recon
from recon.analytic.centre import estimate_centre


def _algotom():
    try:
        from algotom.prep import calculation
    except ImportError:
        return None
    return calculation


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _row(name, reference, ours, t_ours, theirs, t_theirs, method):
    ref = "" if reference is None else f"{reference:.2f}"
    err = "" if reference is None else f"{ours - reference:+.3f}"
    terr = "" if reference is None or theirs is None else f"{theirs - reference:+.3f}"
    th = "n/a" if theirs is None else f"{theirs:.2f}"
    print(f"| {name} | {ref} | {ours:.3f} | {err} | {t_ours:.2f} | {method} | {th} | {terr} | "
          f"{'' if t_theirs is None else f'{t_theirs:.2f}'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    args = parser.parse_args()
    data = Path(args.data)
    algotom = _algotom()
    print("| scan | reference column | recon | error | s | recon method | algotom | error | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    tooth = recon.read_scan(data / "tooth" / "tooth.h5")
    sino = np.asarray(tooth.sinogram, dtype=np.float64)
    est, t = _timed(lambda: estimate_centre(sino, tooth.geometry))
    theirs, tt = (None, None) if algotom is None else _timed(lambda: algotom.find_center_vo(sino[0], ncore=1))
    _row("tooth (slice 0+1), 180° parallel", None, est.column, t, theirs, tt, est.method)
    for path in sorted((data / "htc2022-training").glob("htc2022_*_full.mat")):
        scan = recon.read_scan(path)
        g0 = scan.geometry
        mid = (g0.n_det - 1) / 2.0
        for shift in (-5, -2, 2, 5):  # the data moved by `shift` elements: the axis is then at mid + shift
            moved = np.zeros_like(scan.sinogram)
            if shift > 0:
                moved[:, shift:] = scan.sinogram[:, :-shift]
            else:
                moved[:, :shift] = scan.sinogram[:, -shift:]
            est, t = _timed(lambda: estimate_centre(moved, g0))
            theirs, tt = (None, None)
            if algotom is not None:
                theirs, tt = _timed(lambda: algotom.find_center_vo(moved[:360], ncore=1))
            _row(f"{path.stem.replace('htc2022_', '').replace('_full', '')} shifted {shift:+d}", mid + shift,
                 est.column, t, theirs, tt, est.method)
    rng = np.random.default_rng(0)
    g = recon.ParallelBeam(np.linspace(0, 2 * np.pi, 720, endpoint=False), 400, 0.25, 256, 0.35, det_offset=-3.1)
    sim = recon.ray_transform(recon.shepp_logan(radius=40.0), g)
    sim = sim + rng.normal(0, 0.01 * sim.max(), sim.shape) + rng.normal(0, 0.02 * sim.max(), (1, g.n_det)) * \
        (rng.random((1, g.n_det)) < 0.05)  # noise, and stripes (rings) on 5 % of the columns
    reference = (g.n_det - 1) / 2.0 + 3.1 / 0.25
    est, t = _timed(lambda: estimate_centre(sim, g.replace(det_offset=0.0)))
    theirs, tt = (None, None)
    if algotom is not None:
        theirs, tt = _timed(lambda: algotom.find_center_360(sim, 100, ncore=1)[0])
    _row("simulated 360° parallel, rings + noise", reference, est.column, t, theirs, tt, est.method)


if __name__ == "__main__":
    main()
