"""recon reconstruct / recon compare on the bundled real scan, and the image-quality measures they report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from scipy import ndimage

import recon
from recon.app.bundled import HTC_REFERENCE, HTC_SCAN, HTC_SEGMENTATION, bundled_file
from recon.app.cli import main
from recon.io.references import load_reference, resample_to_grid
from recon.io import read_htc_mat
from recon.metrics import psnr, rmse, ssim
from recon.models import LearnedFBP, save_model
from recon.evaluation.quality import edge_rise_distance, flat_region_noise, otsu_threshold, segmentation_mcc

SCAN = str(bundled_file(HTC_SCAN))
GRID = {"image_size": 128, "pixel_size": 0.5932892693321776}  # 4 × the organisers' pixel: fast tests


@pytest.fixture(scope="module")
def scan():
    return read_htc_mat(SCAN, **GRID)


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory, scan):
    """An untrained learned FBP for 60 of the 720 views: it must equal analytic Ram-Lak FBP."""
    path = tmp_path_factory.mktemp("model") / "model.pt"
    save_model(LearnedFBP(scan.select_views(count=60).geometry), path)
    return path


def test_fbp_of_the_real_scan_is_written_as_tiff_with_its_pixel_size(tmp_path, capsys, scan):
    out = tmp_path / "ta.tif"
    assert main(["reconstruct", SCAN, "--out", str(out), "--filter", "hann", "--image-size", "128",
                 "--pixel-size", str(GRID["pixel_size"])]) == 0
    assert "wrote" in capsys.readouterr().out
    with tifffile.TiffFile(out) as tif:
        image = tif.pages[0].asarray()
        meta = json.loads(tif.pages[0].description)
    assert image.dtype == np.float32 and image.shape == (128, 128)
    assert meta["pixel_size_mm"] == pytest.approx(GRID["pixel_size"]) and meta["units"] == "1/mm"
    seg = load_reference(bundled_file(HTC_SEGMENTATION), scan.geometry)
    reference = load_reference(bundled_file(HTC_REFERENCE), scan.geometry)
    inside = ndimage.binary_erosion(seg > 0, iterations=3)
    # acrylic: the same attenuation as the organisers' reconstruction (1 %), about 0.041/mm
    assert np.median(image[inside]) == pytest.approx(np.median(reference[inside]), rel=0.01)
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    stamp = out.stat().st_mtime_ns
    assert main(["reconstruct", SCAN, "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.stat().st_mtime_ns == stamp


def test_learned_reconstruction_picks_the_model_views_and_equals_fbp_untrained(tmp_path, untrained_model, scan):
    assert main(["reconstruct", SCAN, "--method", "learned", "--model", str(untrained_model), "--out",
                 str(tmp_path / "learned.tif")]) == 0
    learned = tifffile.imread(tmp_path / "learned.tif")
    sparse = scan.select_views(count=60)
    expected = recon.fbp(sparse.sinogram, sparse.geometry, "ram-lak")
    np.testing.assert_allclose(learned, expected, rtol=0, atol=1e-6 * np.abs(expected).max())


def test_rebinning_reconstruction_runs_on_sparse_views(tmp_path):
    assert main(["reconstruct", SCAN, "--method", "rebin", "--views", "90", "--filter", "hann",
                 "--image-size", "128", "--pixel-size", str(GRID["pixel_size"]), "--out",
                 str(tmp_path / "r.tif")]) == 0
    assert np.isfinite(tifffile.imread(tmp_path / "r.tif")).all()


@pytest.mark.parametrize("args, message", [
    (["--method", "learned"], "needs --model"),
    (["--method", "learned", "--model", "missing.pt"], "missing.pt"),
    (["--method", "learned", "--views", "45"], "views are not in the data"),
])
def test_bad_reconstruct_requests_fail_clearly(tmp_path, capsys, untrained_model, args, message):
    args = [a if a != "missing.pt" else str(tmp_path / a) for a in args]
    if args[-1] == "45":
        args = args[:2] + ["--model", str(untrained_model)] + args[2:]
    assert main(["reconstruct", SCAN, "--out", str(tmp_path / "x.tif")] + args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()


def test_model_for_another_scanner_is_refused(tmp_path, capsys, scan):
    other = scan.select_views(count=60).geometry.replace(sod=400.0)
    save_model(LearnedFBP(other), tmp_path / "m.pt")
    assert main(["reconstruct", SCAN, "--method", "learned", "--model", str(tmp_path / "m.pt"), "--out",
                 str(tmp_path / "x.tif")]) == 2
    assert "sod 400 expected, got 410.66" in capsys.readouterr().err


def test_unreadable_scan_fails_with_its_name(tmp_path, capsys):
    bad = tmp_path / "broken.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    assert main(["reconstruct", str(bad), "--out", str(tmp_path / "x.tif")]) == 2
    assert "broken.mat" in capsys.readouterr().err


def test_compare_reports_every_method_against_the_reference(tmp_path, untrained_model):
    out = tmp_path / "report"
    assert main(["compare", SCAN, "--model", str(untrained_model), "--reference", str(bundled_file(HTC_REFERENCE)),
                 "--segmentation", str(bundled_file(HTC_SEGMENTATION)), "--out", str(out)]) == 0
    result = json.loads((out / "metrics.json").read_text())
    scores = result["scores"]
    assert result["n_views_used"] == 60 and result["n_views_full"] == 720
    assert result["methods"]["model_1"]["label"] == "learned LearnedFBP (filter)"
    ram_lak, learned = scores["fbp_ram_lak"], scores["model_1"]
    for key in ("psnr", "ssim", "rmse", "edge_rise_mm", "noise_std", "data_consistency", "segmentation_mcc"):
        assert learned[key] == pytest.approx(ram_lak[key], rel=1e-4)  # untrained model = Ram-Lak FBP
    oracle = scores["fbp_tuned_oracle"]
    assert oracle["psnr"] >= ram_lak["psnr"] and oracle["noise_std"] < ram_lak["noise_std"]
    assert 0.2 < ram_lak["edge_rise_mm"] < 2.0 and oracle["segmentation_mcc"] > 0.95
    assert "rebin_fbp_oracle" in scores and result["methods"]["rebin_fbp_oracle"]["label"].startswith("rebin + FBP")
    for name in ("comparison.png", "profile.png", "filter_1.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "| FBP ram-lak |" in (out / "report.md").read_text()


def test_compare_without_reference_uses_the_full_scan(tmp_path):
    assert main(["compare", SCAN, "--views", "90", "--out", str(tmp_path / "r")]) == 0
    result = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "full scan" in result["reference"] and "Otsu" in result["segmentation"]


# ---- metrics and quality measures on known inputs -----------------------------------------------------------

def test_psnr_of_identical_images_is_infinite_and_of_known_noise_as_theory_says():
    rng = np.random.default_rng(0)
    ref = np.zeros((200, 200))
    ref[50:150, 50:150] = 0.04  # data range 0.04
    assert psnr(ref, ref) == np.inf and rmse(ref, ref) == 0.0 and ssim(ref, ref) == pytest.approx(1.0)
    sigma = 0.002
    noisy = ref + rng.normal(0, sigma, ref.shape)
    assert psnr(noisy, ref) == pytest.approx(20 * np.log10(0.04 / sigma), abs=0.05)
    assert rmse(noisy, ref) == pytest.approx(sigma, rel=0.02)


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    ref = ndimage.gaussian_filter(rng.random((64, 64)), 2)
    img = ref + 0.05 * rng.standard_normal(ref.shape)
    expected = structural_similarity(img, ref, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=float(ref.max() - ref.min()))
    assert ssim(img, ref) == pytest.approx(expected, rel=1e-10)


def test_edge_rise_of_a_blurred_disc_is_that_of_the_gaussian():
    n, px = 256, 0.3
    y, x = np.mgrid[:n, :n]
    seg = (np.hypot(x - 127.5, y - 127.5) * px < 30).astype(np.uint8)
    for sigma_px in (2.0, 3.0):
        blurred = ndimage.gaussian_filter(seg * 0.04, sigma_px)
        # 10–90 % of a Gaussian edge spread function: 2 × 1.2816 σ
        assert edge_rise_distance(blurred, seg, px) == pytest.approx(2.5631 * sigma_px * px, rel=0.05)


def test_otsu_noise_and_segmentation_score():
    from skimage.filters import threshold_otsu

    rng = np.random.default_rng(2)
    n = 128
    seg = np.zeros((n, n), np.uint8)
    seg[20:100, 30:110] = 1
    image = seg * 0.04 + rng.normal(0, 0.003, seg.shape)
    assert otsu_threshold(image) == pytest.approx(threshold_otsu(image), rel=1e-12)
    assert segmentation_mcc(image, seg) > 0.99
    assert segmentation_mcc(image, 1 - seg) < -0.99
    assert flat_region_noise(image, seg, pixel_size=0.5) == pytest.approx(0.003, rel=0.05)


def test_reference_resampling_keeps_pixel_alignment():
    g = recon.FanBeam([0.0], 10, 1.0, 64, 0.5, sod=100, sdd=200)
    fine = np.kron(np.arange(64 * 64, dtype=float).reshape(64, 64), np.ones((2, 2)))  # 128² of 0.25 mm
    np.testing.assert_array_equal(resample_to_grid(fine, 0.25, g), np.arange(64 * 64).reshape(64, 64))
    same = resample_to_grid(fine[::2, ::2], 0.5, g)
    np.testing.assert_array_equal(same, np.arange(64 * 64).reshape(64, 64))
    odd = resample_to_grid(fine, 0.25 * 64 / 63, g.replace(image_size=63, pixel_size=0.5 * 64 / 63 * 64 / 64))
    assert odd.shape == (63, 63) and np.isfinite(odd).all()
