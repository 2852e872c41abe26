"""Reference images resampled onto a reconstruction grid keep their pixel alignment."""

from __future__ import annotations

import numpy as np

import recon
from recon.io.references import resample_to_grid


def test_reference_resampling_keeps_pixel_alignment():
    g = recon.FanBeam([0.0], 10, 1.0, 64, 0.5, sod=100, sdd=200)
    fine = np.kron(np.arange(64 * 64, dtype=float).reshape(64, 64), np.ones((2, 2)))  # 128² of 0.25 mm
    np.testing.assert_array_equal(resample_to_grid(fine, 0.25, g), np.arange(64 * 64).reshape(64, 64))
    same = resample_to_grid(fine[::2, ::2], 0.5, g)
    np.testing.assert_array_equal(same, np.arange(64 * 64).reshape(64, 64))
    odd = resample_to_grid(fine, 0.25 * 64 / 63, g.replace(image_size=63, pixel_size=0.5 * 64 / 63 * 64 / 64))
    assert odd.shape == (63, 63) and np.isfinite(odd).all()

