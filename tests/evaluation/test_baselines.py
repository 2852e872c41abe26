"""Tuned baselines are computed once per run: cached beside the run, keyed by the model file and the training
data, recomputed when either changes."""

from __future__ import annotations

import json
import os

import pytest

from recon.app.cli import main
from recon.evaluation import baselines
from recon.evaluation.baselines import CACHE_NAME, training_baselines
from recon.models import load_model

from ..helpers import train_config


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", "--config", str(train_config(out.parent, 1)), "--data", str(dataset), "--out", str(out)]) == 0
    return out


def test_tuned_once_then_read_from_the_cache_until_the_data_change(run, dataset, monkeypatch):
    ids = ["fbp_tuned", "fbp_view_interpolated"]
    first = training_baselines(load_model(run), ids)
    assert set(first) == set(ids) and first["fbp_view_interpolated"].recipe.upsample == 4
    cache = json.loads((run / CACHE_NAME).read_text())
    assert len(cache["entries"]) == 1 and cache["entries"][0]["key"]["data"] == str(dataset.resolve())

    def no_tuning(*args, **kwargs):
        raise RuntimeError("tuned again")

    monkeypatch.setattr(baselines, "tune_baselines", no_tuning)
    again = training_baselines(load_model(run), ids)
    assert {i: t.recipe for i, t in again.items()} == {i: t.recipe for i, t in first.items()}
    assert again["fbp_tuned"].mse == pytest.approx(first["fbp_tuned"].mse, rel=1e-12)
    stat = dataset.stat()
    os.utime(dataset, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the training file changed
    try:
        with pytest.raises(RuntimeError, match="tuned again"):
            training_baselines(load_model(run), ids)
    finally:
        os.utime(dataset, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_no_training_file_means_no_training_baselines(run, tmp_path):
    model = load_model(run)
    model.metadata["summary"]["data"] = str(tmp_path / "gone.h5")
    with pytest.warns(UserWarning, match="training data .*gone.h5 is not found .* baselines tuned on it are left out"):
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
    """A run folder moved together with its data (the summary's path no longer valid) finds the file beside."""
    model = load_model(run)
    model.metadata["summary"]["data"] = "elsewhere/" + dataset.name
    (tmp_path / dataset.name).symlink_to(dataset)
    model.path = tmp_path / "run" / "model.pt"
    assert baselines._training_file(model) == tmp_path / dataset.name


@pytest.mark.parametrize("text", ["[1, 2]", "{\"entries\": 3}", "not json", "{\"entries\": [[1]]}"])
def test_a_malformed_cache_is_tuned_again(run, text):
    ids = ["fbp_tuned"]
    first = training_baselines(load_model(run), ids)
    (run / CACHE_NAME).write_text(text)
    assert training_baselines(load_model(run), ids)["fbp_tuned"].recipe == first["fbp_tuned"].recipe
    assert "entries" in json.loads((run / CACHE_NAME).read_text())
