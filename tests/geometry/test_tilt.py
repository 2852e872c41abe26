"""A detector turned in its plane: untilted it is the FanBeam's own vectors; a tilted circular scan is recognised
(and a wobbling one is not); resampling the data of a tilted detector onto the untilted one gives the untilted
detector's data (inside interpolation error)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import recon
from recon.geometry import tilted_circle, tilted_fan, untilt_sinogram
from recon.operators.geometric import project_geometry

FAN = recon.FanBeam(np.linspace(0, 2 * np.pi, 90, endpoint=False), 128, 0.5, 64, 0.5, sod=200.0, sdd=260.0,
                    det_offset=0.8)


def test_untilted_it_is_the_fan_beam_and_a_tilted_circle_is_recognised():
    np.testing.assert_allclose(tilted_fan(FAN, 0.0).vectors, FAN.view_vectors().as_array(), rtol=0, atol=1e-12)
    fan, tilt = tilted_circle(tilted_fan(FAN, 0.04))
    assert tilt == pytest.approx(0.04, abs=1e-12) and (fan.sod, fan.sdd, fan.det_offset) == pytest.approx(
        (200.0, 260.0, 0.8), abs=1e-9)
    np.testing.assert_allclose(fan.angles, FAN.angles, atol=1e-12)
    rows = tilted_fan(FAN, 0.04).vectors.copy()
    rows[:, 0] += 0.5 * np.sin(np.arange(90))  # a wobbling source is not a circle
    assert tilted_circle(recon.FanBeamVec(rows, 128, 64, 0.5)) is None
    assert tilted_circle(FAN) is None  # (a FanBeam is a circle already)
    with pytest.raises(ValueError, match="below 45°"):
        tilted_fan(FAN, math.radians(50))


def test_data_of_a_tilted_detector_resampled_are_the_untilted_detectors():
    fine = FAN.replace(image_size=128, pixel_size=0.25)
    image = torch.as_tensor(recon.rasterize([recon.Ellipse(0.02, (1, 2), (10, 7), 0.4),
                                             recon.Ellipse(0.01, (-4, 0), (3, 3), 0.0)], fine))
    with torch.no_grad():
        tilted = project_geometry(image, fine, {"tilt": torch.tensor(0.2, dtype=torch.float64)}).numpy()
    straight = np.asarray(recon.project(image, fine))
    np.testing.assert_allclose(np.asarray(recon.project(image, tilted_fan(fine, 0.2))), tilted, rtol=1e-9, atol=1e-9)
    rel = lambda x: float(np.linalg.norm(x - straight) / np.linalg.norm(straight))  # noqa: E731
    # measured: tilted 0.035 from the untilted data, resampled 0.0076 (linear interpolation of sharp edges),
    # resampled with the wrong sign 0.030
    assert rel(untilt_sinogram(tilted, FAN, 0.2)) < 0.3 * rel(tilted) < 0.3 * rel(untilt_sinogram(tilted, FAN, -0.2)) / 0.8
    np.testing.assert_array_equal(untilt_sinogram(straight, FAN, 0.0), straight)
