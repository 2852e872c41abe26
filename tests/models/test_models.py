"""Known-operator models: identities with analytic FBP, gradient flow, the least-squares filter, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.analytic.filtered_backprojection import filter_spacing
from recon.analytic.filters import filter_response
from recon.models import (FanToParallel, LearnedFBP, ParallelToFan, fit_filter, load_model, mean_squared_error,
                          save_model)

from ..helpers import small_geometries


# the small test geometries have random angles; the parallel one covers less than π
pytestmark = pytest.mark.filterwarnings("ignore::recon.analytic.weights.LimitedAngleWarning")


def _phantom(radius: float) -> list[recon.Ellipse]:
    return recon.shepp_logan(radius=radius, mu=0.02)


@pytest.mark.parametrize("kind", ["parallel", "fan-flat", "fan-arc"])
@pytest.mark.parametrize("filter_, cutoff", [("ram-lak", 1.0), ("hann", 0.7)])
def test_untrained_model_is_analytic_fbp(kind, filter_, cutoff):
    g = small_geometries()[kind]
    sino = torch.randn((2,) + g.sino_shape, dtype=torch.float64)
    model = LearnedFBP(g, filter_, cutoff, learn="filter+weights", filter_basis=8, weight_basis=(3, 4),
                       dtype=torch.float64)
    expected = recon.fbp(sino, g, filter_, cutoff)
    torch.testing.assert_close(model(sino), expected, rtol=0, atol=0)


def test_untrained_short_scan_model_uses_parker_weights():
    g = recon.FanBeam([0.0], 64, 1.0, 32, 0.5, sod=30.0, sdd=60.0)
    half_fan = np.abs(g.fan_angles).max() + 0.01
    g = g.replace(angles=np.linspace(0, np.pi + 2 * half_fan, 80))
    assert recon.analytic.weights.scan_coverage(g).kind == "short"
    sino = torch.tensor(recon.ray_transform(_phantom(7.0), g))
    model = LearnedFBP(g, "hann", learn="weights", dtype=torch.float64)
    torch.testing.assert_close(model(sino), recon.fbp(sino, g, "hann"), rtol=0, atol=0)


@pytest.mark.parametrize("learn, expected", [
    ("filter", {"filter.coefficients"}),
    ("view_filters", {"filter.coefficients"}),
    ("weights", {"weights.coefficients"}),
    ("filter+weights", {"filter.coefficients", "weights.coefficients"}),
])
def test_gradient_reaches_exactly_the_learnable_parameters(learn, expected):
    g = small_geometries()["fan-flat"]
    model = LearnedFBP(g, learn=learn, filter_basis=6, dtype=torch.float64)
    sino = torch.randn(g.sino_shape, dtype=torch.float64)
    model(sino).square().sum().backward()
    got = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert got == expected
    assert {name for name, p in model.named_parameters() if p.requires_grad} == expected
    if learn == "view_filters":
        assert model.filter.coefficients.shape == (g.n_views, 6)


def test_filter_gradient_matches_finite_differences():
    g = small_geometries()["fan-arc"]
    model = LearnedFBP(g, learn="filter+weights", filter_basis=5, weight_basis=(2, 3), dtype=torch.float64)
    sino = torch.randn((1,) + g.sino_shape, dtype=torch.float64)
    target = torch.randn((1,) + g.image_shape, dtype=torch.float64) * 1e-3

    def loss_of(filter_coefficients, weight_coefficients):
        params = {"filter.coefficients": filter_coefficients, "weights.coefficients": weight_coefficients}
        return torch.sum((torch.func.functional_call(model, params, (sino,)) - target) ** 2)

    start = [torch.randn_like(p).mul_(0.1).requires_grad_(True) for p in model.learnable_parameters()]
    assert torch.autograd.gradcheck(loss_of, start)


def _training_pairs(g: recon.Geometry, n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        ellipses = [recon.Ellipse(rng.uniform(0.005, 0.02), tuple(rng.uniform(-3, 3, 2)),
                                  tuple(rng.uniform(1.5, 4.5, 2)), rng.uniform(0, np.pi)) for _ in range(3)]
        sino = recon.ray_transform(ellipses, g) + rng.normal(0, 0.01, g.sino_shape)
        pairs.append((torch.tensor(sino)[None], torch.tensor(recon.rasterize(ellipses, g))[None]))
    return pairs


def test_least_squares_filter_recovers_a_known_filter():
    g = small_geometries()["parallel"]
    pairs = _training_pairs(g, 4, seed=1)
    truth = LearnedFBP(g, filter_basis=6, dtype=torch.float64)
    c_true = torch.tensor([0.05, -0.02, 0.1, 0.0, -0.03, 0.01], dtype=torch.float64)
    truth.filter.coefficients.data.copy_(c_true)
    with torch.no_grad():
        data = [(s, truth(s)) for s, _ in pairs]
    model = LearnedFBP(g, filter_basis=6, dtype=torch.float64)
    fit = fit_filter(model, data, ridge=0.0)
    np.testing.assert_allclose(fit.coefficients, c_true.numpy(), rtol=0, atol=1e-9)
    assert fit.loss < 1e-12 * fit.loss_before  # zero up to the rounding of the normal equations
    assert mean_squared_error(model, data) < 1e-12 * fit.loss_before


def test_least_squares_optimum_is_a_stationary_point_below_analytic():
    g = small_geometries()["fan-flat"]
    pairs = _training_pairs(g, 5, seed=2)
    model = LearnedFBP(g, filter_basis=8, dtype=torch.float64)
    analytic = mean_squared_error(model, pairs)
    fit = fit_filter(model, pairs)
    assert fit.loss_before == pytest.approx(analytic, rel=1e-10)
    assert fit.loss < analytic
    assert mean_squared_error(model, pairs) == pytest.approx(fit.loss, rel=1e-8)
    loss = sum(torch.sum((model(s) - t) ** 2) for s, t in pairs)
    (grad,) = torch.autograd.grad(loss, model.filter.coefficients)
    probe = torch.autograd.grad(sum(torch.sum((model(s) - 0 * t) ** 2) for s, t in pairs),
                                model.filter.coefficients)[0]
    assert grad.norm() < 1e-6 * probe.norm()


def test_adam_training_approaches_the_least_squares_optimum():
    g = small_geometries()["parallel"]
    pairs = _training_pairs(g, 6, seed=3)
    ls = fit_filter(LearnedFBP(g, filter_basis=8, dtype=torch.float64), pairs).loss
    model = LearnedFBP(g, filter_basis=8, dtype=torch.float64)
    start = mean_squared_error(model, pairs)
    opt = torch.optim.Adam(model.learnable_parameters(), lr=3e-3)
    for _ in range(300):
        opt.zero_grad()
        loss = sum(torch.mean((model(s) - t) ** 2) for s, t in pairs) / len(pairs)
        loss.backward()
        opt.step()
    end = mean_squared_error(model, pairs)
    assert end < start
    assert (end - ls) < 0.05 * (start - ls)


def test_save_and_load_round_trip(tmp_path):
    g = small_geometries()["fan-arc"]
    custom = filter_response(g.n_det, filter_spacing(g)[0], "cosine", 0.9, arc=True)
    model = LearnedFBP(g, custom, learn="view_filters+weights", filter_basis=4, weight_basis=(3, 3),
                       positivity=True)
    with torch.no_grad():
        for p in model.learnable_parameters():
            p.normal_(0, 0.05)
    path = save_model(model, tmp_path / "m.pt", extra={"note": "test"})
    loaded = load_model(path)
    sino = torch.randn(g.sino_shape)
    torch.testing.assert_close(loaded(sino), model(sino), rtol=0, atol=0)
    assert loaded.metadata == {"note": "test"} and loaded.positivity and loaded.geometry == g
    with pytest.raises(FileExistsError):
        save_model(model, path)
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.pt"):
        load_model(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")


def test_geometry_mismatch_says_what_differs():
    g = small_geometries()["fan-flat"]
    model = LearnedFBP(g)
    model.check_geometry(g.replace(image_size=40, pixel_size=0.3))  # the image grid is the model's own
    with pytest.raises(ValueError, match="sod 30 expected, got 31"):
        model.check_geometry(g.replace(sod=31.0))
    with pytest.raises(ValueError, match="19 views expected, got 18"):
        model.check_geometry(g.replace(angles=g.angles[:-1]))
    with pytest.raises(ValueError, match="type 'fan' expected"):
        model.check_geometry(small_geometries()["parallel"])


def test_learn_is_validated():
    g = small_geometries()["parallel"]
    with pytest.raises(ValueError, match="unknown learnable"):
        LearnedFBP(g, learn="kernel")
    with pytest.raises(ValueError, match="not both"):
        LearnedFBP(g, learn="filter+view_filters")


def _conversion_pair():
    fan = recon.FanBeam(np.linspace(0, 2 * np.pi, 360, endpoint=False), 160, 0.5, 64, 0.5, sod=60.0, sdd=120.0)
    par = recon.ParallelBeam(np.linspace(0, np.pi, 180, endpoint=False), 160, 0.25, 64, 0.5)
    return fan, par


def test_untrained_fan_to_parallel_reproduces_the_parallel_sinogram():
    fan, par = _conversion_pair()
    phantom = _phantom(15.0)
    model = FanToParallel(fan, par, dtype=torch.float64)
    out = model(torch.tensor(recon.ray_transform(phantom, fan))).detach().numpy()
    exact = recon.ray_transform(phantom, par)
    assert out.shape == par.sino_shape
    assert out.sum() / exact.sum() == pytest.approx(1.0, abs=0.005)  # no bias from outside the field of view
    error = np.linalg.norm(out - exact) / np.linalg.norm(exact)
    rebinned = recon.rebin(recon.ray_transform(phantom, fan), fan, par)
    # the floor of a 0.25 mm intermediate grid (Joseph projection of the rasterised phantom) is 2.9 %
    assert error < 0.04 and error < 1.3 * np.linalg.norm(rebinned - exact) / np.linalg.norm(exact)


def test_untrained_parallel_to_fan_reproduces_the_fan_sinogram():
    fan, par = _conversion_pair()
    phantom = _phantom(15.0)
    model = ParallelToFan(par, fan, dtype=torch.float64)
    out = model(torch.tensor(recon.ray_transform(phantom, par))).detach().numpy()
    exact = recon.ray_transform(phantom, fan)
    assert out.sum() / exact.sum() == pytest.approx(1.0, abs=0.005)
    assert np.linalg.norm(out - exact) / np.linalg.norm(exact) < 0.04
    with pytest.raises(TypeError, match="ParallelBeam source"):
        ParallelToFan(fan, par)


def test_view_upsampled_conversion_is_view_interpolation_then_the_plain_conversion(tmp_path):
    """factor = U: untrained, the conversion reconstructs with view-interpolated FBP; it learns only its 2-D
    filter, and saves/loads with its factor."""
    from recon.analytic.views import upsample_views

    fan = recon.FanBeam(np.linspace(0, 2 * np.pi, 90, endpoint=False), 160, 0.5, 64, 0.5, sod=60.0, sdd=120.0)
    par = recon.ParallelBeam(np.linspace(0, np.pi, 180, endpoint=False), 160, 0.25, 64, 0.5)
    p = torch.tensor(recon.ray_transform(_phantom(15.0), fan))
    model = FanToParallel(fan, par, factor=3, filter="hann", cutoff=0.8, dtype=torch.float64)
    p_up, fan_up = upsample_views(p, fan, 3)
    plain = FanToParallel(fan_up, par, filter="hann", cutoff=0.8, dtype=torch.float64)
    np.testing.assert_allclose(model(p).detach().numpy(), plain(p_up).detach().numpy(), rtol=0, atol=1e-9)
    assert [n for n, q in model.named_parameters() if q.requires_grad] == ["filter.coefficients"]
    save_model(model, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.factor == 3 and "×3 views" in loaded.learned_parts()
    with pytest.raises(ValueError, match="learns its 2-D filter only"):
        FanToParallel(fan, par, factor=3, learn="filter+weights")
    with pytest.raises(ValueError, match="full"):
        FanToParallel(fan.replace(angles=fan.angles[:60]), par, factor=3)


def test_a_model_keeps_the_scans_rotation_centre():
    """A scan whose detector offset differs from the model's (a calibrated or estimated centre) is resampled onto
    the model's detector: the untrained model (= FBP in its geometry) then gives the FBP of the scan in the scan's
    own geometry, where taking the data as they are would double the edges."""
    from recon.io import Scan
    from recon.models import apply_model

    angles = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    model_geometry = recon.FanBeam(angles, 96, 0.5, 48, 0.6, sod=100.0, sdd=160.0)
    scan_geometry = model_geometry.replace(det_offset=1.1)  # the axis 2.2 elements off the model's
    phantom = [recon.Ellipse(0.02, (0.0, 0.0), (10.0, 7.0), 0.2), recon.Ellipse(-0.01, (3.0, 1.0), (2.5, 2.0))]
    scan = Scan(recon.ray_transform(phantom, scan_geometry).astype(np.float32), scan_geometry, "mem", "test")
    model = LearnedFBP(model_geometry, "hann", 0.8, dtype=torch.float64)
    image, _ = apply_model(scan, model)
    right = recon.fbp(scan.sinogram.astype(np.float64), scan_geometry, "hann", 0.8)
    wrong = recon.fbp(scan.sinogram.astype(np.float64), model_geometry, "hann", 0.8)
    error = np.linalg.norm(image - right) / np.linalg.norm(right)
    assert error < 0.02, error
    assert np.linalg.norm(wrong - right) / np.linalg.norm(right) > 5 * error
