"""recon train / recon evaluate on a tiny simulated dataset: the loss falls to the least-squares optimum,
resume continues exactly, the run folder is complete, DDP runs with 2 CPU processes, bad configs fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from recon.app.cli import main
from recon.metrics import ssim
from recon.models import LearnedFBP, load_model
from recon.simulation.simulate import simulate_to_file

SIMULATION = """
[simulation]
n = {n}
seed = 3
[phantom]
family = "disc_with_holes"
radius = 7.0
mu = 0.041
[noise]
i0 = 3e4
[geometry]
type = "fan"
detector = "flat"
n_det = 48
det_spacing = 0.5
image_size = 32
pixel_size = 0.5
sod = 60.0
sdd = 100.0
angles = {{ start = 0.0, stop = 360.0, count = 72, unit = "deg" }}
{target}
"""

TARGET = """
[target_geometry]
type = "parallel"
n_det = 48
det_spacing = 0.3
image_size = 32
pixel_size = 0.5
angles = { start = 0.0, stop = 180.0, count = 36, unit = "deg" }
"""

TRAIN = """
[data]
views = 24
val_fraction = 0.2
[model]
type = "learned_fbp"
learn = "filter"
filter_basis = 12
[training]
epochs = {epochs}
batch_size = 4
lr = 5e-3
seed = 1
lstsq_check = true
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    (folder / "sim.toml").write_text(SIMULATION.format(n=30, target=TARGET))
    return simulate_to_file(folder / "sim.toml", folder / "sim.h5", workers=1)


def _config(folder: Path, epochs: int, text: str = TRAIN) -> Path:
    path = folder / f"train_{epochs}.toml"
    path.write_text(text.format(epochs=epochs))
    return path


def test_training_reaches_the_least_squares_optimum_and_writes_the_run(dataset, tmp_path, capsys):
    config = _config(tmp_path, 25)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "run")]) == 0
    run = tmp_path / "run"
    summary = json.loads((run / "metrics.json").read_text())
    history = summary["history"]
    assert len(history) == 25 and history[-1]["val_loss"] < history[0]["val_loss"]
    lstsq = summary["lstsq"]
    assert lstsq["loss"] < lstsq["loss_analytic"]
    assert summary["final_train_mse"] < lstsq["loss_analytic"]
    assert 0.0 <= summary["gap_to_lstsq"] < 0.02  # within 2 % of the optimum, never below it
    assert "least-squares optimum" in capsys.readouterr().out
    for png in ("loss.png", "filter.png"):
        assert (run / png).read_bytes()[:4] == b"\x89PNG"
    assert (run / "metrics.csv").read_text().splitlines()[0] == "epoch,train_loss,val_loss,seconds"
    model = load_model(run)
    assert isinstance(model, LearnedFBP) and model.geometry.n_views == 24
    assert "summary" in model.metadata
    # a second run into the same folder is refused, the first left intact
    stamp = (run / "model.pt").stat().st_mtime_ns
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(run)]) == 2
    assert "--resume" in capsys.readouterr().err and (run / "model.pt").stat().st_mtime_ns == stamp


def test_resume_continues_exactly(dataset, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", "--config", str(_config(tmp_path, 4)), "--data", str(dataset), "--out", str(straight)]) == 0
    config2 = _config(tmp_path, 2)
    assert main(["train", "--config", str(config2), "--data", str(dataset), "--out", str(split)]) == 0
    assert main(["train", "--config", str(config2), "--data", str(dataset), "--out", str(split), "--resume",
                 "--epochs", "4"]) == 0
    a, b = load_model(straight), load_model(split)
    torch.testing.assert_close(a.filter.coefficients, b.filter.coefficients, rtol=0, atol=1e-7)
    history = json.loads((split / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]


def test_distributed_training_with_two_cpu_processes(dataset, tmp_path):
    config = _config(tmp_path, 2)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
         "-m", "recon", "train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "ddp")],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert summary["world_size"] == 2 and len(summary["history"]) == 2
    assert summary["history"][-1]["val_loss"] < summary["lstsq"]["loss_analytic"]


def test_conversion_network_trains_on_target_sinograms(dataset, tmp_path, capsys):
    text = """
[model]
type = "fan_to_parallel"
learn = "filter"
filter_basis = 8
grid_pixel = 0.3
[training]
epochs = 4
batch_size = 4
lr = 1e-3
lstsq_check = true
"""
    config = tmp_path / "f2p.toml"
    config.write_text(text)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "f2p")]) == 0
    summary = json.loads((tmp_path / "f2p" / "metrics.json").read_text())
    assert summary["model"] == "FanToParallel"
    assert summary["final_train_mse"] <= summary["lstsq"]["loss_analytic"]
    assert main(["evaluate", "--model", str(tmp_path / "f2p"), "--data", str(dataset)]) == 0
    out = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    rebinning = next(v for k, v in rows.items() if k.startswith("rebinning + FBP"))
    network = next(v for k, v in rows.items() if k.startswith("network (filter) + FBP"))
    for row in (rebinning, network):  # sinogram error, image metrics and edge sharpness per method
        assert len([c for c in row.split("|")[2:-2] if c.strip()]) == 5


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

