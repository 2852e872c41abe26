"""ViewUpsampledFBP: untrained it is view-interpolated FBP; the least-squares fit and the gradients reach
its 2-D filter only; saved and loaded with its geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.models import ViewUpsampledFBP, fit_filter, load_model, mean_squared_error, save_model
from recon.models.view_upsampled import interpolation_response
from recon.analytic.views import upsample_views, upsampled_geometry

from ..helpers import full_scans


def test_interpolation_response_is_the_dft_of_the_triangle():
    h = interpolation_response(10, 4)
    assert h[0] == pytest.approx(4.0) and np.allclose(h, h[(-np.arange(40)) % 40])
    # zero at the multiples of the original view count (the spectral replicas linear interpolation removes)
    np.testing.assert_allclose(h[[10, 20, 30]], 0.0, atol=1e-12)


def _scan(kind: str) -> recon.Geometry:
    if kind == "parallel-pi":  # a half turn: the views continue with the detector reversed
        return recon.ParallelBeam(np.linspace(0, np.pi, 18, endpoint=False) - 0.3, 40, 0.45, 32, 0.5)
    return full_scans()[kind]


@pytest.mark.parametrize("kind", ["fan-flat", "fan-arc", "parallel-2pi", "parallel-pi"])
@pytest.mark.parametrize("factor", [1, 3])
def test_untrained_model_is_view_interpolated_fbp(kind, factor):
    g = _scan(kind)
    model = ViewUpsampledFBP(g, factor=factor, filter="hamming", cutoff=0.8, dtype=torch.float64)
    p = torch.rand((2,) + g.sino_shape, dtype=torch.float64)
    up, gu = upsample_views(p, g, factor)
    expected = recon.fbp(up, gu, "hamming", 0.8)
    torch.testing.assert_close(model(p), expected, rtol=1e-10, atol=1e-12 * float(expected.abs().max()))


def test_a_half_turn_model_is_the_full_circle_model_on_the_continued_views():
    """Over a parallel half turn the 2-D filter is circulant over the full circle: any learned response gives
    the model of the 2V-view full scan applied to the data continued with the detector reversed."""
    half = _scan("parallel-pi")
    full = half.replace(angles=half.angles[0] + np.arange(36) * np.pi / 18)
    model_half = ViewUpsampledFBP(half, factor=2, filter="hann", dtype=torch.float64)
    model_full = ViewUpsampledFBP(full, factor=2, filter="hann", dtype=torch.float64)
    c = torch.as_tensor(np.random.default_rng(4).normal(0, 0.2, model_half.filter.n_basis))
    model_half.filter.coefficients.data.copy_(c)
    model_full.filter.coefficients.data.copy_(c)
    p = torch.rand((2,) + half.sino_shape, dtype=torch.float64)
    with torch.no_grad():
        got, expected = model_half(p), model_full(torch.cat([p, p.flip(-1)], dim=-2))
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12 * float(expected.abs().max()))


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

