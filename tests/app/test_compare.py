"""recon compare on the bundled real scan: every method scored against the organisers' reference (PSNR/SSIM/RMSE
inside the field of view unless --region square), and the full-scan reference by default; many scans in one call
give one report each and a summary."""

from __future__ import annotations

import json
import shutil

import pytest

from recon.app.bundled import HTC_REFERENCE, HTC_SEGMENTATION, bundled_file
from recon.app.cli import main
from recon.evaluation.scores import REGIONS

from .conftest import SCAN

FOV_NOTE = "PSNR/SSIM/RMSE inside the field of view (the inscribed disc of the image grid)"


pytestmark = pytest.mark.slow


def test_compare_reports_every_method_against_the_reference(tmp_path, untrained_model):
    out = tmp_path / "report"
    assert main(["compare", SCAN, "--model", str(untrained_model), "--reference", str(bundled_file(HTC_REFERENCE)),
                 "--segmentation", str(bundled_file(HTC_SEGMENTATION)), "--out", str(out)]) == 0
    result = json.loads((out / "metrics.json").read_text())
    scores = result["scores"]
    assert result["n_views_used"] == 60 and result["n_views_full"] == 720
    assert result["methods"]["model_1"]["label"] == "learned LearnedFBP (filter)"
    ram_lak, learned = scores["fbp_ram_lak"], scores["model_1"]
    for key in ("psnr", "ssim", "ssim_dival", "rmse", "edge_rise_mm", "noise_std", "data_consistency",
                "segmentation_mcc"):
        assert learned[key] == pytest.approx(ram_lak[key], rel=1e-4)  # untrained model = Ram-Lak FBP
    # both SSIM conventions, each named in the JSON and under the table
    assert set(result["ssim_conventions"]) == {"ssim", "ssim_dival"} and ram_lak["ssim_dival"] != ram_lak["ssim"]
    assert "DIVal" in result["ssim_conventions"]["ssim_dival"] and "SSIM (DIVal)" in (out / "report.md").read_text()
    oracle = scores["fbp_tuned_oracle"]
    assert oracle["psnr"] >= ram_lak["psnr"] and oracle["noise_std"] < ram_lak["noise_std"]
    assert 0.2 < ram_lak["edge_rise_mm"] < 2.0 and oracle["segmentation_mcc"] > 0.95
    assert "rebin_fbp_oracle" in scores and result["methods"]["rebin_fbp_oracle"]["label"].startswith("rebin + FBP")
    for name in ("comparison.png", "profile.png", "filter_1.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "| FBP ram-lak |" in (out / "report.md").read_text()
    # scored inside the field of view by default, and the region named in the JSON, the report and under the table
    assert result["region"] == REGIONS["fov"] and result["region_id"] == "fov"
    report = (out / "report.md").read_text()
    assert f"{FOV_NOTE}; PSNR data range: max − min of the reference there." in report
    assert f"\n\n{FOV_NOTE}.\n" in report


def test_compare_region_square_scores_the_whole_grid_as_before(tmp_path, scan, untrained_model, capsys):
    """``--region square``: RMSE, PSNR and SSIM over the whole grid — the metrics without a mask of each method's
    image against the reference, the numbers compare gave before regions — named in the JSON and the report; the
    default scores the same images inside the field of view; nothing else changes."""
    import numpy as np

    from recon.evaluation.compare import compare_scan
    from recon.io.references import load_reference
    from recon.metrics import field_of_view, psnr, rmse, ssim
    from recon.models import load_model

    reference = str(bundled_file(HTC_REFERENCE))
    out = tmp_path / "square"
    assert main(["compare", SCAN, "--model", str(untrained_model), "--reference", reference, "--region", "square",
                 "--out", str(out)]) == 0
    assert "PSNR/SSIM/RMSE over the whole square image grid" in capsys.readouterr().out
    result = json.loads((out / "metrics.json").read_text())
    assert result["region"] == REGIONS["square"] and result["region_id"] == "square"
    report = (out / "report.md").read_text()
    assert "PSNR/SSIM/RMSE over the whole square image grid" in report and "field of view" not in report
    model = load_model(untrained_model)
    c = compare_scan(scan, [model], load_reference(reference, model.geometry))  # the default: the field of view
    assert c.context["region_id"] == "fov" and set(c.scores) == set(result["scores"])
    fov = field_of_view(c.reference.shape[0])
    for method_id, square in result["scores"].items():
        image = c.recs[method_id].image
        whole = {"rmse": rmse(image, c.reference), "psnr": psnr(image, c.reference),
                 "ssim": ssim(image, c.reference), "ssim_dival": ssim(image, c.reference, convention="dival")}
        inside = {"rmse": rmse(image, c.reference, mask=fov), "psnr": psnr(image, c.reference, mask=fov),
                  "ssim": ssim(image, c.reference, mask=fov),
                  "ssim_dival": ssim(image, c.reference, convention="dival", mask=fov)}
        for key in whole:
            assert square[key] == pytest.approx(whole[key], rel=1e-9)
            assert c.scores[method_id][key] == pytest.approx(inside[key], rel=1e-9)
            assert not np.isclose(square[key], inside[key], rtol=1e-6)
        for key in ("edge_rise_mm", "noise_std", "data_consistency"):  # not region-dependent
            assert square[key] == pytest.approx(c.scores[method_id][key], rel=1e-9)


def test_compare_without_reference_uses_the_full_scan(tmp_path):
    assert main(["compare", SCAN, "--views", "90", "--out", str(tmp_path / "r")]) == 0
    result = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "full scan" in result["reference"] and "Otsu" in result["segmentation"]


def test_many_scans_give_one_report_each_and_a_summary(tmp_path, untrained_model, capsys):
    """Two scans (the bundled one under two names) with per-scan references from a {stem} template: a folder
    per scan, summary.md/.json with the means, per-scan values and wins; nothing is overwritten without
    --force."""
    scans = []
    for name in ("htc2022_aa_full", "htc2022_bb_full"):
        shutil.copy(SCAN, tmp_path / f"{name}.mat")
        shutil.copy(bundled_file(HTC_REFERENCE), tmp_path / f"{name}_recon_fbp.mat")
        scans.append(str(tmp_path / f"{name}.mat"))
    out = tmp_path / "report"
    args = ["compare", *scans, "--model", str(untrained_model), "--reference", str(tmp_path / "{stem}_recon_fbp.mat"),
            "--out", str(out)]
    assert main(args) == 0
    assert "summary.md" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scans"] == scans
    ram_lak = summary["methods"]["fbp_ram_lak"]
    per_scan = [json.loads((out / n / "metrics.json").read_text())["scores"]["fbp_ram_lak"]["psnr"]
                for n in ("htc2022_aa_full", "htc2022_bb_full")]
    assert per_scan[0] == per_scan[1] == ram_lak["mean"]["psnr"]  # the same data twice
    wins = sum(m.get("best_psnr", 0) for m in summary["methods"].values())
    assert wins == 2 and "| FBP ram-lak |" in (out / "summary.md").read_text()
    # the region: in summary.json, under the mean table and under the wins table of summary.md
    assert summary["region"] == REGIONS["fov"] and summary["region_id"] == "fov"
    text = (out / "summary.md").read_text()
    assert f"\n\n{FOV_NOTE}.\n" in text and f"of all methods on a scan, {REGIONS['fov']}." in text
    assert main(args) == 2 and "--force" in capsys.readouterr().err
    assert main(args[:2] + ["--model", str(untrained_model), "--reference", "a.mat", "--reference", "b.mat", "--out",
                            str(tmp_path / "x")]) == 2
    assert "reference file(s) for 1 scans" in capsys.readouterr().err


def test_compare_and_reconstruct_take_an_unrolled_arc_model(tmp_path, scan, capsys):
    """A model of many arcs (an untrained unrolled network: its analytic start, view completion + FBP) is a
    method of ``compare`` for any arc in its range, like any model (no filter figure: it has none); a full scan or
    a longer arc gets one clear error."""
    import math

    from recon.models import LearnedGradientDescent, save_model

    arc = scan.select_angles(0.0, math.radians(60.0)).geometry
    model = LearnedGradientDescent(arc, iterations=1, channels=2, arcs=(40, 60), filter="hann", cutoff=0.5)
    save_model(model, tmp_path / "m.pt")
    out = tmp_path / "report"
    assert main(["compare", SCAN, "--angles", "100:150", "--model", str(tmp_path / "m.pt"), "--reference",
                 str(bundled_file(HTC_REFERENCE)), "--out", str(out)]) == 0
    result = json.loads((out / "metrics.json").read_text())
    assert result["methods"]["model_1"]["label"].startswith("learned LearnedGradientDescent")
    assert result["scores"]["model_1"]["psnr"] > result["scores"]["fbp_ram_lak"]["psnr"]
    assert not (out / "filter_1.png").exists() and (out / "comparison.png").is_file()
    for angles, message in ((None, "full scan"), ("0:90", "longer than its longest")):
        extra = ["--angles", angles] if angles else []
        assert main(["reconstruct", SCAN, "--method", "learned", "--model", str(tmp_path / "m.pt"),
                     "--out", str(tmp_path / "x.tif"), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "x.tif").exists()
