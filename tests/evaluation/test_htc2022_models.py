"""``recon benchmark htc2022`` with a model of many arcs (one unrolled network for every level in its range) and
the TV row: which levels a model serves and what is refused, λ tuned per level on the model's training data and
cached beside the run, ``--tv-lambda`` and ``--no-tv``, and the reconstruction times."""

from __future__ import annotations

import json
import math

import pytest

import recon
from recon.analytic.recipe import FBPRecipe
from recon.analytic.tv import LAMBDAS, TunedTV
from recon.app.benchmark import assign_models, benchmark_htc2022
from recon.app.bundled import HTC_SCAN, bundled_file
from recon.app.cli import main
from recon.evaluation.baselines import CACHE_NAME, TV_SAMPLES
from recon.evaluation.htc2022_report import format_benchmark
from recon.models import LearnedFBP, LearnedGradientDescent, save_model
from recon.simulation.simulate import simulate_to_file

from ..helpers import SIMULATION, TARGET
from .test_htc2022 import _check_record, _training_folder

GRID = {"image_size": 64, "pixel_size": 4 * 0.296644}  # the organisers' 75.9 mm field of view, coarse (fast TV)


@pytest.fixture(scope="module")
def training_data(tmp_path_factory):
    """8 small simulated full scans (72 views over the circle, 32² images): the range model's "training data"
    (only what TV and the limited-angle FBP are tuned on; the HTC scan's geometry differs)."""
    folder = tmp_path_factory.mktemp("sim")
    (folder / "sim.toml").write_text(SIMULATION.format(n=8, target=TARGET))
    return simulate_to_file(folder / "sim.toml", folder / "sim.h5", workers=1)


def _arc(degrees: float) -> recon.Geometry:
    """The bundled HTC scan's arc of ``degrees`` from 0° (0.5° steps), on :data:`GRID`."""
    scan = recon.read_scan(bundled_file(HTC_SCAN))
    return scan.select_angles(0.0, math.radians(degrees)).geometry.replace(**GRID)


def _range_model(folder, data, lo=50.0, hi=90.0):
    """An untrained learned gradient descent for every arc of ``lo``–``hi``°, saved with the training summary
    the benchmark reads (its data, target and arcs)."""
    folder.mkdir(parents=True, exist_ok=True)
    model = LearnedGradientDescent(_arc(hi), iterations=1, channels=2, arcs=(lo, hi))
    summary = {"data": str(data), "target": "images", "arcs": [lo, hi], "seed": 0}
    return save_model(model, folder / "model.pt", extra={"summary": summary})


@pytest.fixture
def cheap_tv(monkeypatch):
    """TV with 10 iterations (tuned and applied) instead of 200: the same code, seconds instead of minutes."""
    monkeypatch.setattr("recon.evaluation.baselines.TV_ITERATIONS", 10)
    monkeypatch.setattr("recon.evaluation.htc2022.TV_ITERATIONS", 10)


def _count_tuning(monkeypatch) -> list:
    calls: list = []
    original = TunedTV.tune.__func__
    monkeypatch.setattr(TunedTV, "tune", classmethod(lambda cls, *a, **k: calls.append(1) or original(cls, *a, **k)))
    return calls


@pytest.mark.slow
def test_range_model_serves_every_level_in_its_range_with_a_tuned_tv_row(tmp_path, training_data, cheap_tv,
                                                                          monkeypatch):
    folder = _training_folder(tmp_path)
    path = _range_model(tmp_path / "run", training_data)
    calls = _count_tuning(monkeypatch)
    args = ["benchmark", "htc2022", str(folder), "--model", str(path), "--levels", "1", "4", "7", "--starts", "0"]
    assert main(args + ["--out", str(tmp_path / "b1")]) == 0
    record = json.loads((tmp_path / "b1" / "benchmark.json").read_text())
    _check_record(record)
    # one model file, one entry: keyed by its range, serving every level of 50°–90°; level 7 (30°) has none
    assert list(record["models"]) == ["50-90"]
    entry = record["models"]["50-90"]
    assert entry["class"] == "LearnedGradientDescent" and entry["arcs"] == [50.0, 90.0]
    assert entry["serves_deg"] == [90, 80, 70, 60, 50]
    level1, level4, level7 = record["levels"]
    assert [lv["model"] for lv in record["levels"]] == ["50-90", "50-90", None]
    for level, arc in ((level1, 90), (level4, 60)):
        assert set(level["methods"]) == {"fbp_ram_lak", "limited_angle_fbp", "view_completion_fbp", "tv", "model_1"}
        tv = level["methods"]["tv"]["params"]
        assert tv["lam"] in LAMBDAS and tv["tuned"] == "tuned on training data" and tv["n_iter"] == 10
        assert (tv["tuned_arc_deg"], tv["tuned_start_deg"], tv["samples"]) == (arc, 0.0, TV_SAMPLES)
        assert all(m["seconds"] > 0 for m in level["methods"].values())
    assert set(level7["methods"]) == {"fbp_ram_lak"}  # no model: no tuned baselines, no TV
    assert record["tv"] == {"lambda": None, "tuned": True, "samples": TV_SAMPLES, "lambdas": list(LAMBDAS)}
    assert len(calls) == 2  # λ tuned once per level with a model
    text = (tmp_path / "b1" / "benchmark.md").read_text()
    assert text == format_benchmark(record)
    assert "| TV (Chambolle–Pock), λ tuned on training data |" in text
    assert "learned model (LearnedGradientDescent, one model of 50°–90° arcs)" in text
    assert f"L1 {level1['methods']['tv']['params']['lam']:g}, L4 {level4['methods']['tv']['params']['lam']:g}" in text
    assert "Seconds per reconstruction" in text
    # λ (and the limited-angle FBP) are cached beside the run per arc: a second run tunes nothing
    cache = json.loads((path.parent / CACHE_NAME).read_text())
    assert sorted(e["key"]["arc_deg"] for e in cache["entries"] if e["key"]["what"] == "tv arc") == [60.0, 90.0]
    monkeypatch.setattr("recon.evaluation.baselines.tune_baselines",
                        lambda *a, **k: pytest.fail("the arc baselines were tuned again"))
    assert main(args + ["--out", str(tmp_path / "b2")]) == 0
    again = json.loads((tmp_path / "b2" / "benchmark.json").read_text())
    assert len(calls) == 2
    for first, second in zip(record["levels"], again["levels"]):
        for i in ("tv", "limited_angle_fbp", "view_completion_fbp"):
            if i in first["methods"]:
                assert second["methods"][i]["params"] == first["methods"][i]["params"]


