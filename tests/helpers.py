"""Test helpers: small geometries of every kind with non-uniform angles and detector offsets."""

from __future__ import annotations

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
