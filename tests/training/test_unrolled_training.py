"""Training one unrolled network for every arc: the arcs drawn per batch are a function of (seed, epoch, batch),
so a resumed run is the straight one; the loss falls; the model applies to any arc of its range."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import recon
from recon.analytic.arcs import cut_arc
from recon.app.cli import main
from recon.models import LearnedGradientDescent, load_model
from recon.simulation.dataset import SimulatedDataset, load_samples
from recon.training.arcs import ArcSampler
from recon.training.losses import soft_segmentation_loss, training_loss

from ..helpers import UNROLLED_ARCS, train_config


def test_arc_sampler_draws_every_length_and_start_reproducibly():
    g = recon.FanBeam(np.radians(np.arange(720) * 0.5), n_det=16, det_spacing=1.0, image_size=8, pixel_size=1.0,
                      sod=100.0, sdd=150.0)
    sampler = ArcSampler(g, 30.0, 90.0)
    lengths, starts = set(), set()
    for b in range(400):
        idx, arc = sampler.draw(7, 2, b)
        span = math.degrees(arc.angles[-1] - arc.angles[0])
        assert 30.0 - 1e-9 <= span <= 90.0 + 1e-9 and arc.n_views == idx.size
        np.testing.assert_allclose(np.mod(arc.angles, 2 * math.pi), g.angles[idx], atol=1e-12)
        lengths.add(round(span, 6))
        starts.add(int(idx[0]))
    assert len(lengths) > 80 and len(starts) > 200  # of 121 lengths and 720 starts
    np.testing.assert_array_equal(sampler.draw(7, 2, 5)[0], sampler.draw(7, 2, 5)[0])
    assert not np.array_equal(sampler.draw(7, 2, 5)[0], sampler.draw(7, 3, 5)[0])
    spans = [math.degrees(np.ptp(sampler.validation(b)[1].angles)) for b in range(7)]
    np.testing.assert_allclose(spans, [90, 80, 70, 60, 50, 40, 30])
    assert sampler.longest_arc().n_views == 181
    with pytest.raises(ValueError, match="full circle"):
        ArcSampler(g.replace(angles=g.angles[:300]), 30.0, 90.0)


def test_segmentation_loss_rewards_the_right_side_of_the_threshold():
    target = torch.zeros(1, 8, 8)
    target[0, 2:6, 2:6] = 0.04
    right, wrong = target.clone(), target.clone()
    right[0, 2, 2] = 0.025  # off by 0.015 but above half the maximum
    wrong[0, 2, 2] = 0.015  # off by 0.025 and below it
    assert soft_segmentation_loss(right, target) < soft_segmentation_loss(wrong, target)
    assert soft_segmentation_loss(target, target) < soft_segmentation_loss(0.5 * target, target)
    with pytest.raises(ValueError, match="loss must be one of"):
        training_loss(target, target, "segmentation")


@pytest.mark.slow
def test_arc_training_resumes_exactly_and_applies_to_any_arc(dataset, tmp_path, capsys):
    straight, split = tmp_path / "straight", tmp_path / "split"
    text = UNROLLED_ARCS
    assert main(["train", "--config", str(train_config(tmp_path, 3, text)), "--data", str(dataset), "--out",
                 str(straight)]) == 0
    config = train_config(tmp_path, 2, text)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(split)]) == 0
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(split), "--resume",
                 "--epochs", "3"]) == 0
    a, b = load_model(straight), load_model(split)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=name)
    summary = json.loads((straight / "metrics.json").read_text())
    assert summary["arcs"] == [30.0, 90.0] and not (straight / "filter.png").exists()
    history = summary["history"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert isinstance(a, LearnedGradientDescent) and a.arcs == (30.0, 90.0)
    assert a.geometry.n_views == 19  # the longest arc: 90° of 5° steps, both ends
    # applied to arcs of the dataset's scans at any start, it beats its analytic start there
    full = SimulatedDataset(dataset).geometry
    samples = load_samples(dataset, "images", None)
    untrained = LearnedGradientDescent(a.geometry, iterations=2, channels=4, filter="hann", cutoff=0.6,
                                       arcs=(30, 90))
    for length, start in ((45.0, 35.0), (85.0, 300.0)):
        sino, g = cut_arc(samples.inputs, full, math.radians(length), math.radians(start))
        with torch.no_grad():
            err = float((a(sino, geometry=g) - samples.targets).square().mean())
            err0 = float((untrained(sino, geometry=g) - samples.targets).square().mean())
        assert err < err0


@pytest.mark.parametrize("change, message", [
    (("arcs = [30.0, 90.0]", "arcs = [30.0, 90.0]\nviews = 12"), "without views or angles"),
    (("arcs = [30.0, 90.0]", "arcs = [90.0, 30.0]"), "shortest <= longest"),
    (("arcs = [30.0, 90.0]", "arcs = [30.0]"), r"\[data\] arcs must be"),
    (('type = "learned_gradient_descent"', 'type = "learned_fbp"'), "needs a model that takes any arc"),
    (("seed = 5", 'seed = 5\nschedule = "step"'), "schedule must be one of"),
    (("seed = 5", "seed = 5\ngrad_clip = -1.0"), "grad_clip must be >= 0"),
    (("seed = 5", "seed = 5\nsegmentation_weight = -0.1"), "segmentation_weight >= 0"),
])
def test_bad_arc_configs_name_the_key(change, message):
    from recon.training.config import parse_train_config

    text = UNROLLED_ARCS.format(epochs=1)
    assert change[0] in text
    with pytest.raises(ValueError, match=message):
        parse_train_config(text.replace(change[0], change[1]), "bad.toml")
    parse_train_config(text, "good.toml")
