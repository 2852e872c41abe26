"""The registry of comparison methods decides once which baselines apply to a scan, with stable ids."""

from __future__ import annotations

import math

import numpy as np
import torch

import recon
from recon.analytic.arcs import cut_arc
from recon.analytic.recipe import FBPRecipe, TunedRecipe
from recon.evaluation.methods import BASELINES, applicable_baselines, baseline_methods, method_order

from ..helpers import arc_fan, full_scans


def test_which_baselines_apply_follows_the_scan():
    full = full_scans()
    assert applicable_baselines(full["fan-flat"]) == ["fbp_ram_lak", "fbp_tuned", "fbp_view_interpolated", "rebin_fbp",
                                                      "tv"]
    assert applicable_baselines(full["parallel-2pi"]) == ["fbp_ram_lak", "fbp_tuned", "fbp_view_interpolated", "tv"]
    irregular = full["fan-arc"].replace(angles=np.sort(np.random.default_rng(0).uniform(0, 2 * np.pi, 24)))
    assert "fbp_view_interpolated" not in applicable_baselines(irregular)
    _, arc = cut_arc(np.zeros(arc_fan().sino_shape), arc_fan(), math.radians(90))
    assert applicable_baselines(arc) == ["fbp_ram_lak", "fbp_tuned", "limited_angle_fbp", "rebin_fbp", "tv"]
    completing = recon.LearnedFBP(arc, complete_views=True)
    assert "view_completion_fbp" in applicable_baselines(arc, [completing])


def test_methods_have_stable_ids_labels_and_order():
    g = full_scans()["fan-flat"]
    tuned = {"fbp_tuned": TunedRecipe(FBPRecipe("hann", 0.7), 1e-6),
             "fbp_view_interpolated": TunedRecipe(FBPRecipe("hann", 0.8, upsample=4), 5e-7)}
    trained = baseline_methods(g, tuned, "tuned on training data")
    oracle = baseline_methods(g, {"fbp_tuned": TunedRecipe(FBPRecipe("cosine", 0.5), 1e-6)}, "oracle", "_oracle",
                              ram_lak=False)
    ids = [m.id for m in sorted(trained + oracle, key=lambda m: method_order(m.id))]
    assert ids == ["fbp_ram_lak", "fbp_tuned", "fbp_tuned_oracle", "fbp_view_interpolated"]
    by_id = {m.id: m for m in trained + oracle}
    assert by_id["fbp_tuned_oracle"].label == "FBP oracle (cosine, cut-off 0.5)"
    assert by_id["fbp_view_interpolated"].params["recipe"]["upsample"] == 4
    sino = torch.as_tensor(recon.ray_transform(recon.shepp_logan(radius=7.0), g))
    assert torch.equal(by_id["fbp_tuned"](sino), recon.fbp(sino, g, "hann", 0.7))
    assert set(BASELINES) >= {i.split("_oracle")[0] for i in ids}
    assert method_order("model_2") > method_order("rebin_fbp") and method_order("model_1") < method_order("model_2")
