"""Tuned baselines are computed once per run: cached beside the run, keyed by the model file and the training
data, recomputed when either changes."""

from __future__ import annotations

import json
import shutil

import pytest

from recon.app.cli import main
from recon.evaluation import baselines
from recon.evaluation.baselines import CACHE_NAME, training_baselines
from recon.evaluation.training_data import find_training_file, training_data_problem
from recon.io.checksums import file_sha256
from recon.models import load_model

from ..helpers import train_config


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", "--config", str(train_config(out.parent, 1)), "--data", str(dataset), "--out", str(out)]) == 0
    return out


def test_tuned_once_then_read_from_the_cache_until_the_data_change(run, dataset, monkeypatch, tmp_path):
    ids = ["fbp_tuned", "fbp_view_interpolated"]
    first = training_baselines(load_model(run), ids)
    assert set(first) == set(ids) and first["fbp_view_interpolated"].recipe.upsample == 4
    cache = json.loads((run / CACHE_NAME).read_text())
    assert len(cache["entries"]) == 1 and cache["entries"][0]["key"]["data_sha256"] == file_sha256(dataset)

    def no_tuning(*args, **kwargs):
        raise RuntimeError("tuned again")

    monkeypatch.setattr(baselines, "tune_baselines", no_tuning)
    again = training_baselines(load_model(run), ids)
    assert {i: t.recipe for i, t in again.items()} == {i: t.recipe for i, t in first.items()}
    assert again["fbp_tuned"].mse == pytest.approx(first["fbp_tuned"].mse, rel=1e-12)
    # a run before recon 0.2 (no checksum recorded) whose training file changed: the cache is keyed by the bytes
    copy = tmp_path / "copy.h5"
    shutil.copyfile(dataset, copy)
    model = load_model(run)
    summary = model.metadata["summary"]
    summary.pop("data_file_sha256"), summary.pop("data_bytes")
    summary["data"] = str(copy)
    with open(copy, "ab") as f:
        f.write(b"\0" * 64)  # other bytes, the same HDF5 content
    with pytest.raises(RuntimeError, match="tuned again"):
        training_baselines(model, ids)


def test_no_training_file_means_no_training_baselines(run, tmp_path):
    model = load_model(run)
    model.metadata["summary"]["data"] = str(tmp_path / "gone.h5")
    with pytest.warns(UserWarning, match="training data .*gone.h5 is not found.* baselines tuned on it are left out"):
        assert training_baselines(model, ["fbp_tuned"]) is None


def test_an_edited_cache_entry_is_not_trusted(run, monkeypatch):
    ids = ["fbp_tuned"]
    first = training_baselines(load_model(run), ids)
    cache = json.loads((run / CACHE_NAME).read_text())
    for entry in cache["entries"]:
        if "fbp_tuned" in entry["baselines"]:
            entry["baselines"]["fbp_tuned"]["cutoff"] = 0.05  # "tuned" FBP made to look bad
    (run / CACHE_NAME).write_text(json.dumps(cache))
    with pytest.warns(UserWarning, match="an entry was changed after it was written"):
        again = training_baselines(load_model(run), ids)
    assert again["fbp_tuned"].recipe == first["fbp_tuned"].recipe


def test_training_data_found_beside_a_moved_run(run, dataset, tmp_path):
    """A run folder moved together with its data (the summary's path no longer valid) finds the file beside,
    by name (runs before 0.2) or by checksum under any name."""
    model = load_model(run)
    summary = model.metadata["summary"]
    assert summary["data_file_sha256"] == file_sha256(dataset) and summary["data_bytes"] == dataset.stat().st_size
    summary["data"] = str(tmp_path / "elsewhere" / dataset.name)
    (tmp_path / "renamed.h5").symlink_to(dataset)
    model.path = tmp_path / "run" / "model.pt"
    assert find_training_file(model) == tmp_path / "renamed.h5"
    old = load_model(run)
    old.metadata["summary"] = {k: v for k, v in summary.items() if k not in ("data_file_sha256", "data_bytes")}
    old.metadata["summary"]["data"] = "elsewhere/" + dataset.name
    (tmp_path / dataset.name).symlink_to(dataset)
    old.path = model.path
    assert find_training_file(old) == tmp_path / dataset.name


def test_another_file_at_the_recorded_path_is_not_taken(run, dataset, tmp_path):
    """The recorded path now holds other data (another simulation of the same name): not tuned on; the real
    one is found by its checksum beside the run, else the baselines are left out and the report says why."""
    from recon.evaluation.report import format_report

    model = load_model(run)
    impostor = tmp_path / "data" / dataset.name
    impostor.parent.mkdir()
    impostor.write_bytes(dataset.read_bytes()[:-1] + b"x")
    model.metadata["summary"]["data"] = str(impostor)
    model.path = tmp_path / "run" / "model.pt"
    with pytest.warns(UserWarning, match="has changed since training, and no HDF5 file with its SHA-256"):
        assert find_training_file(model) is None
    problem = training_data_problem(model)
    context = {"n_views_used": 1, "n_views_full": 1, "baselines_left_out": f"model.pt: {problem}"}
    assert "Left out — the baselines tuned on a model's training data: model.pt: its training data" in \
        format_report({}, {}, context, "t")
    (tmp_path / "kept.h5").symlink_to(dataset)
    fresh = load_model(run)
    fresh.metadata["summary"]["data"], fresh.path = str(impostor), model.path
    assert find_training_file(fresh) == tmp_path / "kept.h5" and training_data_problem(fresh) == ""


@pytest.mark.parametrize("text", ["[1, 2]", "{\"entries\": 3}", "not json", "{\"entries\": [[1]]}"])
def test_a_malformed_cache_is_tuned_again(run, text):
    ids = ["fbp_tuned"]
    first = training_baselines(load_model(run), ids)
    (run / CACHE_NAME).write_text(text)
    assert training_baselines(load_model(run), ids)["fbp_tuned"].recipe == first["fbp_tuned"].recipe
    assert "entries" in json.loads((run / CACHE_NAME).read_text())
