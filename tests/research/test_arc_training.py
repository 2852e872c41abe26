"""The research helpers for training on arcs at random starts (research/arc_training.py) lower the loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from research.arc_training import ArcSample, arc_loss, fit_filter_on_arcs, train_on_arcs

import recon
from recon.analytic.arcs import cut_arc
from recon.analytic.recipe import tune_recipe
from recon.models import LearnedFBP, load_model, save_model

from ..helpers import ARC_STEP, arc_fan, holes_phantom


pytestmark = pytest.mark.slow


def test_training_on_a_tiny_arc_lowers_the_loss_and_saves_with_its_geometry(tmp_path):
    torch.manual_seed(0)
    full = arc_fan(180, image_size=32)
    length = math.radians(60)
    pool = []
    for seed in range(6):
        shapes = holes_phantom(seed)
        p = torch.tensor(recon.ray_transform(shapes, full))
        pool.append((p, torch.tensor(recon.rasterize(shapes, full))))

    def draw(rng, k):
        out = []
        for _ in range(k):
            p, t = pool[int(rng.integers(len(pool)))]
            arc, g = cut_arc(p, full, length, ARC_STEP * int(rng.integers(180)))
            out.append(ArcSample(arc, g, t))
        return out

    val = draw(np.random.default_rng(99), 4)
    g0 = val[0].geometry.replace(angles=val[0].geometry.angles - val[0].geometry.angles[0])
    tuned = tune_recipe([s.sinogram for s in val], [s.target for s in val], [s.geometry for s in val],
                        windows=("ram-lak", "hann"), cutoffs=(0.5, 1.0), tapers=(0.0, 0.1), fit_scale=True)
    model = LearnedFBP.from_recipe(g0, tuned.recipe, "filter+weights", filter_basis=8, positivity=True, dtype=torch.float64)
    before = float(arc_loss(model, val))
    assert before == pytest.approx(tuned.mse, rel=0.2)  # positivity only helps
    fit = fit_filter_on_arcs(model, val)
    assert fit["loss"] <= fit["loss_before"]
    history = train_on_arcs(model, draw, steps=8, batch_size=2, lr=3e-2, smoothness=1.0)
    after = float(arc_loss(model, val))
    assert after < 0.9 * before and len(history) == 8
    path = save_model(model, tmp_path / "model.pt")
    loaded = load_model(path)
    assert loaded.geometry == model.geometry
    s = val[1]
    torch.testing.assert_close(loaded.for_geometry(s.geometry)(s.sinogram), model.for_geometry(s.geometry)(s.sinogram))

