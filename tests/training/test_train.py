"""recon train on a tiny simulated dataset: the loss falls to the least-squares optimum, resume continues
exactly, the run folder is complete, DDP runs with 2 CPU processes, bad configs fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from recon.app.cli import main
from recon.metrics import ssim
from recon.models import LearnedFBP, load_model
from recon.simulation.simulate import simulate_to_file

from ..helpers import SIMULATION, TRAIN, UPSAMPLED, train_config


pytestmark = pytest.mark.slow


def test_training_reaches_the_least_squares_optimum_and_writes_the_run(dataset, tmp_path, capsys):
    config = train_config(tmp_path, 25)
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
    assert main(["train", "--config", str(train_config(tmp_path, 4)), "--data", str(dataset), "--out", str(straight)]) == 0
    config2 = train_config(tmp_path, 2)
    assert main(["train", "--config", str(config2), "--data", str(dataset), "--out", str(split)]) == 0
    assert main(["train", "--config", str(config2), "--data", str(dataset), "--out", str(split), "--resume",
                 "--epochs", "4"]) == 0
    a, b = load_model(straight), load_model(split)
    torch.testing.assert_close(a.filter.coefficients, b.filter.coefficients, rtol=0, atol=1e-7)
    history = json.loads((split / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]


def test_distributed_training_with_two_cpu_processes(dataset, tmp_path):
    config = train_config(tmp_path, 2)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
         "-m", "recon", "train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "ddp")],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert summary["world_size"] == 2 and len(summary["history"]) == 2
    assert summary["history"][-1]["val_loss"] < summary["lstsq"]["loss_analytic"]


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
    config = train_config(tmp_path, 1)
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
    config = train_config(tmp_path, 6, text)
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


def test_view_upsampled_fbp_trains_from_least_squares_against_full_view_fbp(dataset, tmp_path, capsys):
    """The sparse-view recipe end to end: 24 of 72 views, targets = FBP of all 72 views (2× finer grid,
    averaged down), least-squares start, Adam with MSE + SSIM; it beats its analytic start (view-interpolated
    FBP) on the validation samples."""
    from recon.models import ViewUpsampledFBP
    from recon.simulation.dataset import load_samples

    config = train_config(tmp_path, 2, UPSAMPLED)
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



def test_a_gpu_asked_for_without_one_is_an_error_not_a_silent_cpu_run(dataset, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "gpu"
    assert main(["train", "--config", str(train_config(tmp_path, 1)), "--data", str(dataset), "--out", str(out),
                 "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err and not (out / "model.pt").exists()


class _RunsAShellCommand:
    """What a hostile checkpoint holds: unpickling it would run ``touch`` on the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_crafted_checkpoint_cannot_run_code(dataset, tmp_path, capsys):
    run, marker = tmp_path / "run", tmp_path / "pwned"
    run.mkdir()
    torch.save({"epoch": 1, "model": _RunsAShellCommand(marker)}, run / "checkpoint.pt")
    config = train_config(tmp_path, 2)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "not a readable recon checkpoint; it is not loaded" in err and "would run code" in err
    assert "weights_only" not in err  # no advice that would run the code
    assert not marker.exists()


def _copy_with(dataset, path, key, change):
    """A copy of the simulated file with ``change`` applied to sample 0 of dataset ``key``."""
    path.write_bytes(dataset.read_bytes())
    with h5py.File(path, "r+") as f:
        f[key][0] = change(f[key][0])
    return path


def test_resume_refuses_other_data_and_a_finished_run_asks_for_more_epochs(dataset, tmp_path, capsys):
    config, run = train_config(tmp_path, 1), tmp_path / "run"
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(run)]) == 0
    other = _copy_with(dataset, tmp_path / "other.h5", "sinograms", lambda s: s * 1.01)
    assert main(["train", "--config", str(config), "--data", str(other), "--out", str(run), "--resume",
                 "--epochs", "2"]) == 2
    assert "trained on other data" in capsys.readouterr().err
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(run), "--resume"]) == 2
    assert "has trained 1 epoch(s) already" in capsys.readouterr().err


