"""recon info on every file the package reads or writes: datasets, models and run folders, checkpoints,
references and segmentations, its own reconstructions, its JSON records; anything else as a scan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recon.app.cli import main
from recon.app.bundled import bundled_file

from ..helpers import train_config
from ..io.files import parallel_table, write_sidecar


def _info(path, capsys) -> str:
    assert main(["info", str(path)]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.mark.slow
def test_datasets_runs_models_checkpoints_and_training_records(dataset, tmp_path, capsys):
    text = _info(dataset, capsys)
    assert "a simulated dataset" in text and "30 (seed 3)" in text and "target geometry" in text
    run = tmp_path / "run"
    assert main(["train", "--config", str(train_config(tmp_path, 1)), "--data", str(dataset), "--out", str(run)]) == 0
    capsys.readouterr()
    for path in (run, run / "model.pt"):
        text = _info(path, capsys)
        assert "a trained model" in text and "LearnedFBP" in text and "checksums intact" in text
        assert f"{dataset.resolve()} (24 training, 6 validation samples)" in text
    assert "a training checkpoint (checksum intact)" in _info(run / "checkpoint.pt", capsys)
    assert "epochs  " in _info(run / "metrics.json", capsys)
    (run / "broken.json").write_text("{\"history\": 3, \"model\": \"x\"}")
    assert main(["info", str(run / "broken.json")]) == 2
    assert "a training record (recon train: metrics.json) with a malformed field" in capsys.readouterr().err


def test_references_segmentations_and_reconstructions(tmp_path, capsys):
    ref = bundled_file("htc2022_ta_full_recon_fbp.mat")
    assert "a reference image 512 × 512, μ" in _info(ref, capsys)
    assert "a segmentation 512 × 512" in _info(bundled_file("htc2022_ta_full_recon_fbp_seg.mat"), capsys)
    assert "format:" in _info(bundled_file("htc2022_ta_full.mat"), capsys)  # the scan beside them: a scan
    scan = tmp_path / "sino.npy"
    np.save(scan, np.zeros((30, 24), np.float32) + 0.01)
    write_sidecar(tmp_path / "sino.npy.toml", None, parallel_table(30, 24))
    assert main(["reconstruct", str(scan), "--out", str(tmp_path / "rec.tif")]) == 0
    capsys.readouterr()
    text = _info(tmp_path / "rec.tif", capsys)
    assert "a reconstruction written by recon" in text and "1/mm" in text and "fbp (ram-lak" in text
    assert "format:" in _info(scan, capsys)


@pytest.mark.parametrize("record, kind", [
    ({"scan": "a.mat", "scores": {"fbp_ram_lak": {}}, "region": "fov"}, "a comparison of one scan"),
    ({"scans": ["a"], "methods": {"tv": {}}, "region": "fov"}, "a summary over scans"),
    ({"results": {"model_1": {}}, "n_test": 3, "model": "m", "data": "d"}, "an evaluation"),
    ({"schema": "x", "benchmark": "htc2022", "data": {"folder": "f"}}, "a benchmark record"),
])
def test_json_records(tmp_path, capsys, record, kind):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record))
    assert f"{path}: {kind}" in _info(path, capsys)


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "none of recon's records"), ("{\"a\": 1}", "none of recon's records"), ("not json", "not a JSON record"),
])
def test_other_json_is_refused_in_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "r.json"
    path.write_text(text)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
