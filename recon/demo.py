"""``recon demo``: a few-second tour of the operators on a Shepp–Logan phantom (the full pipeline on a real
scan replaces it once reconstruction and training land)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .analytic import rasterize, ray_transform
from .geometry import FanBeam, Geometry, ParallelBeam
from .io import atomic_output, check_writable
from .operators import backproject, project
from .phantoms import shepp_logan


def demo_geometries(size: int) -> dict[str, Geometry]:
    """Parallel 180°, fan flat 360° and fan arc 360° scans of a 200 mm field of view at ``size``² pixels."""
    px = 200.0 / size
    n_det = int(1.5 * size)
    par = ParallelBeam(np.linspace(0, np.pi, size, endpoint=False), n_det, 200.0 * 1.05 / n_det, size, px)
    fan_angles = np.linspace(0, 2 * np.pi, 2 * size, endpoint=False)
    sod, sdd = 500.0, 1000.0
    det = 2 * 1.05 * 100.0 * sdd / sod / n_det
    return {
        "parallel": par,
        "fan, flat": FanBeam(fan_angles, n_det, det, size, px, sod=sod, sdd=sdd, detector="flat"),
        "fan, arc": FanBeam(fan_angles, n_det, det, size, px, sod=sod, sdd=sdd, detector="arc"),
    }


def run_demo(out: str = "recon-demo", size: int = 256, force: bool = False) -> Path:
    """Project the phantom in each geometry, compare with exact line integrals, save ``projection.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = check_writable(Path(out) / "projection.png", force)
    phantom = shepp_logan(radius=95.0)
    rows = []
    for name, geom in demo_geometries(size).items():
        image = rasterize(phantom, geom).astype(np.float32)
        backproject(project(image, geom), geom)  # first calls compile the kernels (cached on disk afterwards)
        t0 = time.perf_counter()
        sino = project(image, geom)
        t_fp = time.perf_counter() - t0
        t0 = time.perf_counter()
        bp = backproject(sino, geom)
        t_bp = time.perf_counter() - t0
        exact = ray_transform(phantom, geom)
        rel = np.linalg.norm(sino - exact) / np.linalg.norm(exact)
        centre = sino[:, geom.n_det // 2].mean(), exact[:, geom.n_det // 2].mean()
        print(f"{name:10s} {geom.n_views:4d} views × {geom.n_det} det: project {t_fp * 1e3:7.1f} ms, "
              f"backproject {t_bp * 1e3:7.1f} ms; rel. L2 vs exact line integrals {rel:.2%}; "
              f"mean central ray {centre[0]:.4f} (exact {centre[1]:.4f})")
        rows.append((name, image, sino, sino - exact, bp))
    fig, axes = plt.subplots(len(rows), 4, figsize=(14, 3.3 * len(rows)))
    for ax_row, (name, image, sino, diff, bp) in zip(axes, rows):
        for ax, data, title in zip(ax_row, (image, sino, diff, bp),
                                   ("phantom μ (1/mm)", "projection (line integrals)",
                                    "projection − exact", "backprojection Aᵀ A x")):
            im = ax.imshow(data, cmap="gray" if "exact" not in title else "coolwarm", aspect="auto")
            ax.set_title(f"{name}: {title}", fontsize=9)
            ax.axis("off")
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    with atomic_output(figure, force) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    print(f"wrote {figure}")
    return figure
