"""``recon benchmark htc2022``: the challenge's score (MCC, hand-computed), the organisers' segmentation reproduced
on the bundled phantom, and the benchmark end to end on the bundled scan — cut to arcs as training data, and laid
out as the challenge's test set with the organisers' limited-angle segmentation as a reference row."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

import recon
from recon.analytic.recipe import FBPRecipe
from recon.app.benchmark import SCHEMA, benchmark_htc2022, parse_models
from recon.app.bundled import HTC_REFERENCE, HTC_SCAN, HTC_SEGMENTATION, bundled_file
from recon.app.cli import main
from recon.evaluation.htc2022 import find_phantoms, htc2022_threshold, segment
from recon.evaluation.htc2022_report import format_benchmark
from recon.evaluation.quality import matthews_correlation, otsu_threshold
from recon.io.formats import read_htc_reference
from recon.models import LearnedFBP, save_model


def test_matthews_correlation_by_hand():
    truth = np.zeros((4, 4), np.uint8)
    truth[0] = 1; truth[1, :2] = 1  # noqa: E702 — 6 object pixels
    predicted = np.zeros((4, 4), np.uint8)
    predicted[0, :3] = 1; predicted[3, 3] = 1  # noqa: E702 — TP 3, FP 1, FN 3, TN 9
    # (3·9 − 1·3) / √(4 · 6 · 10 · 12) = 24 / √2880 = 1/√5
    assert matthews_correlation(predicted, truth) == pytest.approx(1 / math.sqrt(5), rel=1e-12)
    assert matthews_correlation(truth, truth) == 1.0 and matthews_correlation(1 - truth, truth) == -1.0
    assert matthews_correlation(np.zeros_like(truth), truth) == 0.0  # an empty segmentation scores 0
    with pytest.raises(ValueError, match="shapes"):
        matthews_correlation(truth, truth[:3])


def test_organisers_segmentation_is_reproduced_from_their_reconstruction():
    """The organisers' segmentation of the bundled phantom from their full-data FBP: ``"htc2022"`` (MATLAB's
    graythresh on the max-scaled image) reproduces it to ≤ 0.01 % of the pixels, closer than plain Otsu."""
    reference = read_htc_reference(bundled_file(HTC_REFERENCE))
    truth = read_htc_reference(bundled_file(HTC_SEGMENTATION))
    ours, otsu = segment(reference, "htc2022"), segment(reference, "otsu")
    assert (ours != truth).sum() <= 25 < (otsu != truth).sum()
    assert matthews_correlation(ours, truth) > 0.9998
    assert htc2022_threshold(reference) != pytest.approx(otsu_threshold(reference), rel=1e-4)
    with pytest.raises(ValueError, match="segmentation must be"):
        segment(reference, "kmeans")
    with pytest.raises(ValueError, match="maximum"):
        segment(-np.ones((8, 8)), "htc2022")


@pytest.fixture(scope="module")
def arc_model(tmp_path_factory):
    """An untrained learned FBP for the 90° level on a 256² grid (its analytic start: FBP with arc weights)."""
    scan = recon.read_scan(bundled_file(HTC_SCAN))
    arc = scan.select_angles(0.0, math.radians(90.0)).geometry.replace(image_size=256, pixel_size=0.296644)
    model = LearnedFBP.from_recipe(arc, FBPRecipe(), "filter+weights", dtype=torch.float32)
    path = tmp_path_factory.mktemp("arc") / "limited_90.pt"
    save_model(model, path)
    return path


def _training_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in (HTC_SCAN, HTC_SEGMENTATION):
        (folder / name).symlink_to(bundled_file(name))
    return folder


def _challenge_folder(tmp_path):
    """The bundled phantom as the challenge's test set: level 1, a 90° arc from 30° (CtDataLimited), with its
    ground truth and, as the organisers' limited-angle segmentation, the ground truth itself (scores 3); and
    level 2, an 80° arc from 0°, without the organisers' segmentation."""
    folder = tmp_path / "challenge"
    folder.mkdir()
    struct = scipy.io.loadmat(bundled_file(HTC_SCAN), squeeze_me=True, struct_as_record=False)["CtDataFull"]
    # 0.5° steps, both ends: 30° … 120° for level 1, 0° … 80° for level 2
    for name, keep in (("01a", slice(60, 241)), ("02a", slice(0, 161))):
        params = {k: getattr(struct.parameters, k) for k in struct.parameters._fieldnames}
        params["angles"] = np.asarray(params["angles"])[keep]
        scipy.io.savemat(folder / f"htc2022_{name}_limited.mat", {"CtDataLimited": {
            "type": "sinogram", "sinogram": np.asarray(struct.sinogram)[keep], "parameters": params}})
        shutil.copy(bundled_file(HTC_SEGMENTATION), folder / f"htc2022_{name}_recon_fbp_seg.mat")
    truth = scipy.io.loadmat(bundled_file(HTC_SEGMENTATION))["reconFullFbpSeg"]
    scipy.io.savemat(folder / "htc2022_01a_recon_fbp_seg_limited.mat", {"reconLimitedFbpSeg": truth})
    return folder


