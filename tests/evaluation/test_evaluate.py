"""recon evaluate on the tiny simulated dataset: the applicable baselines by id, arcs and conversions; PSNR/SSIM/RMSE
inside the field of view unless --region square."""

from __future__ import annotations

import json

import pytest

from recon.app.cli import main
from recon.evaluation.scores import REGIONS

from ..helpers import LIMITED, train_config


pytestmark = pytest.mark.slow


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
    assert main(["evaluate", "--model", str(tmp_path / "f2p"), "--data", str(dataset), "--tv",
                 "--out", str(tmp_path / "eval")]) == 0
    out = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    rebinning = next(v for k, v in rows.items() if k.startswith("rebinning + FBP"))
    network = next(v for k, v in rows.items() if k.startswith("network (filter) + FBP"))
    header = next(line for line in out.splitlines() if line.startswith("| method"))
    for row in (rebinning, network):  # a value in every column
        assert len([c for c in row.split("|") if c.strip()]) == len([c for c in header.split("|") if c.strip()])
    results = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    for method in ("rebin_fbp", "model_1"):
        assert {"sinogram_rel_l2", "psnr", "ssim", "ssim_dival", "edge_rise_mm",
                "seconds_per_image"} <= set(results["results"][method])
    # TV reconstructs straight from the source (fan) data: an image score, no converted sinogram, a run time
    assert "from the source data" in results["methods"]["tv"]["label"]
    assert "sinogram_rel_l2" not in results["results"]["tv"] and results["results"]["tv"]["psnr"] > 10
    assert all(r["seconds_per_image"] > 0 for r in results["results"].values())


