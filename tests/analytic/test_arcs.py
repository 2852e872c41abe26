"""Arcs of a scan (limited angle, short scans): Parker weights, end tapers, cutting arcs, and the recipe
grid search recovering a known window, taper and scale."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import recon
from recon.analytic.arcs import arc_view_indices, cut_arc, end_taper
from recon.analytic.recipe import FBPRecipe, tune_recipe
from recon.analytic.weights import parker_weights, scan_coverage

from ..helpers import ARC_STEP, arc_fan, holes_phantom


def test_parker_weights_of_a_ray_and_its_conjugate_sum_to_one():
    """w(β, γ) + w(conjugate) = 1 for every ray of a short scan; the conjugate of (β, γ) is (β ± π − 2γ, −γ)
    (whichever lies on the arc; Parker weights vanish off it, so rays measured once get weight 1)."""
    delta = 0.25
    rng = np.random.default_rng(0)
    gamma = rng.uniform(-delta, delta, 500)
    beta = rng.uniform(0.0, math.pi + 2 * delta, 500)
    w = parker_weights(beta, gamma, delta)
    conj = sum(parker_weights(beta + sign * math.pi - 2 * gamma, -gamma, delta) for sign in (1, -1))
    np.testing.assert_allclose(w + conj, 1.0, atol=1e-12)
    assert np.sum((w > 0.01) & (w < 0.99)) > 50  # the redundant (blended) region is exercised


def test_end_taper_is_a_symmetric_ramp_on_arcs_and_one_for_full_scans():
    g = arc_fan(46)  # a 90° arc
    t = end_taper(g, math.radians(10))
    assert t[0] == 0.0 and t[-1] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(t, t[::-1], atol=1e-12)
    assert np.all(t[5:-5] == 1.0) and 0 < t[2] < t[3] < 1
    np.testing.assert_array_equal(end_taper(g, 0.0), np.ones(g.n_views))
    np.testing.assert_array_equal(end_taper(arc_fan(180), math.radians(10)), np.ones(180))  # full 360° scan


def test_cut_arc_wraps_through_zero_and_keeps_arc_order():
    full = arc_fan(180)
    sino = np.arange(180.0)[:, None] * np.ones((1, 64))
    arc, g = cut_arc(sino, full, math.radians(90), math.radians(350))
    assert g.n_views == 46 and scan_coverage(g).kind == "limited"
    np.testing.assert_allclose(np.diff(g.angles), ARC_STEP)
    assert math.degrees(g.angles[0]) == pytest.approx(350.0)
    np.testing.assert_array_equal(arc[:, 0], np.r_[175:180, 0:41])
    np.testing.assert_array_equal(arc_view_indices(full, math.radians(90), math.radians(350)), np.r_[175:180, 0:41])


def test_tuning_finds_the_scale_and_the_known_window():
    full = arc_fan(180)
    g = cut_arc(np.zeros(full.sino_shape), full, math.radians(90))[1]
    sinos = torch.stack([torch.tensor(recon.ray_transform(holes_phantom(s), g)) for s in range(2)])
    truth = FBPRecipe("hann", 0.6, taper=math.radians(10), scale=2.0)
    targets = truth.reconstruct(sinos, g)  # data made by a member of the search grid
    tuned = tune_recipe(sinos, targets, g, windows=("ram-lak", "hann"), cutoffs=(0.6, 1.0),
                        tapers=(0.0, math.radians(10)), fit_scale=True)
    best = tuned.recipe
    assert (best.filter, best.cutoff, best.taper) == ("hann", 0.6, pytest.approx(math.radians(10)))
    assert best.scale == pytest.approx(2.0) and tuned.mse < 1e-20
    assert "hann, cut-off 0.6, taper 10°" in tuned.describe()

