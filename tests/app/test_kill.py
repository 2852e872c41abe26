"""Killed commands: no output that looks complete, no temp files left (the next run removes those of a
SIGKILL), Ctrl-C without worker tracebacks, and training that resumes bit-exactly after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recon.io.locks import LOCK_NAME
from recon.simulation.dataset import SimulatedDataset

from ..helpers import SIMULATION, TARGET, train_config
from .conftest import SCAN

pytestmark = pytest.mark.slow

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "recon", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    t0 = time.monotonic()
    while not condition():
        assert proc.poll() is None, f"finished before the signal: {proc.communicate()}"
        assert time.monotonic() - t0 < timeout, "the awaited file never appeared"
        time.sleep(0.02)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != LOCK_NAME)


@pytest.fixture
def sim_config(tmp_path):
    path = tmp_path / "sim.toml"
    path.write_text(SIMULATION.format(n=40, target=TARGET))
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_simulate_leaves_nothing_and_no_worker_tracebacks(tmp_path, sim_config, sig):
    out = tmp_path / "data.h5"
    proc = _start("simulate", "--config", str(sim_config), "--out", str(out), "--workers", "2")
    _wait_for(lambda: bool(_hidden(tmp_path)), proc)  # the temp file exists: samples are being made
    time.sleep(1.0)  # the workers are busy
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err
    assert "Traceback" not in err, err
    assert not out.exists() and _hidden(tmp_path) == []


def test_simulate_after_sigkill_cleans_up_and_completes(tmp_path, sim_config):
    out = tmp_path / "data.h5"
    proc = _start("simulate", "--config", str(sim_config), "--out", str(out), "--workers", "1")
    _wait_for(lambda: bool(_hidden(tmp_path)), proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert not out.exists() and len(_hidden(tmp_path)) == 1  # a SIGKILL cannot clean up ...
    again = _start("simulate", "--config", str(sim_config), "--out", str(out), "--workers", "1", "--n", "4")
    assert again.wait(timeout=300) == 0, again.communicate()
    assert len(SimulatedDataset(out)) == 4 and _hidden(tmp_path) == []  # ... the next run does


def test_training_killed_after_an_epoch_resumes_bit_exactly(dataset, tmp_path):
    config = train_config(tmp_path, 4)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert _start("train", "--config", str(config), "--data", str(dataset), "--out", str(straight)).wait(300) == 0
    proc = _start("train", "--config", str(config), "--data", str(dataset), "--out", str(killed))
    _wait_for(lambda: (killed / "checkpoint.pt").is_file(), proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert not (killed / "model.pt").exists()
    resumed = _start("train", "--config", str(config), "--data", str(dataset), "--out", str(killed), "--resume")
    assert resumed.wait(300) == 0, resumed.communicate()
    a, b = (json.loads((run / "metrics.json").read_text()) for run in (straight, killed))
    assert [h["val_loss"] for h in a["history"]] == [h["val_loss"] for h in b["history"]]
    assert a["final_train_mse"] == b["final_train_mse"] and _hidden(killed) == []


def test_killed_compare_never_leaves_a_report_without_its_figures(tmp_path):
    """SIGKILL at several moments: ``report.md`` stands only with every figure; a rerun completes and removes
    what the killed runs left."""
    import numpy as np
    import tifffile

    import recon
    from recon.io import geometry_from_table

    from ..io.files import parallel_table, write_sidecar

    scan = tmp_path / "scan.tif"
    geometry = geometry_from_table(parallel_table(90, 48))
    tifffile.imwrite(scan, recon.ray_transform(recon.shepp_logan(radius=8.0), geometry).astype(np.float32))
    write_sidecar(tmp_path / "scan.toml", {"axes": "views,det"}, parallel_table(90, 48))
    out = tmp_path / "report"
    args = ("compare", str(scan), "--views", "30", "--out", str(out))
    for delay in (1.5, 3.0):
        proc = _start(*args)
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=60)
        if (out / "report.md").exists():
            assert {"comparison.png", "profile.png", "metrics.json"} <= {p.name for p in out.iterdir()}
            break
    rerun = _start(*args, "--force")
    assert rerun.wait(300) == 0, rerun.communicate()
    assert (out / "report.md").is_file() and (out / "comparison.png").is_file() and _hidden(tmp_path) == []


def test_terminated_reconstruct_writes_a_tiff_only_with_its_preview(tmp_path):
    for delay in (0.0, 2.5, 5.0):
        out = tmp_path / f"after_{delay:g}s"
        proc = _start("reconstruct", SCAN, "--views", "90", "--out", str(out))
        time.sleep(delay)
        proc.terminate()
        proc.communicate(timeout=120)
        if out.exists():
            names = sorted(p.name for p in out.iterdir())
            assert names in ([], ["htc2022_ta_full.png", "htc2022_ta_full.tif"]), names
            assert _hidden(out) == []
    assert _hidden(tmp_path) == []