def test_evaluate_compares_with_ram_lak_and_a_tuned_window(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", str(train_config(tmp_path, 10)), "--data", str(dataset), "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(run / "model.pt"), "--data", str(dataset), "--out",
                 str(tmp_path / "eval"), "--tv"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    # scored on its own training file: said loudly, and written into the report
    assert "is the model's training file: 30 of 30 test samples are training samples" in captured.err
    assert "**Not held out**" in (tmp_path / "eval" / "evaluation.md").read_text()
    assert "FBP ram-lak" in out and "FBP tuned" in out and "learned LearnedFBP (filter)" in out
    assert "views interpolated ×4" in out  # 24 views over 360°: view-interpolated FBP is a baseline too
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert report["training_overlap"]["n"] == 30 and report["training_overlap"]["same_file"]
    results = report["results"]
    assert set(results) == {"fbp_ram_lak", "fbp_tuned", "fbp_view_interpolated", "tv", "model_1"} == set(
        report["methods"])
    # TV, its λ tuned on the tuning split, beats Ram-Lak FBP on sparse views; every method has its time per image
    tv = report["methods"]["tv"]["params"]
    assert tv["lam"] in [float(k) for k in tv["scores"]] and tv["n_iter"] == 200
    assert results["tv"]["rmse"] < results["fbp_ram_lak"]["rmse"]
    assert results["tv"]["seconds_per_image"] > 0 and results["fbp_ram_lak"]["seconds_per_image"] > 0
    assert "seconds_per_image" in out
    assert report["methods"]["fbp_view_interpolated"]["params"]["recipe"]["upsample"] == 4
    ram_lak, learned = results["fbp_ram_lak"], results["model_1"]
    assert learned["psnr"] > ram_lak["psnr"]
    assert 0.1 < ram_lak["edge_rise_mm"] < 3.0  # 0.5 mm pixels
    assert (tmp_path / "eval" / "evaluation.png").read_bytes()[:4] == b"\x89PNG"
    # scored inside the field of view by default: named in the JSON, the report, under the table and on stdout
    fov_note = "PSNR/SSIM/RMSE inside the field of view (the inscribed disc of the image grid)"
    assert report["region"] == REGIONS["fov"] and report["region_id"] == "fov"
    assert report["psnr_data_range"] == "max - min of each ground-truth image " + REGIONS["fov"]
    markdown = (tmp_path / "eval" / "evaluation.md").read_text()
    assert f"{fov_note}; PSNR data range" in markdown and f"\n\n{fov_note}.\n" in markdown
    assert f"{fov_note}; PSNR data range" in out and f"\n\n{fov_note}.\n" in out


def test_evaluate_scores_an_arc_model_against_the_tuned_limited_angle_baseline(dataset, tmp_path, monkeypatch,
                                                                              capsys):
    import recon.evaluation.evaluate as evaluate_module
    from recon.evaluation.evaluate import evaluate
    from recon.evaluation.scores import image_scores
    from recon.metrics import psnr, rmse, ssim

    config = train_config(tmp_path, 1, LIMITED)
    assert main(["train", "--config", str(config), "--data", str(dataset), "--out", str(tmp_path / "run")]) == 0
    report = evaluate(tmp_path / "run", dataset, tmp_path / "eval")
    assert report["target"] == "full_view_fbp"
    results = report["results"]
    assert report["methods"]["limited_angle_fbp"]["label"].startswith("limited-angle FBP tuned (")
    assert report["methods"]["model_1"]["label"] == "learned LearnedFBP (filter+weights)"
    tuned, clipped = results["limited_angle_fbp"], results["limited_angle_fbp_clipped"]
    assert clipped["rmse"] <= tuned["rmse"] < results["fbp_ram_lak"]["rmse"]
    assert results["model_1"]["rmse"] < tuned["rmse"]
    # --region square: the metrics without a mask over the whole grid (the numbers evaluate gave before regions),
    # the images scored being the same; only RMSE, PSNR and SSIM change
    scored = []

    def spy(images, truth, pixel_size=None, region="fov"):
        scored.append((images, truth, region))
        return image_scores(images, truth, pixel_size, region)

    monkeypatch.setattr(evaluate_module, "image_scores", spy)
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "run"), "--data", str(dataset), "--region", "square",
                 "--out", str(tmp_path / "square")]) == 0
    assert "PSNR/SSIM/RMSE over the whole square image grid" in capsys.readouterr().out
    square = json.loads((tmp_path / "square" / "evaluation.json").read_text())
    assert square["region"] == REGIONS["square"] and square["region_id"] == "square"
    assert "PSNR/SSIM/RMSE over the whole square image grid" in (tmp_path / "square" / "evaluation.md").read_text()
    assert list(square["results"]) == list(results) and len(scored) == len(results)
    for (method_id, r), (images, truth, region) in zip(square["results"].items(), scored):
        assert region == "square"
        for key, values in (("rmse", rmse(images, truth)), ("psnr", psnr(images, truth)),
                            ("ssim", ssim(images, truth)), ("ssim_dival", ssim(images, truth, convention="dival"))):
            assert r[key] == pytest.approx(float(values.double().mean()), rel=1e-12)
        assert r["psnr"] != results[method_id]["psnr"] and r["rmse"] != results[method_id]["rmse"]
        assert r["edge_rise_mm"] == results[method_id]["edge_rise_mm"]



def test_test_phantoms_that_are_training_phantoms_are_found(dataset, tmp_path):
    """The same config and seed give the same phantoms (a larger file shares its first samples); another seed
    none. Found by the phantoms' checksums, whatever the file is called."""
    from recon.evaluation.leakage import training_overlap
    from recon.models import load_model
    from recon.simulation.simulate import simulate_to_file

    from ..helpers import SIMULATION, TARGET

    run = tmp_path / "run"
    assert main(["train", "--config", str(train_config(tmp_path, 1)), "--data", str(dataset), "--out", str(run)]) == 0
    model = load_model(run)
    (tmp_path / "sim.toml").write_text(SIMULATION.format(n=33, target=TARGET))
    larger = simulate_to_file(tmp_path / "sim.toml", tmp_path / "larger.h5", workers=1)
    overlap = training_overlap(model, larger)
    assert overlap["n"] == 30 and overlap["of"] == 33 and overlap["indices"] == list(range(30))
    assert not overlap["same_file"]
    other = simulate_to_file(tmp_path / "sim.toml", tmp_path / "other.h5", workers=1, seed=4)
    assert training_overlap(model, other) is None
