"""Image-quality measures: PSNR and SSIM (against scikit-image), edge rise, noise, Otsu and the HTC2022 score."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from recon.metrics import psnr, rmse, ssim
from recon.evaluation.quality import edge_rise_distance, flat_region_noise, otsu_threshold, segmentation_mcc


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


def test_dival_ssim_matches_scikit_image_defaults_and_differs_from_gaussian():
    """``convention="dival"`` is scikit-image's default SSIM (7 × 7 uniform window, sample covariance) with the
    ground truth's data range, as DIVal reports it; batched images give each image's value."""
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(2)
    refs = ndimage.gaussian_filter(rng.random((3, 48, 40)), (0, 2, 2))
    imgs = refs + 0.05 * rng.standard_normal(refs.shape)
    ours = ssim(imgs, refs, convention="dival")
    for k in range(3):
        expected = structural_similarity(imgs[k], refs[k], data_range=float(refs[k].max() - refs[k].min()))
        assert float(ours[k]) == pytest.approx(expected, rel=1e-10)
    # the conventions really differ on noisy images (so a report must say which it used)
    assert abs(float(ours[0]) - ssim(imgs[0], refs[0])) > 0.01
    with pytest.raises(ValueError, match="convention"):
        ssim(imgs, refs, convention="uniform")


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