def test_evaluate_compares_with_ram_lak_and_a_tuned_window(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", str(_config(tmp_path, 10)), "--data", str(dataset), "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(run / "model.pt"), "--data", str(dataset), "--out",
                 str(tmp_path / "eval")]) == 0
    out = capsys.readouterr().out
    assert "FBP ram-lak" in out and "FBP tuned" in out and "learned LearnedFBP (filter)" in out
    assert "views interpolated ×4" in out  # 24 views over 360°: view-interpolated FBP is a baseline too
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    results = report["results"]
    assert set(results) == {"fbp_ram_lak", "fbp_tuned", "fbp_view_interpolated", "model_1"} == set(report["methods"])
    assert report["methods"]["fbp_view_interpolated"]["params"]["recipe"]["upsample"] == 4
    ram_lak, learned = results["fbp_ram_lak"], results["model_1"]
    assert learned["psnr"] > ram_lak["psnr"]
    assert 0.1 < ram_lak["edge_rise_mm"] < 3.0  # 0.5 mm pixels
    assert (tmp_path / "eval" / "evaluation.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("text, message", [
    ("[model]\nkind = 'x'\n", "unknown key 'kind'"),
    ("[training]\nepochs = 0\n", "epochs must be >= 1"),
    ("[model]\ntype = 'cnn'\n", "type must be one of"),
    ("[optimiser]\nlr = 1\n", "unknown section"),
    ("[training]\nlr = 'fast'\n", "lr must be float or int"),
])
def test_bad_training_configs_are_rejected(dataset, tmp_path, capsys, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_missing_data_and_missing_target_sinograms(tmp_path, capsys):
    config = _config(tmp_path, 1)
    assert main(["train", "--config", str(config), "--data", str(tmp_path / "none.h5"), "--out",
                 str(tmp_path / "run")]) == 2
    assert "none.h5" in capsys.readouterr().err
    (tmp_path / "sim.toml").write_text(SIMULATION.format(n=4, target=""))
    data = simulate_to_file(tmp_path / "sim.toml", tmp_path / "sim.h5", workers=1)
    conversion = tmp_path / "c.toml"
    conversion.write_text("[model]\ntype = 'fan_to_parallel'\n")
    assert main(["train", "--config", str(conversion), "--data", str(data), "--out", str(tmp_path / "run2")]) == 2
    assert "target" in capsys.readouterr().err



def test_mse_plus_ssim_loss_trains_and_improves_ssim(dataset, tmp_path):
    text = TRAIN.replace('lr = 5e-3', 'lr = 2e-2\nloss = "mse+ssim"\nssim_weight = 1.0').replace(
        "lstsq_check = true", "lstsq_check = false")
    config = _config(tmp_path, 6, text)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "run")]) == 0
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    trained, untrained = load_model(tmp_path / "run"), load_model(tmp_path / "run")
    with torch.no_grad():
        untrained.filter.coefficients.zero_()
    from recon.simulation.dataset import load_samples

    data = load_samples(dataset, "images", views=24)
    with torch.no_grad():
        assert ssim(trained(data.inputs), data.targets).mean() > ssim(untrained(data.inputs), data.targets).mean()


UPSAMPLED = """
[data]
views = 24
val_fraction = 0.2
target = "full_view_fbp"
[model]
type = "view_upsampled_fbp"
factor = 3
filter = "hamming"
cutoff = 0.8
det_knots = 6
[training]
epochs = {epochs}
batch_size = 4
lr = 3e-3
loss = "mse+ssim"
ssim_weight = 0.05
init = "lstsq"
lstsq_samples = 8
seed = 2
"""


