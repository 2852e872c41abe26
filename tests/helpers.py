"""Test helpers: small geometries of every kind with non-uniform angles and detector offsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import recon


def random_angles(rng: np.random.Generator, n: int, span: float = 2 * np.pi) -> np.ndarray:
    """Unsorted, non-uniform angles in [0, span)."""
    return rng.uniform(0.0, span, size=n)


def small_geometries(seed: int = 0, n: int = 24) -> dict[str, recon.Geometry]:
    """One geometry of each kind, with random non-uniform angles and a detector offset; the detector
    covers the image so that every pixel is seen."""
    rng = np.random.default_rng(seed)
    px = 0.5
    return {
        "parallel": recon.ParallelBeam(random_angles(rng, 17, np.pi), n_det=37, det_spacing=0.45,
                                       image_size=n, pixel_size=px, det_offset=0.3),
        "fan-flat": recon.FanBeam(random_angles(rng, 19), n_det=41, det_spacing=0.9, image_size=n,
                                  pixel_size=px, sod=30.0, sdd=60.0, detector="flat", det_offset=-0.7),
        "fan-arc": recon.FanBeam(random_angles(rng, 19), n_det=41, det_spacing=0.9, image_size=n,
                                 pixel_size=px, sod=30.0, sdd=55.0, detector="arc", det_offset=0.4),
    }


def _turn(vec: np.ndarray, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return np.concatenate([c * vec[:, :1] - s * vec[:, 1:], s * vec[:, :1] + c * vec[:, 1:]], axis=1)


def irregular_geometries(seed: int = 0, n: int = 24) -> dict[str, recon.Geometry]:
    """Per-view scans no circular geometry can hold, made from :func:`small_geometries`: a parallel beam whose
    detector tilts (up to ±8°) and shifts view by view; a flat-detector fan whose source wobbles (±1.5 mm along
    and across), whose detector distance changes (±3 mm) and tilts (±6°); an arc-detector fan whose source
    wobbles, with its arc kept centred on the source."""
    rng = np.random.default_rng(seed)
    base = small_geometries(seed, n)
    out = {}
    rows = base["parallel"].view_vectors().as_array()
    nv = len(rows)
    rows[:, 4:6] = _turn(rows[:, 4:6], np.radians(rng.uniform(-8, 8, nv)))
    rows[:, 2:4] += rng.uniform(-0.4, 0.4, (nv, 1)) * rows[:, 4:6]
    out["parallel"] = recon.ParallelBeamVec(rows, base["parallel"].n_det, n, base["parallel"].pixel_size)
    g = base["fan-flat"]
    rows = g.view_vectors().as_array()
    nv = len(rows)
    rows[:, 0:2] += rng.uniform(-1.5, 1.5, (nv, 2))
    rows[:, 2:4] += rng.uniform(-3, 3, (nv, 1)) * (rows[:, 2:4] - rows[:, 0:2]) / 60.0
    rows[:, 4:6] = _turn(rows[:, 4:6], np.radians(rng.uniform(-6, 6, nv)))
    out["fan-flat"] = recon.FanBeamVec(rows, g.n_det, n, g.pixel_size)
    g = base["fan-arc"]
    rows = g.view_vectors().as_array()
    nv = len(rows)
    shift = rng.uniform(-1.5, 1.5, (nv, 2))
    rows[:, 0:2] += shift
    rows[:, 2:4] += shift  # the arc moves with its source: u stays tangent
    out["fan-arc"] = recon.FanBeamVec(rows, g.n_det, n, g.pixel_size, detector="arc")
    return out


ARC_STEP = np.radians(2.0)  # view step of arc_fan


def arc_fan(n_views: int = 180, start: float = 0.0, image_size: int = 48) -> recon.FanBeam:
    """A small fan scan (flat detector, half fan ≈ 14°) with views every 2° from ``start``."""
    return recon.FanBeam(start + np.arange(n_views) * ARC_STEP, n_det=64, det_spacing=0.75, image_size=image_size,
                         pixel_size=0.5, sod=60.0, sdd=90.0, detector="flat")


def holes_phantom(seed: int) -> list:
    """A 9 mm disc with 2–4 holes (the HTC2022 phantoms, shrunk for arc_fan)."""
    return recon.simulation.phantoms.disc_with_holes(np.random.default_rng(seed), radius=9.0, mu=0.04,
                                                     n_holes=(2, 4), size=(1.0, 3.0), gap=0.5, rim=0.5)


def full_scans(n_views: int = 24, n: int = 32) -> dict[str, recon.Geometry]:
    """Uniform full scans of every kind (a 2π parallel scan among them), for view interpolation."""
    angles = np.linspace(0, 2 * np.pi, n_views, endpoint=False) + 0.1
    return {
        "fan-flat": recon.FanBeam(angles, n_det=48, det_spacing=0.5, image_size=n, pixel_size=0.5, sod=60.0,
                                  sdd=100.0, detector="flat", det_offset=0.3),
        "fan-arc": recon.FanBeam(angles, n_det=48, det_spacing=0.5, image_size=n, pixel_size=0.5, sod=60.0,
                                 sdd=100.0, detector="arc"),
        "parallel-2pi": recon.ParallelBeam(angles, n_det=40, det_spacing=0.45, image_size=n, pixel_size=0.5),
    }


# ---- a tiny simulated fan-beam dataset and training configs for it -----------------------------------------

SIMULATION = """
[simulation]
n = {n}
seed = 3
[phantom]
family = "disc_with_holes"
radius = 7.0
mu = 0.041
[noise]
i0 = 3e4
[geometry]
type = "fan"
detector = "flat"
n_det = 48
det_spacing = 0.5
image_size = 32
pixel_size = 0.5
sod = 60.0
sdd = 100.0
angles = {{ start = 0.0, stop = 360.0, count = 72, unit = "deg" }}
{target}
"""

TARGET = """
[target_geometry]
type = "parallel"
n_det = 48
det_spacing = 0.3
image_size = 32
pixel_size = 0.5
angles = { start = 0.0, stop = 180.0, count = 36, unit = "deg" }
"""

TRAIN = """
[data]
views = 24
val_fraction = 0.2
[model]
type = "learned_fbp"
learn = "filter"
filter_basis = 12
[training]
epochs = {epochs}
batch_size = 4
lr = 5e-3
seed = 1
lstsq_check = true
"""


def train_config(folder: Path, epochs: int, text: str = TRAIN) -> Path:
    """A training config file for ``dataset`` (tests/conftest.py) with ``epochs``."""
    path = folder / f"train_{epochs}.toml"
    path.write_text(text.format(epochs=epochs))
    return path


UPSAMPLED = """
[data]
views = 24
val_fraction = 0.2
target = "full_view_fbp"
[model]
type = "view_upsampled_fbp"
factor = 3
filter = "hamming"
cutoff = 0.8
det_knots = 6
[training]
epochs = {epochs}
batch_size = 4
lr = 3e-3
loss = "mse+ssim"
ssim_weight = 0.05
init = "lstsq"
lstsq_samples = 8
seed = 2
"""

LIMITED = """
[data]
angles = [0.0, 90.0]
target = "full_view_fbp"
val_fraction = 0.2
[model]
type = "learned_fbp"
learn = "filter+weights"
filter_basis = 8
weight_basis = [4, 6]
positivity = true
[training]
epochs = {epochs}
batch_size = 4
lr = 1e-2
init = "tuned+lstsq"
lstsq_samples = 8
seed = 4
"""

UNROLLED_ARCS = """
[data]
arcs = [30.0, 90.0]
val_fraction = 0.2
[model]
type = "learned_gradient_descent"
iterations = 2
channels = 4
filter = "hann"
cutoff = 0.6
[training]
epochs = {epochs}
batch_size = 4
lr = 3e-3
loss = "mse+segmentation"
seed = 5
"""