def _check_record(record):
    """The record against :data:`SCHEMA` (with jsonschema where installed) and its own arithmetic."""
    for key in SCHEMA["required"]:
        assert key in record, key
    try:
        import jsonschema
    except ImportError:
        pass
    else:
        jsonschema.validate(json.loads(json.dumps(record)), SCHEMA)
    for level in record["levels"]:
        for entry in level["methods"].values():
            mccs = [s["mcc"] for s in entry["per_scan"]]
            assert entry["n"] == len(mccs) and entry["score"] == pytest.approx(3 * np.mean(mccs))


@pytest.mark.slow
def test_benchmark_on_the_training_phantom(tmp_path, arc_model):
    folder = _training_folder(tmp_path)
    out = tmp_path / "bench"
    assert main(["benchmark", "htc2022", str(folder), "--model", f"90={arc_model}", "--levels", "1", "7",
                 "--starts", "0", "180", "--out", str(out)]) == 0
    record = json.loads((out / "benchmark.json").read_text())
    _check_record(record)
    assert record["data"] == {"folder": str(folder), "kind": "training", "phantoms": ["ta"]}
    assert "--model 90=" in record["command"] and record["models"]["90"]["class"] == "LearnedFBP"
    level1, level7 = record["levels"]
    assert (level1["arc_deg"], level1["n_views"], level7["arc_deg"], level7["n_views"]) == (90, 181, 30, 61)
    assert set(level1["methods"]) == {"fbp_ram_lak", "model_1"} and set(level7["methods"]) == {"fbp_ram_lak"}
    assert [s["start_deg"] for s in level1["methods"]["model_1"]["per_scan"]] == [0.0, 180.0]
    ram_lak = [lv["methods"]["fbp_ram_lak"]["mean_mcc"] for lv in (level1, level7)]
    assert 0.3 < ram_lak[1] < ram_lak[0] < 0.95  # FBP of a 90° arc segments better than of a 30° arc
    # the untrained model is FBP with arc weights: it segments like Ram-Lak FBP, not like something else
    assert level1["methods"]["model_1"]["mean_mcc"] == pytest.approx(ram_lak[0], abs=0.1)
    assert record["totals"]["model_1"] == {"total": level1["methods"]["model_1"]["score"], "levels": 1}
    text = (out / "benchmark.md").read_text()
    assert text == format_benchmark(record)  # the table regenerates from the JSON alone
    assert "| FBP ram-lak |" in text and "(1 levels)" in text
    for k in (1, 7):
        assert (out / f"level_{k}.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(FileExistsError):
        benchmark_htc2022(folder, out, {90: arc_model}, starts_deg=(0,), levels=[1])


@pytest.mark.slow
def test_benchmark_on_a_challenge_style_folder(tmp_path, arc_model):
    folder = _challenge_folder(tmp_path)
    first, second = find_phantoms(folder)
    assert (first.name, first.level) == ("01a", 1) and first.organisers is not None
    assert (second.name, second.level, second.organisers) == ("02a", 2, None)
    record = benchmark_htc2022(folder, tmp_path / "bench", {90: arc_model}, segmentation="otsu")
    _check_record(record)
    assert record["data"]["kind"] == "challenge"
    assert [(lv["level"], lv["n_views"]) for lv in record["levels"]] == [(1, 181), (2, 161)]  # levels with a scan
    assert set(record["levels"][1]["methods"]) == {"fbp_ram_lak"}  # no model for 80°, no organisers' file
    assert (tmp_path / "bench" / "level_2.png").read_bytes()[:4] == b"\x89PNG"
    methods = record["levels"][0]["methods"]
    assert methods["organisers_fbp_seg_limited"]["score"] == 3.0
    assert methods["model_1"]["per_scan"][0]["start_deg"] == pytest.approx(30.0)  # the model moved to 30°
    assert 0.3 < methods["model_1"]["mean_mcc"] < 0.95


def test_bad_benchmark_arguments(tmp_path, arc_model):
    assert parse_models(["90=runs/a", "30=b.pt"]) == [(90, Path("runs/a")), (30, Path("b.pt"))]
    assert parse_models(["runs/a", "all=b.pt"]) == [(None, Path("runs/a")), (None, Path("b.pt"))]  # many arcs
    for bad, match in (("90=", "ARC=RUN"), ("45=runs/a", "no HTC2022 level"), ("ninety=x", "ARC=RUN")):
        with pytest.raises(ValueError, match=match):
            parse_models([bad])
    with pytest.raises(ValueError, match="two models"):
        parse_models(["90=a", "90=b"])
    folder = _training_folder(tmp_path)
    with pytest.raises(ValueError, match="reconstructs a 90° arc, not 30°"):
        benchmark_htc2022(folder, tmp_path / "b", {30: arc_model})
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no HTC2022 scans"):
        benchmark_htc2022(tmp_path / "empty", tmp_path / "c")
    (folder / HTC_SEGMENTATION).unlink()
    with pytest.raises(ValueError, match="ground-truth segmentation is missing"):
        find_phantoms(folder)
