"""compare_scan with trained models: each conversion's own window, the stored limited-angle baselines and
their oracles, view completion; the tuned baselines are computed once per run (cached beside it)."""

from __future__ import annotations

import json

import pytest
import torch

from recon.app.cli import main
from recon.models import load_model

from ..helpers import LIMITED, train_config


pytestmark = pytest.mark.slow


def test_view_upsampled_conversion_trains_and_compare_tunes_each_conversions_window(dataset, tmp_path):
    """factor = 2: the 2-D filter of the conversion trains below its analytic start (view-interpolated
    conversion); ``compare`` rebins to the network's output geometry and gives rebinning and the network each
    its own parallel-FBP window, tuned on the network's training data."""
    import numpy as np

    from recon.evaluation.compare import compare_scan
    from recon.io.scan import Scan
    from recon.simulation.dataset import load_samples

    text = """
[model]
type = "fan_to_parallel"
factor = 2
grid_pixel = 0.3
det_knots = 4
[training]
epochs = 3
batch_size = 4
lr = 1e-2
"""
    config = tmp_path / "f2p_up.toml"
    config.write_text(text)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "up")]) == 0
    model = load_model(tmp_path / "up")
    assert model.factor == 2 and model.learned_parts() == "×2 views, 2-D filter"
    history = json.loads((tmp_path / "up" / "metrics.json").read_text())["history"]
    data = load_samples(dataset, "target_sinograms")
    analytic = type(model).from_config(model.config())
    with torch.no_grad():
        err_start = float(torch.mean((analytic(data.inputs) - data.targets) ** 2))
    assert history[-1]["val_loss"] < history[0]["val_loss"] and history[-1]["train_loss"] < 0.9 * err_start
    full = load_samples(dataset, "images", max_samples=1)
    scan, phantom = Scan(full.inputs[0].numpy(), full.geometry), full.targets[0].numpy().astype(np.float64)
    r = (np.arange(32) - 15.5) * 0.5
    disc = (np.hypot(*np.meshgrid(r, r)) < 7.0).astype(np.uint8)
    c = compare_scan(scan, [model], phantom, disc)
    rebinned, learned = c.methods["rebin_fbp"]["label"], c.methods["model_1"]["label"]
    assert rebinned.startswith("rebin + FBP (") and learned.startswith("learned FanToParallel (×2 views, 2-D filter) + FBP (")
    assert rebinned.endswith(", tuned on training data)") and learned.endswith(", tuned on training data)")
    assert c.recs["rebin_fbp"].geometry.n_views == model.output_geometry.n_views == 36
    assert c.scores["model_1"]["rmse"] < 1.1 * c.scores["rebin_fbp"]["rmse"]  # a 32² toy: only a sanity bound here


def _compare_on_arc(dataset, model, start_deg: float, stop_deg: float, tv: bool = False):
    """``compare_scan`` of the first simulated scan cut to the arc START:STOP (degrees), against its phantom;
    the discs' outline is the segmentation (the holes leave no flat region in these tiny images)."""
    import math

    import numpy as np

    from recon.evaluation.compare import compare_scan
    from recon.io.scan import Scan
    from recon.simulation.dataset import load_samples

    full = load_samples(dataset, "images", max_samples=1)
    scan, phantom = Scan(full.inputs[0].numpy(), full.geometry), full.targets[0].numpy().astype(np.float64)
    r = (np.arange(32) - 15.5) * 0.5
    disc = (np.hypot(*np.meshgrid(r, r)) < 7.0).astype(np.uint8)
    c = compare_scan(scan, [model], phantom, disc, angles=(math.radians(start_deg), math.radians(stop_deg)), tv=tv)
    return c


