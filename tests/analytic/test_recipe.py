"""The one FBP recipe: recon.fbp is its default, every option is the analytic operation it names, its grid
search finds a recipe that made the data, and it round-trips through plain data (also the older form)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import recon
from recon.analytic.arcs import cut_arc, end_taper
from recon.analytic.filtered_backprojection import fbp_weights
from recon.analytic.recipe import CUTOFFS, FBPRecipe, TunedRecipe, arc_grid, tune_recipe
from recon.analytic.views import complete_arc, upsample_views

from ..helpers import arc_fan, full_scans, holes_phantom


def test_fbp_is_the_default_recipe_bit_for_bit():
    g = full_scans()["fan-flat"]
    sino = torch.as_tensor(recon.ray_transform(holes_phantom(0), g))
    for filt, cutoff in (("ram-lak", 1.0), ("hann", 0.7)):
        assert torch.equal(recon.fbp(sino, g, filt, cutoff), FBPRecipe(filt, cutoff).reconstruct(sino, g))
    custom = FBPRecipe("cosine", 0.5).response(g)  # a user's response array takes the layer path: same numbers
    assert torch.equal(recon.fbp(sino, g, custom), recon.fbp(sino, g, "cosine", 0.5))


def test_each_option_is_the_operation_it_names():
    g = full_scans(n_views=24)["fan-arc"]
    sino = torch.as_tensor(recon.ray_transform(holes_phantom(1), g))
    up, g_up = upsample_views(sino, g, 3)
    torch.testing.assert_close(FBPRecipe("hann", 0.8, upsample=3).reconstruct(sino, g), recon.fbp(up, g_up, "hann", 0.8),
                               rtol=0, atol=0)
    arc, ga = cut_arc(torch.as_tensor(recon.ray_transform(holes_phantom(1), arc_fan())), arc_fan(), math.radians(90))
    tapered = FBPRecipe("hamming", 0.6, taper=math.radians(10), scale=1.5)
    w = 1.5 * end_taper(ga, math.radians(10))[:, None] * fbp_weights(ga, warn=False)
    np.testing.assert_allclose(tapered.weights(ga), w, rtol=1e-15)
    done, gc = complete_arc(arc, ga)
    torch.testing.assert_close(FBPRecipe(complete_views=True).reconstruct(arc, ga), recon.fbp(done, gc), rtol=0, atol=0)
    with pytest.raises(ValueError, match="not both"):
        FBPRecipe(upsample=2, complete_views=True)
    with pytest.raises(ValueError, match="unknown filter"):
        FBPRecipe("gauss")
    with pytest.raises(ValueError, match="cutoff must lie in"):
        FBPRecipe("hann", 0.0)


def test_grid_search_finds_the_recipe_that_made_the_targets_and_restricts_by_factor():
    g = full_scans(n_views=24)["fan-flat"]
    sinos = torch.stack([torch.as_tensor(recon.ray_transform(holes_phantom(s), g)) for s in range(2)])
    truth = FBPRecipe("shepp-logan", 0.6, upsample=2)
    tuned = tune_recipe(sinos, truth.reconstruct(sinos, g), g, windows=("hann", "shepp-logan"), cutoffs=(0.6, 0.9),
                        upsample=(1, 2))
    assert tuned.recipe == truth and tuned.mse < 1e-25 and len(tuned.scores) == 8
    plain = tuned.restricted((1,))
    assert plain.recipe.upsample == 1 and plain.mse > 0
    assert plain.mse == min(mse for r, (mse, _) in tuned.scores.items() if r.upsample == 1)


def test_plain_data_round_trip_and_the_earlier_limited_angle_form():
    recipe = FBPRecipe("cosine", 0.05, taper=math.radians(5), scale=1.25, complete_views=True)
    assert FBPRecipe.from_dict(recipe.to_dict()) == recipe
    older = {"filter": "hann", "cutoff": 0.03, "taper_deg": 2.5, "scale": 1.1, "mse": 1e-4, "complete_views": False}
    assert FBPRecipe.from_dict(older) == FBPRecipe("hann", 0.03, taper=math.radians(2.5), scale=1.1)
    assert TunedRecipe(recipe, 2e-5).to_dict()["mse"] == 2e-5
    assert recipe.describe() == "cosine, cut-off 0.05, taper 5°, scale 1.250"
    assert FBPRecipe("hann", 0.8, upsample=6).describe() == "views interpolated ×6, hann, cut-off 0.8"


def test_one_cutoff_grid_reaches_the_low_passes_of_arcs_and_tapers_stop_once_the_circle_is_complete():
    _, ga = cut_arc(np.zeros(arc_fan().sino_shape), arc_fan(), math.radians(90))
    assert min(CUTOFFS) <= 0.003 and max(CUTOFFS) == 1.0 and "cutoffs" not in arc_grid(ga)
    assert len(arc_grid(ga)["tapers"]) > 1 and arc_grid(ga, complete_views=True)["tapers"] == (0.0,)