def test_non_finite_losses_and_targets_stop_training_without_a_model(dataset, tmp_path, capsys):
    diverging = train_config(tmp_path, 3, TRAIN.replace("lr = 5e-3", "lr = 1e30"))
    assert main(["train", "--config", str(diverging), "--data", str(dataset), "--out", str(tmp_path / "a")]) == 2
    assert "loss became" in capsys.readouterr().err and not (tmp_path / "a" / "model.pt").exists()
    nan = _copy_with(dataset, tmp_path / "nan.h5", "images", lambda x: x * np.nan)
    assert main(["train", "--config", str(train_config(tmp_path, 1)), "--data", str(nan),
                 "--out", str(tmp_path / "b")]) == 2
    assert "1 of 30 samples have NaN/Inf images" in capsys.readouterr().err
    assert not (tmp_path / "b" / "model.pt").exists()


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "epochs must be a positive integer"),
    (["--device", "bogus"], "is not a device"),
    (["--device", "meta"], "not meta"),
    (["--device", "cuda:0"], "no CUDA device is available"),
])
def test_bad_overrides_are_refused_before_anything_is_written(dataset, tmp_path, capsys, args, message):
    if "cuda" in args[-1] and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run = tmp_path / "run"
    assert main(["train", "--config", str(train_config(tmp_path, 1)), "--data", str(dataset), "--out", str(run),
                 *args]) == 2
    assert message in capsys.readouterr().err and not run.exists()


def test_a_changed_checkpoint_is_not_resumed_from(dataset, tmp_path, capsys):
    config, run = train_config(tmp_path, 1), tmp_path / "run"
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(run)]) == 0
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    changed = dict(ckpt, history=[dict(ckpt["history"][0], val_loss=0.0)])  # one value, checksum kept
    torch.save(changed, run / "checkpoint.pt")
    args = ["train", "--config", str(config), "--data", str(dataset), "--out", str(run), "--resume", "--epochs", "2"]
    assert main(args) == 2
    assert "the checkpoint is corrupt" in capsys.readouterr().err
    from recon.models.serialization import record_checksum
    for epoch, history in ((-3, []), (10 ** 9, ckpt["history"]), (True, ckpt["history"])):
        forged = {k: v for k, v in dict(ckpt, epoch=epoch, history=history).items() if k != "sha256"}
        torch.save(dict(forged, sha256=record_checksum(forged)), run / "checkpoint.pt")
        assert main(args) == 2
        assert "not a valid recon checkpoint" in capsys.readouterr().err


def test_one_run_per_folder_and_a_failed_run_says_what_to_do(dataset, tmp_path, capsys):
    from recon.io.locks import folder_lock

    config, run = train_config(tmp_path, 1), tmp_path / "run"
    args = ["train", "--config", str(config), "--data", str(dataset), "--out", str(run)]
    with folder_lock(run):  # another run holds the folder
        assert main(args) == 2
        assert f"another recon train is writing to this folder (process {os.getpid()})" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == [".recon.lock"]
    (run / "config.toml").write_text("a run that failed before its first epoch ended")
    assert main(args) == 2
    assert "holds no checkpoint to resume from (a failed run?): start over with --force" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 2
    assert "start over with --force" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0 and (run / "model.pt").is_file()


def test_a_checkpoint_of_another_shape_is_one_line(dataset, tmp_path, capsys):
    config, run = train_config(tmp_path, 1), tmp_path / "run"
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(run)]) == 0
    from recon.models.serialization import record_checksum
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    ckpt.pop("sha256")
    ckpt["model"] = {k: torch.zeros(3) for k in ckpt["model"]}
    torch.save(dict(ckpt, sha256=record_checksum(ckpt)), run / "checkpoint.pt")
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(run), "--resume",
                 "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the checkpoint's parameters do not fit the model of the config" in err[0]