def test_view_upsampled_fbp_trains_from_least_squares_against_full_view_fbp(dataset, tmp_path, capsys):
    """The sparse-view recipe end to end: 24 of 72 views, targets = FBP of all 72 views (2× finer grid,
    averaged down), least-squares start, Adam with MSE + SSIM; it beats its analytic start (view-interpolated
    FBP) on the validation samples."""
    from recon.models import ViewUpsampledFBP
    from recon.simulation.dataset import load_samples

    config = _config(tmp_path, 2, UPSAMPLED)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "run")]) == 0
    assert "least-squares start on 8 samples" in capsys.readouterr().out
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary["target"] == "full_view_fbp" and summary["views"] == 24
    trained = load_model(tmp_path / "run")
    assert isinstance(trained, ViewUpsampledFBP) and trained.factor == 3 and trained.geometry.n_views == 24
    analytic = ViewUpsampledFBP(trained.geometry, factor=3, filter="hamming", cutoff=0.8, det_knots=6)
    data = load_samples(dataset, "full_view_fbp", views=24)
    with torch.no_grad():
        err = [float(torch.mean((m(data.inputs) - data.targets) ** 2)) for m in (trained, analytic)]
    assert err[0] < 0.9 * err[1]
    assert (tmp_path / "run" / "filter.png").is_file()


LIMITED = """
[data]
angles = [0.0, 90.0]
target = "full_view_fbp"
val_fraction = 0.2
[model]
type = "learned_fbp"
learn = "filter+weights"
filter_basis = 8
weight_basis = [4, 6]
positivity = true
[training]
epochs = {epochs}
batch_size = 4
lr = 1e-2
init = "tuned+lstsq"
lstsq_samples = 8
seed = 4
"""


def _compare_on_arc(dataset, model, start_deg: float, stop_deg: float):
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
    c = compare_scan(scan, [model], phantom, disc, angles=(math.radians(start_deg), math.radians(stop_deg)))
    return c


def test_limited_angle_training_starts_from_the_tuned_baseline_and_compare_reports_it(dataset, tmp_path, capsys):
    """The limited-angle recipe through the CLI: a 90° arc of the 72-view scans, the tuned limited-angle FBP as
    the start (stored in the run), least-squares filter, Adam on filter + smooth weights with a ReLU output;
    the trained model beats that baseline, and ``compare`` applies it to an arc at another start next to the
    same baseline."""
    import numpy as np

    from recon.analytic.recipe import FBPRecipe
    from recon.simulation.dataset import load_samples

    config = _config(tmp_path, 3, LIMITED)
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
    c = _compare_on_arc(dataset, model, 180.0, 270.0)
    assert c.context["n_views_used"] == 19
    label = c.methods["limited_angle_fbp"]["label"]
    assert label.startswith("limited-angle FBP tuned on training data (") and baseline.describe() in label
    assert c.methods["limited_angle_fbp_clipped"]["label"] == "limited-angle FBP tuned on training data, clipped at 0"
    assert "limited_angle_fbp_oracle" not in c.scores  # the stored baseline stands in for it
    assert c.scores["model_1"]["rmse"] < c.scores["limited_angle_fbp"]["rmse"]


def test_evaluate_scores_an_arc_model_against_the_tuned_limited_angle_baseline(dataset, tmp_path):
    from recon.evaluation.evaluate import evaluate

    config = _config(tmp_path, 1, LIMITED)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "run")]) == 0
    report = evaluate(tmp_path / "run", dataset, tmp_path / "eval")
    assert report["target"] == "full_view_fbp"
    results = report["results"]
    assert report["methods"]["limited_angle_fbp"]["label"].startswith("limited-angle FBP tuned (")
    assert report["methods"]["model_1"]["label"] == "learned LearnedFBP (filter+weights)"
    tuned, clipped = results["limited_angle_fbp"], results["limited_angle_fbp_clipped"]
    assert clipped["rmse"] <= tuned["rmse"] < results["fbp_ram_lak"]["rmse"]
    assert results["model_1"]["rmse"] < tuned["rmse"]


def test_view_completion_model_trains_through_the_cli_and_compare_shows_its_analytic_start(dataset, tmp_path):
    """``complete_views = true``: the tuned start is the FBP of the completed circle (stored with the run), the
    trained model beats it, and ``compare`` on an arc through 0° lists it next to the plain limited-angle FBP
    (oracle-tuned)."""
    import numpy as np

    from recon.analytic.recipe import FBPRecipe
    from recon.simulation.dataset import load_samples

    text = LIMITED.replace("positivity = true", "positivity = true\ncomplete_views = true")
    assert main(["train", "--config", str(_config(tmp_path, 2, text)), "--data", str(dataset), "--out",
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
