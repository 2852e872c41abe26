"""Benchmark analytic FBP on the CPU against peers, in the same run.

* parallel 512², 360 views over π × 768 detectors: ``recon.fbp`` vs ASTRA's CPU ``FBP`` algorithm and
  scikit-image's ``iradon`` (both Ram-Lak);
* fan beam (flat) 512², 720 views over 2π × 768 detectors: ``recon.fbp`` vs torchtomo's CPU ``FanBeam.fbp``
  (ASTRA has no CPU fan-beam FBP).

Each timing is the median of ``--repeat`` runs after one warm-up run (which includes any JIT compilation;
recon's compiled kernels are cached on disk after the very first use). Peers that are not installed are
reported as n/a. Accuracy is reported too (relative L2 to the rasterised phantom inside the field of view)
so that a fast but wrong peer does not look good.

    python scripts/bench_fbp.py [--size 512] [--repeat 3]
"""

from __future__ import annotations

import argparse
from typing import Callable, Optional

import numpy as np
import torch
from benchlib import bench_geometries, machine, timed

import recon
from recon.interop import to_astra


def astra_parallel_fbp(geom: recon.ParallelBeam, sino: np.ndarray) -> Optional[Callable[[], np.ndarray]]:
    try:
        import astra
    except ImportError:
        return None
    vg, pg = to_astra(geom)  # lengths in mm: ASTRA's FBP is μ in 1/mm
    pid = astra.create_projector("linear", pg, vg)
    sid = astra.data2d.create("-sino", pg, sino)
    rid = astra.data2d.create("-vol", vg, 0)
    cfg = astra.astra_dict("FBP")
    cfg.update(ProjectorId=pid, ProjectionDataId=sid, ReconstructionDataId=rid)
    cfg["option"] = {"FilterType": "ram-lak"}
    alg = astra.algorithm.create(cfg)

    def run() -> np.ndarray:
        astra.algorithm.run(alg)
        return astra.data2d.get(rid)
    return run


def skimage_iradon(geom: recon.ParallelBeam, sino: np.ndarray) -> Optional[Callable[[], np.ndarray]]:
    try:
        from skimage.transform import iradon
    except ImportError:
        return None
    # scikit-image needs detector pitch = pixel size and n_det = N, and centres its grids on pixel N // 2
    # (recon: (N - 1) / 2): give it its own exact sinogram of the phantom moved by that half pixel
    n, px = geom.image_size, geom.pixel_size
    half = 0.0 if n % 2 else 0.5 * px
    own = geom.replace(n_det=n, det_spacing=px, det_offset=-half)
    moved = [recon.Ellipse(e.value, (e.center[0] - half, e.center[1] + half), e.axes, e.angle)
             for e in recon.shepp_logan(radius=95.0)]
    data = recon.ray_transform(moved, own).T.copy()

    def run() -> np.ndarray:
        return iradon(data, theta=np.rad2deg(geom.angles), filter_name="ramp", circle=True,
                      output_size=geom.image_size) / geom.pixel_size
    return run


def torchtomo_fan_fbp(geom: recon.FanBeam, sino: np.ndarray) -> Optional[Callable[[], np.ndarray]]:
    try:
        import torchtomo
    except ImportError:
        return None
    # torchtomo works in pixel units with its own conventions: it reconstructs a sinogram made by its own
    # projector from the same phantom image, with the same array sizes and distances
    px = geom.pixel_size
    projector = torchtomo.FanBeam(img_size=geom.image_size, n_angles=geom.n_views, n_det=geom.n_det,
                                  src_dist=geom.sod / px, det_dist=(geom.sdd - geom.sod) / px,
                                  det_spacing=geom.det_spacing / px, backend="torch")
    image = torch.from_numpy(recon.rasterize(recon.shepp_logan(radius=95.0), geom)).float()[None, None]
    with torch.no_grad():
        tensor = projector(image)

    def run() -> np.ndarray:
        with torch.no_grad():
            return projector.fbp(tensor, filter_name="ramp")[0, 0].numpy()
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="image size N (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (default: %(default)s)")
    args = parser.parse_args(argv)
    n = args.size
    px = 200.0 / n
    phantom = recon.shepp_logan(radius=95.0)
    geoms = bench_geometries(n)
    par, fan = geoms["parallel"], geoms["fan flat"]

    print(f"# FBP benchmark — {machine()}")
    print("| case | implementation | first call (s) | median (s) | peer time / recon time | rel. L2 to phantom |")
    print("|---|---|---|---|---|---|")
    for case, geom, peers in (("parallel", par, (("ASTRA CPU FBP", astra_parallel_fbp),
                                                    ("scikit-image iradon", skimage_iradon))),
                              ("fan flat", fan, (("torchtomo CPU fbp", torchtomo_fan_fbp),))):
        sino = recon.ray_transform(phantom, geom).astype(np.float32)
        truth = recon.rasterize(phantom, geom)
        r = np.hypot(*np.meshgrid(geom.pixel_coords, geom.pixel_coords))
        fov = r < 0.95 * n * px / 2

        def rel(img: np.ndarray) -> str:
            return f"{np.linalg.norm((img - truth)[fov]) / np.linalg.norm(truth[fov]):.3f}"

        label = f"{case} {n}², {geom.n_views}×{geom.n_det}"
        warm, ours, img = timed(lambda: recon.fbp(sino, geom), args.repeat)
        img = np.asarray(img, dtype=np.float64)
        print(f"| {label} | recon.fbp | {warm:.2f} | {ours:.3f} | 1.0 | {rel(img)} |")
        for name, make in peers:
            fn = make(geom, sino)
            if fn is None:
                print(f"| {label} | {name} | n/a | n/a | n/a | n/a |")
                continue
            warm, t, img = timed(fn, args.repeat)
            img = np.asarray(img, dtype=np.float64)
            print(f"| {label} | {name} | {warm:.2f} | {t:.3f} | {t / ours:.1f}× | {rel(img)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
