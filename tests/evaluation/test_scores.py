"""The scores of evaluate and compare: RMSE, PSNR and SSIM inside the field of view by default, over the whole
square with ``region="square"`` (the previous numbers); the other measures do not depend on the region."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

import recon
from recon.evaluation.scores import REGIONS, image_scores, region_mask, scan_scores
from recon.metrics import field_of_view, psnr, rmse, ssim

REGION_KEYS = ("rmse", "psnr", "ssim", "ssim_dival")


def _images(n_images: int = 3, n: int = 40, seed: int = 0):
    """A disc phantom per image and a noisy copy with a smooth offset in the corners (like FBP of truncated data)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:n, :n] - (n - 1) / 2
    r = np.hypot(x, y)
    truth = np.stack([ndimage.gaussian_filter((r < n / 3).astype(float) * (0.02 + 0.01 * k), 1.0)
                      for k in range(n_images)])
    images = truth + 0.002 * rng.standard_normal(truth.shape) + 0.006 * (r > n / 2)
    return torch.from_numpy(images), torch.from_numpy(truth)


def test_regions_name_the_field_of_view_and_the_square():
    assert REGIONS == {"fov": "inside the field of view (the inscribed disc of the image grid)",
                       "square": "over the whole square image grid"}
    assert np.array_equal(region_mask("fov", (2, 40, 40)), field_of_view(40))
    assert region_mask("square", (40, 40)) is None
    with pytest.raises(ValueError, match="region must be one of fov, square, got 'bogus'"):
        region_mask("bogus", (40, 40))
    with pytest.raises(ValueError, match="square grid"):
        region_mask("fov", (40, 32))


def test_image_scores_default_to_the_field_of_view_and_square_gives_the_whole_grid():
    images, truth = _images()
    fov, square = image_scores(images, truth, 0.5), image_scores(images, truth, 0.5, region="square")
    assert image_scores(images, truth, 0.5, region="fov") == fov
    mask = field_of_view(40)
    expected = {"fov": {"rmse": rmse(images, truth, mask=mask), "psnr": psnr(images, truth, mask=mask),
                        "ssim": ssim(images, truth, mask=mask),
                        "ssim_dival": ssim(images, truth, convention="dival", mask=mask)},
                # the whole grid: the metrics without a mask, as image_scores computed them before regions
                "square": {"rmse": rmse(images, truth), "psnr": psnr(images, truth), "ssim": ssim(images, truth),
                           "ssim_dival": ssim(images, truth, convention="dival")}}
    for scores, values in ((fov, expected["fov"]), (square, expected["square"])):
        for key in REGION_KEYS:
            assert scores[key] == float(values[key].mean()) and scores[f"{key}_std"] == float(values[key].std())
    # the corner offset only hurts over the square; the edge sharpness does not depend on the region
    assert fov["psnr"] > square["psnr"] + 1.0 and fov["rmse"] < square["rmse"]
    assert fov["edge_rise_mm"] == square["edge_rise_mm"] and fov["edge_rise_mm_std"] == square["edge_rise_mm_std"]
    with pytest.raises(ValueError, match="region"):
        image_scores(images, truth, region="bogus")


def test_scan_scores_region_changes_only_rmse_psnr_and_ssim():
    images, truth = _images(1)
    image, reference = images[0].numpy(), truth[0].numpy()
    g = recon.ParallelBeam(np.linspace(0, np.pi, 30, endpoint=False), n_det=60, det_spacing=0.5, image_size=40,
                           pixel_size=0.5)
    sinogram = recon.project(torch.from_numpy(reference), g).numpy()
    segmentation = (reference > 0.5 * reference.max()).astype(np.uint8)
    fov = scan_scores(image, reference, segmentation, sinogram, g, True)
    square = scan_scores(image, reference, segmentation, sinogram, g, True, region="square")
    assert list(fov) == list(square)  # the same keys in the same order
    mask = field_of_view(40)
    assert fov["psnr"] == psnr(image, reference, mask=mask) and fov["ssim"] == ssim(image, reference, mask=mask)
    assert square["rmse"] == rmse(image, reference) and square["psnr"] == psnr(image, reference)
    assert square["ssim"] == ssim(image, reference)
    assert square["ssim_dival"] == ssim(image, reference, convention="dival")
    for key in REGION_KEYS:
        assert fov[key] != square[key]
    for key in set(fov) - set(REGION_KEYS):
        assert fov[key] == square[key]


def test_every_table_and_report_sentence_names_the_region():
    from recon.evaluation.report import format_report, format_summary, format_table, summarise_scans

    results = {"fbp_ram_lak": {"psnr": 20.0, "ssim": 0.5, "rmse": 0.01}, "model_1": {"psnr": 21.0, "ssim": 0.6}}
    labels = {"fbp_ram_lak": "FBP ram-lak", "model_1": "learned"}
    fov = "PSNR/SSIM/RMSE inside the field of view (the inscribed disc of the image grid)."
    square = "PSNR/SSIM/RMSE over the whole square image grid."
    assert f"\n\n{fov}\n\n" in format_table(results, labels) and square not in format_table(results, labels)
    assert f"\n\n{square}\n\n" in format_table(results, labels, "square")
    assert "PSNR/SSIM/RMSE" not in format_table({"rebin_fbp": {"sinogram_rel_l2": 0.1}}, {"rebin_fbp": "rebin"})
    with pytest.raises(ValueError, match="region"):
        format_table(results, labels, "disc")
    context = {"n_views_used": 60, "n_views_full": 720, "region": REGIONS["square"], "region_id": "square"}
    report = format_report(results, labels, context, "Comparison")
    assert "PSNR/SSIM/RMSE over the whole square image grid; PSNR data range: max − min of the reference there." \
        in report and f"\n\n{square}\n" in report and "field of view" not in report
    scans = [{"scan": name, "methods": {m: {"label": labels[m]} for m in results}, "scores": results,
              "region": REGIONS["fov"], "region_id": "fov"} for name in ("a.mat", "b.mat")]
    summary = summarise_scans(scans)
    assert summary["region"] == REGIONS["fov"] and summary["region_id"] == "fov"
    text = format_summary(summary, "Comparison on 2 scans")
    assert f"\n\n{fov}\n" in text and "of all methods on a scan, inside the field of view (the inscribed" in text
    with pytest.raises(ValueError, match="different regions"):
        summarise_scans([scans[0], {**scans[1], "region": REGIONS["square"], "region_id": "square"}])