def test_limited_angle_training_starts_from_the_tuned_baseline_and_compare_reports_it(dataset, tmp_path, capsys):
    """The limited-angle recipe through the CLI: a 90° arc of the 72-view scans, the tuned limited-angle FBP as
    the start (stored in the run), least-squares filter, Adam on filter + smooth weights with a ReLU output;
    the trained model beats that baseline, and ``compare`` applies it to an arc at another start next to the
    same baseline."""
    import numpy as np

    from recon.analytic.recipe import FBPRecipe
    from recon.simulation.dataset import load_samples

    config = train_config(tmp_path, 3, LIMITED)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "tuned limited-angle FBP start on 8 samples" in out and "least-squares start" in out
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary["angles"] == [0.0, 90.0]
    baseline = FBPRecipe.from_dict(summary["limited_angle_baseline"])
    model = load_model(tmp_path / "run")
    assert model.geometry.n_views == 19 and np.degrees(model.geometry.angles[-1]) == pytest.approx(90.0)
    data = load_samples(dataset, "full_view_fbp", views=np.arange(19))
    with torch.no_grad():
        err_model = float(torch.mean((model(data.inputs) - data.targets) ** 2))
    err_baseline = float(torch.mean((baseline.reconstruct(data.inputs.double(), data.geometry) - data.targets) ** 2))
    assert err_model < 0.8 * err_baseline
    # a real-scan comparison on the arc from 180° to 270°: the model moves there, next to the stored baseline
    c = _compare_on_arc(dataset, model, 180.0, 270.0, tv=True)
    assert c.context["n_views_used"] == 19
    # TV as a method: λ tuned on the run's training data, and against the reference (so no worse there)
    assert c.methods["tv"]["label"].startswith("TV (Chambolle–Pock) tuned on training data (λ ")
    assert c.scores["tv_oracle"]["rmse"] <= c.scores["tv"]["rmse"] * (1 + 1e-6)
    assert all(s["seconds"] > 0 for s in c.scores.values())  # every method's run time
    label = c.methods["limited_angle_fbp"]["label"]
    assert label.startswith("limited-angle FBP tuned on training data (") and baseline.describe() in label
    assert c.methods["limited_angle_fbp_clipped"]["label"] == "limited-angle FBP tuned on training data, clipped at 0"
    assert "limited_angle_fbp_oracle" not in c.scores  # the stored baseline stands in for it
    assert c.scores["model_1"]["rmse"] < c.scores["limited_angle_fbp"]["rmse"]


def test_view_completion_model_trains_through_the_cli_and_compare_shows_its_analytic_start(dataset, tmp_path):
    """``complete_views = true``: the tuned start is the FBP of the completed circle (stored with the run), the
    trained model beats it, and ``compare`` on an arc through 0° lists it next to the plain limited-angle FBP
    (oracle-tuned)."""
    import numpy as np

    from recon.analytic.recipe import FBPRecipe
    from recon.simulation.dataset import load_samples

    text = LIMITED.replace("positivity = true", "positivity = true\ncomplete_views = true")
    assert main(["train", "--config", str(train_config(tmp_path, 2, text)), "--data", str(dataset), "--out",
                 str(tmp_path / "run")]) == 0
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    start = FBPRecipe.from_dict(summary["limited_angle_baseline"])
    assert start.complete_views
    model = load_model(tmp_path / "run")
    assert model.complete_views and model.geometry.n_views == 19 and model.weights.initial.shape[0] == 72
    data = load_samples(dataset, "full_view_fbp", views=np.arange(19))
    with torch.no_grad():
        err_model = float(torch.mean((model(data.inputs) - data.targets) ** 2))
    err_start = float(torch.mean((start.reconstruct(data.inputs.double(), data.geometry) - data.targets) ** 2))
    assert err_model < err_start
    c = _compare_on_arc(dataset, model, 315.0, 45.0)  # an arc through 0°
    assert c.methods["view_completion_fbp"]["label"].startswith("view completion + limited-angle FBP tuned on "
                                                                "training data (")
    assert c.methods["limited_angle_fbp_oracle"]["label"].startswith("limited-angle FBP oracle (")

