"""Image-quality measures: PSNR and SSIM (against scikit-image), scored over the whole image or inside a mask (the
field of view), edge rise, noise, Otsu and the HTC2022 score."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from recon.metrics import data_range, field_of_view, psnr, rmse, ssim
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


def test_field_of_view_is_the_inscribed_disc_of_the_grid():
    """Pixel centres within N/2 pixels of the grid centre ((N − 1)/2, (N − 1)/2), for odd and even N."""
    assert field_of_view(5).astype(int).tolist() == [[0, 1, 1, 1, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1],
                                                     [1, 1, 1, 1, 1], [0, 1, 1, 1, 0]]
    assert field_of_view(4).astype(int).tolist() == [[0, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1], [0, 1, 1, 0]]
    for n in (1, 64, 101):
        fov = field_of_view(n)
        y, x = np.mgrid[:n, :n]
        assert fov.dtype == bool and fov.shape == (n, n)
        assert np.array_equal(fov, np.hypot(x - (n - 1) / 2, y - (n - 1) / 2) <= n / 2)
        assert np.array_equal(fov, fov.T) and np.array_equal(fov, fov[::-1])
    assert field_of_view(512).mean() == pytest.approx(np.pi / 4, abs=2e-3)
    with pytest.raises(ValueError, match="image_size"):
        field_of_view(0)


def _smooth_pair(n: int = 96, seed: int = 3):
    rng = np.random.default_rng(seed)
    ref = ndimage.gaussian_filter(rng.random((n, n)), 3)
    return ref + 0.02 * rng.standard_normal(ref.shape), ref


def test_mask_none_is_the_whole_image_and_an_all_true_mask_the_same():
    img, ref = _smooth_pair()
    # mask=None: today's formulas over every pixel
    mse = np.mean((img - ref) ** 2)
    assert rmse(img, ref) == np.sqrt(mse)
    assert psnr(img, ref) == pytest.approx(10 * np.log10((ref.max() - ref.min()) ** 2 / mse), rel=1e-12)
    everything = np.ones(ref.shape, bool)
    assert rmse(img, ref, mask=everything) == pytest.approx(rmse(img, ref), rel=1e-12)
    assert psnr(img, ref, mask=everything) == pytest.approx(psnr(img, ref), rel=1e-12)
    assert float(data_range(ref, everything)) == float(data_range(ref))
    for convention in ("gaussian", "dival"):
        assert ssim(img, ref, convention=convention, mask=everything) == pytest.approx(
            ssim(img, ref, convention=convention), rel=1e-12)


def test_masked_rmse_and_psnr_are_those_of_the_masked_pixels():
    img, ref = _smooth_pair()
    mask = field_of_view(ref.shape[0])
    diff = (img - ref)[mask]
    assert rmse(img, ref, mask=mask) == pytest.approx(np.sqrt(np.mean(diff ** 2)), rel=1e-12)
    rng = ref[mask].max() - ref[mask].min()  # the reference's data range inside the mask
    assert psnr(img, ref, mask=mask) == pytest.approx(10 * np.log10(rng ** 2 / np.mean(diff ** 2)), rel=1e-12)
    assert psnr(img, ref, 1.0, mask=mask) == pytest.approx(-10 * np.log10(np.mean(diff ** 2)), rel=1e-12)
    # batched: one value per image, the [H, W] mask broadcast over the leading index
    stack, refs = np.stack([img, ref, 2 * img]), np.stack([ref, ref, ref])
    values = rmse(stack, refs, mask=mask)
    assert [float(v) for v in values] == pytest.approx([rmse(a, ref, mask=mask) for a in stack], rel=1e-12)
    assert float(values[1]) == 0.0


def test_masked_ssim_is_the_mean_of_scikit_images_map_over_window_centres_inside_the_mask():
    """scikit-image's full SSIM map at pixel (i, j) is the window centred there; ours averages it over the valid
    positions (centres at least r pixels from the border) inside the mask, in both conventions."""
    from skimage.metrics import structural_similarity

    img, ref = _smooth_pair(64)
    mask = field_of_view(64) & (np.arange(64)[None, :] < 40)  # not symmetric: a wrong offset would show
    rng = float(ref.max() - ref.min())  # given, so that only the averaging region differs
    for convention, r, kwargs in (("gaussian", 5, {"gaussian_weights": True, "sigma": 1.5,
                                                   "use_sample_covariance": False}), ("dival", 3, {})):
        _, smap = structural_similarity(img, ref, data_range=rng, full=True, **kwargs)
        valid = np.zeros_like(mask)
        valid[r:-r, r:-r] = True
        expected = smap[mask & valid].mean()
        assert ssim(img, ref, rng, convention=convention, mask=mask) == pytest.approx(expected, rel=1e-8)
        assert ssim(img, ref, rng, convention=convention) == pytest.approx(smap[valid].mean(), rel=1e-8)


def test_a_mask_where_the_images_agree_gives_inf_psnr_and_ssim_one():
    """The images differ only in the grid's corners, farther from the field of view than any SSIM window reaches:
    inside it PSNR is infinite and SSIM 1; over the whole square neither."""
    n = 96
    _, ref = _smooth_pair(n)
    y, x = np.mgrid[:n, :n]
    corners = np.hypot(x - (n - 1) / 2, y - (n - 1) / 2) > n / 2 + 11
    img = ref + 0.05 * corners
    fov = field_of_view(n)
    assert corners.any() and not (corners & fov).any()
    assert psnr(img, ref, mask=fov) == np.inf and rmse(img, ref, mask=fov) == 0.0
    assert np.isfinite(psnr(img, ref)) and rmse(img, ref) > 0
    for convention in ("gaussian", "dival"):
        assert ssim(img, ref, convention=convention, mask=fov) == pytest.approx(1.0, abs=1e-12)
        assert ssim(img, ref, convention=convention) < 0.999


def test_a_bad_mask_is_refused():
    img, ref = _smooth_pair(32)
    with pytest.raises(ValueError, match="shape"):
        psnr(img, ref, mask=field_of_view(31))
    with pytest.raises(TypeError, match="boolean"):
        rmse(img, ref, mask=field_of_view(32).astype(float))
    with pytest.raises(ValueError, match="no pixel"):
        ssim(img, ref, mask=np.zeros((32, 32), bool))
    border = np.zeros((32, 32), bool)
    border[0] = True  # no SSIM window is centred on the first row
    with pytest.raises(ValueError, match="border"):
        ssim(img, ref, mask=border)


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

