"""Models saved before the package moved into its layers (recon 0.1.0, tests/data/*_v0.1.pt) load and give
the outputs they gave then."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import recon
from recon.models import load_model


DATA = Path(__file__).resolve().parents[1] / "data"
FAN = recon.FanBeam(np.linspace(0, 2 * np.pi, 24, endpoint=False), n_det=32, det_spacing=0.5, image_size=24,
                    pixel_size=0.5, sod=60.0, sdd=100.0)
ARC = FAN.replace(angles=np.deg2rad(np.arange(0, 91, 15.0)))


@pytest.mark.parametrize("name, cls, geometry", [
    ("learned_fbp", recon.LearnedFBP, FAN), ("view_upsampled_fbp", recon.ViewUpsampledFBP, FAN),
    ("fan_to_parallel", recon.FanToParallel, FAN), ("limited_angle", recon.LearnedFBP, ARC)])
def test_a_model_saved_by_0_1_loads_and_reproduces_its_output(name, cls, geometry):
    model = load_model(DATA / f"{name}_v0.1.pt")
    assert type(model) is cls and model.geometry.n_views == geometry.n_views
    assert model.metadata["note"].startswith("saved by recon 0.1.0")
    x = torch.as_tensor(recon.ray_transform(recon.shepp_logan(radius=5.0), geometry)).float()
    with torch.no_grad():
        out = model(x).numpy()
    expected = np.load(DATA / "outputs_v0.1.npz")[name]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    assert np.abs(expected).max() > 0