@pytest.mark.slow
def test_tv_lambda_and_no_tv(tmp_path, training_data, cheap_tv, monkeypatch):
    folder = _training_folder(tmp_path)
    path = _range_model(tmp_path / "run", training_data)
    calls = _count_tuning(monkeypatch)
    out = tmp_path / "fixed"
    assert main(["benchmark", "htc2022", str(folder), "--model", f"all={path}", "--levels", "1", "7", "--starts", "0",
                 "--tv-lambda", "0.003", "--out", str(out)]) == 0
    record = json.loads((out / "benchmark.json").read_text())
    _check_record(record)
    assert "--tv-lambda 0.003" in record["command"] and record["tv"] == {"lambda": 0.003, "tuned": False}
    for level in record["levels"]:  # a TV row at every level, the one without a model too (organisers' grid)
        tv = level["methods"]["tv"]["params"]
        assert (tv["lam"], tv["tuned"], tv["n_iter"]) == (0.003, "with λ given", 10)
    assert calls == [] and not any(e["key"]["what"] == "tv arc" for e in
                                   json.loads((path.parent / CACHE_NAME).read_text())["entries"])
    text = (out / "benchmark.md").read_text()
    assert "| TV (Chambolle–Pock), λ given |" in text and "given (`--tv-lambda`) — L1 0.003, L7 0.003" in text
    assert main(["benchmark", "htc2022", str(folder), "--model", str(path), "--levels", "1", "--starts", "0",
                 "--no-tv", "--out", str(tmp_path / "none")]) == 0
    record = json.loads((tmp_path / "none" / "benchmark.json").read_text())
    assert "--no-tv" in record["command"] and record["tv"] is None and calls == []
    assert set(record["levels"][0]["methods"]) == {"fbp_ram_lak", "limited_angle_fbp", "view_completion_fbp", "model_1"}
    assert "TV" not in (tmp_path / "none" / "benchmark.md").read_text()
    with pytest.raises(ValueError, match="TV λ"):
        benchmark_htc2022(folder, tmp_path / "bad", tv_lambda=-1.0)


def test_which_levels_a_model_serves_and_what_is_refused(tmp_path):
    data = tmp_path / "missing.h5"  # never read: models are only assigned here
    ranged = _range_model(tmp_path / "range", data)
    loaded, served = assign_models([(None, ranged)])
    assert list(loaded) == ["50-90"] and served == {a: "50-90" for a in (90, 80, 70, 60, 50)}
    loaded, served = assign_models([(90, ranged)])  # ARC=RUN with an arc in the model's range: that level only
    assert list(loaded) == ["90"] and served == {90: "90"}
    with pytest.raises(ValueError, match="reconstructs arcs of 50°–90°, not 30°"):
        assign_models([(30, ranged)])
    per_arc = tmp_path / "limited_60.pt"
    save_model(LearnedFBP.from_recipe(_arc(60.0), FBPRecipe(), "filter"), per_arc)
    with pytest.raises(ValueError, match="give it as 60="):
        assign_models([(None, per_arc)])
    with pytest.raises(ValueError, match="two models for the 60° level"):
        assign_models([(None, ranged), (60, per_arc)])
    assert assign_models([(None, ranged), (30, _range_model(tmp_path / "short", data, 30.0, 40.0))])[1][30] \
        == "30"
    with pytest.raises(ValueError, match="two models for the 60° level"):
        assign_models([(None, _range_model(tmp_path / "a", data, 30.0, 60.0)), (None, ranged)])
    with pytest.raises(ValueError, match="no HTC2022 level"):
        assign_models([(None, _range_model(tmp_path / "none", data, 32.0, 38.0))])
