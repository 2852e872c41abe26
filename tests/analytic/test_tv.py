"""TV-regularised reconstruction (Chambolle–Pock): recovers a piecewise-constant phantom from analytic sparse-view
data to a stated error, its objective decreases, λ → 0 gives the least-squares solution, and batches, step
rules and bounds behave."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.analytic.tv import divergence, gradient, tune_tv, tv_objective, tv_reconstruct

from ..helpers import holes_phantom

N, PX = 48, 0.45
SPARSE = recon.FanBeam(np.linspace(0, 2 * np.pi, 24, endpoint=False), n_det=72, det_spacing=0.5, image_size=N,
                       pixel_size=PX, sod=60.0, sdd=100.0)


def _data(seed: int, geometry=SPARSE):
    """Analytic line integrals (detector-averaged: no inverse crime) and the rasterised truth of a holes phantom."""
    phantom = holes_phantom(seed)
    p = torch.from_numpy(recon.ray_transform(phantom, geometry, det_supersample=4))
    return p, torch.from_numpy(recon.rasterize(phantom, geometry, 4))


def _rmse(a, b) -> float:
    return float((a - b).square().mean().sqrt())


def test_gradient_and_divergence_are_negative_adjoints():
    x, g = torch.randn(3, 9, 9, dtype=torch.float64), torch.randn(3, 2, 9, 9, dtype=torch.float64)
    assert float((gradient(x) * g).sum() + (x * divergence(g)).sum()) == pytest.approx(0.0, abs=1e-10)


def test_sparse_view_piecewise_constant_phantom_is_recovered_far_better_than_fbp():
    p, truth = _data(0)
    x = tv_reconstruct(p, SPARSE, lam=1e-2, n_iter=800)
    fbp = recon.fbp(p, SPARSE, "hann")
    err_tv, err_fbp = _rmse(x, truth), _rmse(fbp, truth)
    assert err_tv < 0.05 * 0.04, (err_tv, err_fbp)  # under 5 % of the disc's μ (0.96e-3 here) ...
    assert err_tv < 0.25 * err_fbp  # ... and a quarter of Hann FBP's (5.8e-3)
    assert float(x.min()) >= 0.0


def test_the_objective_decreases_and_both_step_rules_reach_the_same_minimum():
    p, _ = _data(1)
    result = tv_reconstruct(p, SPARSE, lam=1e-3, n_iter=400, tol=0.0, track_objective=True)
    values = [float(v) for v in result.objective]
    assert values[9] < values[0] and values[-1] < values[9] and values[-1] <= min(values) * 1.001
    plain = tv_reconstruct(p, SPARSE, lam=1e-3, n_iter=3000, tol=0.0, preconditioned=False)
    f_pre, f_plain = (float(tv_objective(x, p, SPARSE, 1e-3)) for x in (result.image, plain))
    assert f_plain == pytest.approx(f_pre, rel=2e-2)


def test_lambda_to_zero_gives_the_least_squares_solution():
    g = recon.ParallelBeam(np.linspace(0, np.pi, 40, endpoint=False), n_det=24, det_spacing=1.0, image_size=12,
                           pixel_size=1.0)  # 960 rays for 144 pixels: a unique least-squares solution
    x_true = torch.rand(12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    p = recon.project(x_true, g) + 0.01 * torch.randn(g.sino_shape, dtype=torch.float64,
                                                      generator=torch.Generator().manual_seed(1))
    x_ls = recon.cgls(p, g, n_iter=200)
    x_tv = tv_reconstruct(p, g, lam=0.0, n_iter=3000, tol=0.0, nonnegative=False)
    assert float((x_tv - x_ls).norm() / x_ls.norm()) < 5e-3  # PDHG converges sublinearly: 0.3 % after 3000
    normal = lambda x: float(recon.backproject(recon.project(x, g) - p, g).norm())  # noqa: E731
    assert normal(x_tv) < 1e-4 * normal(torch.zeros_like(x_tv))
    x_small = tv_reconstruct(p, g, lam=1e-2, n_iter=3000, tol=0.0, nonnegative=False)
    assert float((x_small - x_ls).norm()) > float((x_tv - x_ls).norm())


def test_batches_bounds_and_tuning():
    pairs = [_data(s) for s in (2, 3)]
    p, truth = torch.stack([a for a, _ in pairs]), torch.stack([b for _, b in pairs])
    batch = tv_reconstruct(p, SPARSE, lam=1e-3, n_iter=100, tol=0.0)
    torch.testing.assert_close(batch[1], tv_reconstruct(p[1], SPARSE, lam=1e-3, n_iter=100, tol=0.0))
    capped = tv_reconstruct(p[0], SPARSE, lam=1e-3, n_iter=100, upper=0.03)
    assert float(capped.max()) <= 0.03 + 1e-12
    lam, scores = tune_tv(p, truth, SPARSE, lambdas=(1e-6, 1e-2, 10.0), n_iter=200)
    assert lam == 1e-2 and scores[1e-2] < min(scores[1e-6], scores[10.0])
    with pytest.raises(ValueError, match="lam must be >= 0"):
        tv_reconstruct(p, SPARSE, lam=-1.0)
