"""Sparse-view full scans: linear view interpolation, view-interpolated FBP, and the learned FBP with angular
upsampling and a 2-D view-circulant filter (identity with its analytic start, least squares, gradients)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.models import ViewUpsampledFBP, fit_filter, load_model, mean_squared_error, save_model
from recon.models.view_upsampled import interpolation_response
from recon.analytic.views import upsample_views, upsampled_geometry


def full_scans(n_views: int = 24, n: int = 32) -> dict[str, recon.Geometry]:
    angles = np.linspace(0, 2 * np.pi, n_views, endpoint=False) + 0.1
    return {
        "fan-flat": recon.FanBeam(angles, n_det=48, det_spacing=0.5, image_size=n, pixel_size=0.5, sod=60.0,
                                  sdd=100.0, detector="flat", det_offset=0.3),
        "fan-arc": recon.FanBeam(angles, n_det=48, det_spacing=0.5, image_size=n, pixel_size=0.5, sod=60.0,
                                 sdd=100.0, detector="arc"),
        "parallel-2pi": recon.ParallelBeam(angles, n_det=40, det_spacing=0.45, image_size=n, pixel_size=0.5),
    }


def test_upsample_views_interpolates_linearly_and_circularly():
    g = full_scans(12)["fan-flat"]
    rng = np.random.default_rng(0)
    p = rng.normal(size=(2,) + g.sino_shape)
    up, gu = upsample_views(p, g, 3)
    assert up.shape == (2, 36, g.n_det) and isinstance(up, np.ndarray)
    np.testing.assert_array_equal(up[:, ::3], p)
    np.testing.assert_allclose(up[:, 1], (2 * p[:, 0] + p[:, 1]) / 3, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(up[:, 35], (p[:, 11] + 2 * p[:, 0]) / 3, rtol=1e-12, atol=1e-15)  # wraps to view 0
    np.testing.assert_allclose(np.diff(gu.angles), np.diff(g.angles)[0] / 3, rtol=1e-12)
    assert gu.angles[0] == g.angles[0]


def test_view_interpolation_refuses_scans_that_are_not_full_and_uniform():
    g = full_scans(12)["fan-flat"]
    with pytest.raises(ValueError, match="full circle"):
        upsampled_geometry(g.replace(angles=g.angles[:8]), 2)
    bent = g.angles.copy()
    bent[3] += 0.05
    with pytest.raises(ValueError, match="uniformly spaced"):
        upsampled_geometry(g.replace(angles=bent), 2)
    with pytest.raises(ValueError, match="positive integer"):
        upsampled_geometry(g, 0)


def test_interpolation_response_is_the_dft_of_the_triangle():
    h = interpolation_response(10, 4)
    assert h[0] == pytest.approx(4.0) and np.allclose(h, h[(-np.arange(40)) % 40])
    # zero at the multiples of the original view count (the spectral replicas linear interpolation removes)
    np.testing.assert_allclose(h[[10, 20, 30]], 0.0, atol=1e-12)


def test_view_interpolated_fbp_removes_sparse_view_streaks():
    """Physics check: at 24 views of a disc phantom, backprojecting 4× interpolated views is closer to
    the truth outside the object (where the streaks are) than plain FBP."""
    g = full_scans(24, 64)["fan-flat"].replace(pixel_size=0.4, n_det=112)  # the detector sees r < 16.8 mm
    disc = [recon.Ellipse(0.02, (1.0, -0.5), (7.0, 7.0), 0.0), recon.Ellipse(-0.01, (2.0, 1.0), (2.0, 2.0), 0.0)]
    p = recon.ray_transform(disc, g, det_supersample=3)
    truth = recon.rasterize(disc, g)
    radius = np.hypot(*np.meshgrid(g.pixel_coords, g.pixel_coords))
    outside = (radius > 9.0) & (radius < 12.5)
    plain = recon.fbp(p, g, "hamming", 0.8)
    up, gu = upsample_views(p, g, 4)
    interp = recon.fbp(up, gu, "hamming", 0.8)
    err_plain = np.sqrt(np.mean((plain - truth)[outside] ** 2))
    err_interp = np.sqrt(np.mean((interp - truth)[outside] ** 2))
    assert err_interp < 0.1 * err_plain  # 24 → 96 views: the streaks fall by ~35× here
    inside = np.hypot(*np.meshgrid(g.pixel_coords - 1.0, g.pixel_coords[::-1] + 0.5)) < 3.0
    assert np.mean(interp[inside & (truth > 0.015)]) == pytest.approx(0.02, rel=0.03)


@pytest.mark.parametrize("kind", ["fan-flat", "fan-arc", "parallel-2pi"])
@pytest.mark.parametrize("factor", [1, 3])
def test_untrained_model_is_view_interpolated_fbp(kind, factor):
    g = full_scans()[kind]
    model = ViewUpsampledFBP(g, factor=factor, filter="hamming", cutoff=0.8, dtype=torch.float64)
    p = torch.rand((2,) + g.sino_shape, dtype=torch.float64)
    up, gu = upsample_views(p, g, factor)
    expected = recon.fbp(up, gu, "hamming", 0.8)
    torch.testing.assert_close(model(p), expected, rtol=1e-10, atol=1e-12 * float(expected.abs().max()))


def test_least_squares_recovers_a_known_2d_filter_and_gradients_reach_only_it():
    g = full_scans(16, 24)["fan-flat"]
    rng = np.random.default_rng(1)
    inputs = [torch.as_tensor(rng.normal(size=(2,) + g.sino_shape)) for _ in range(3)]
    truth = ViewUpsampledFBP(g, factor=2, det_knots=4, view_knots=(0.0, 1.0), dtype=torch.float64)
    c_true = torch.as_tensor(rng.normal(0, 0.1, truth.filter.n_basis))
    truth.filter.coefficients.data.copy_(c_true)
    with torch.no_grad():
        data = [(s, truth(s)) for s in inputs]
    model = ViewUpsampledFBP(g, factor=2, det_knots=4, view_knots=(0.0, 1.0), dtype=torch.float64)
    assert model.filter.n_basis == 3 * 4  # knots 0, 1, 2 (= U) in units of V/2, × 4 detector hats
    fit = fit_filter(model, data, ridge=0.0)
    np.testing.assert_allclose(fit.coefficients, c_true.numpy(), atol=1e-8)
    assert mean_squared_error(model, data) < 1e-12 * fit.loss_before
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["filter.coefficients"]
    model(inputs[0]).sum().backward()
    assert model.filter.coefficients.grad.abs().sum() > 0 and model.weights.coefficients.grad is None


def test_filter_gradient_matches_finite_differences():
    g = full_scans(8, 12)["fan-arc"].replace(n_det=20)
    model = ViewUpsampledFBP(g, factor=2, det_knots=3, view_knots=(0.0, 1.0), dtype=torch.float64)
    p = torch.rand(g.sino_shape, dtype=torch.float64)
    c = torch.zeros(model.filter.n_basis, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda c: torch.func.functional_call(model, {"filter.coefficients": c}, (p,)), (c,))


def test_save_load_round_trip_and_geometry_check(tmp_path):
    g = full_scans()["fan-flat"]
    model = ViewUpsampledFBP(g, factor=3, filter="hann", cutoff=0.9, positivity=True)
    with torch.no_grad():
        model.filter.coefficients.normal_(0, 0.1)
    path = save_model(model, tmp_path / "m.pt")
    loaded = load_model(path)
    p = torch.rand(g.sino_shape)
    torch.testing.assert_close(loaded(p), model(p), rtol=0, atol=0)
    assert loaded.factor == 3 and loaded.filter_name == "hann" and loaded.positivity
    with pytest.raises(ValueError, match="24 views expected, got 48"):
        loaded.check_geometry(upsampled_geometry(g, 2))
