"""Arc scans through the file workflow: an arc model moved to the scan's arc, HTC2022 limited files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.io
import torch

import recon
from recon.io import read_htc_mat, read_scan
from recon.analytic.arcs import cut_arc
from recon.analytic.recipe import FBPRecipe
from recon.models import LearnedFBP
from recon.analytic.weights import scan_coverage

from ..helpers import arc_fan, holes_phantom


def test_limited_angle_htc_file_loads_and_reconstructs_at_its_start(tmp_path):
    """A ``*_limited.mat`` of the HTC2022 layout (struct CtDataLimited, angles of the arc in degrees)."""
    full = arc_fan(180, image_size=32)
    angles = 36.0 + np.arange(31) * 2.0  # a 60° arc from 36°
    arc, g = cut_arc(recon.ray_transform(holes_phantom(5), full), full, math.radians(60), math.radians(36))
    params = {"angles": angles, "distanceSourceOrigin": 60.0, "distanceSourceDetector": 90.0,
              "numDetectorsPost": 64, "pixelSizePost": 0.75, "effectivePixelSizePost": 0.5,
              "projectName": "synthetic limited"}
    path = tmp_path / "htc2022_xx_limited.mat"
    scipy.io.savemat(path, {"CtDataLimited": {"type": "sinogram", "sinogram": arc.astype(np.float32),
                                              "parameters": params}})
    scan = read_htc_mat(path, image_size=32)
    assert scan.info["struct"] == "CtDataLimited" and not scan.info["dropped_duplicate_view"]
    assert scan.sinogram.shape == (31, 64)
    assert read_scan(path, image_size=32).sinogram.shape == (31, 64)
    np.testing.assert_allclose(scan.geometry.angles, g.angles, atol=1e-9)
    cov = scan_coverage(scan.geometry)
    assert cov.kind == "limited" and math.degrees(cov.start) == pytest.approx(36.0)
    # a model made for the arc at 0° reconstructs it (retargeted), as the baseline does
    g0 = scan.geometry.replace(angles=scan.geometry.angles - scan.geometry.angles[0])
    baseline = FBPRecipe("hann", 0.8, taper=math.radians(5), scale=1.2)
    model = LearnedFBP.from_recipe(g0, baseline, "filter+weights", dtype=torch.float64).for_geometry(scan.geometry)
    x = torch.tensor(scan.sinogram, dtype=torch.float64)
    torch.testing.assert_close(model(x), baseline.reconstruct(x, scan.geometry), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("start_deg, stop_deg", [(36.0, 96.0), (330.0, 30.0)])
def test_reconstruct_moves_an_arc_model_to_the_scan_arc(tmp_path, start_deg, stop_deg):
    """``recon reconstruct --angles START:STOP`` with a model trained on the arc at 0°: the scan's arc (also one
    that wraps through 0°, whose views the full scan stores out of arc order) is reconstructed as the
    baseline reconstructs it at its own start; an arc of another length is refused with a clear message."""
    from recon.io.scan import Scan
    from recon.app.reconstruct import reconstruct_learned

    full = arc_fan(180, image_size=32)
    scan = Scan(recon.ray_transform(holes_phantom(3), full).astype(np.float32), full)
    baseline = FBPRecipe("hann", 0.8, taper=math.radians(5), scale=1.2)
    g0 = cut_arc(scan.sinogram, full, math.radians(60), 0.0)[1]
    model = LearnedFBP.from_recipe(g0, baseline, "filter+weights", dtype=torch.float64)
    arc = scan.select_angles(math.radians(start_deg), math.radians(stop_deg))
    rec = reconstruct_learned(arc, model)
    expected_sino, expected_geom = cut_arc(scan.sinogram.astype(np.float64), full, math.radians(60),
                                           math.radians(start_deg))
    np.testing.assert_allclose(rec.image, baseline.reconstruct(expected_sino, expected_geom), rtol=1e-5,
                               atol=1e-6 * np.abs(rec.image).max())
    np.testing.assert_allclose(model.geometry.angles, g0.angles)  # the model itself stays on its arc
    with pytest.raises(ValueError, match="cut the scan.s arc"):
        reconstruct_learned(scan.select_angles(math.radians(10), math.radians(100)), model)

