"""Learned gradient descent with CG data consistency: the CG steps solve the proximal data problem of the exact
operators (against a dense solve), are differentiable (gradcheck), make the output agree with the data; with no
CG steps the network is learned gradient descent; the model trains, saves and loads like the others."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.models import LearnedGradientDescent, LearnedGradientDescentCG, build_model, load_model, save_model
from recon.models.modl import START_WEIGHT, proximal_cg

from ..helpers import full_scans, holes_phantom


def _small():
    return recon.ParallelBeam(np.linspace(0, np.pi, 7, endpoint=False), n_det=12, det_spacing=1.0, image_size=8,
                              pixel_size=1.0)


def _dense(g) -> np.ndarray:
    """The system matrix ``A`` ``[V·D, N·N]`` of ``g``, column by column from unit images."""
    n = g.image_size
    columns = [recon.project(np.eye(n * n)[k].reshape(n, n), g).ravel() for k in range(n * n)]
    return np.stack(columns, axis=1)


def test_cg_steps_solve_the_proximal_problem_of_the_exact_operators():
    g = _small()
    a = _dense(g)
    gen = np.random.default_rng(0)
    z = gen.random((2, 8, 8))
    p = gen.random((2,) + g.sino_shape)
    lam = 0.3
    normal = lambda x: recon.backproject(recon.project(x, g), g)  # noqa: E731
    rhs = recon.backproject(torch.as_tensor(p), g)
    x = proximal_cg(torch.as_tensor(z), rhs, normal, torch.tensor(lam, dtype=torch.float64), 64).numpy()
    lhs = a.T @ a + lam * np.eye(64)
    for k in range(2):
        exact = np.linalg.solve(lhs, a.T @ p[k].ravel() + lam * z[k].ravel())
        np.testing.assert_allclose(x[k].ravel(), exact, rtol=0, atol=1e-9 * np.abs(exact).max())
    # few steps: the objective only decreases from z, and each image of the batch has its own step lengths
    objective = lambda x, k: np.sum((a @ x.ravel() - p[k].ravel()) ** 2) + lam * np.sum((x - z[k]) ** 2)  # noqa: E731
    few = proximal_cg(torch.as_tensor(z), rhs, normal, torch.tensor(lam, dtype=torch.float64), 3).numpy()
    alone = proximal_cg(torch.as_tensor(z[1:]), rhs[1:], normal, torch.tensor(lam, dtype=torch.float64), 3).numpy()
    assert all(objective(few[k], k) < objective(z[k], k) for k in range(2))
    np.testing.assert_allclose(few[1], alone[0], rtol=0, atol=1e-12)


def test_cg_steps_are_differentiable():
    g = _small()
    gen = torch.Generator().manual_seed(1)
    z = torch.rand((1, 8, 8), generator=gen, dtype=torch.float64, requires_grad=True)
    rhs = torch.rand((1, 8, 8), generator=gen, dtype=torch.float64, requires_grad=True)
    lam = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    normal = lambda x: recon.backproject(recon.project(x, g), g)  # noqa: E731
    assert torch.autograd.gradcheck(lambda z, r, w: proximal_cg(z, r, normal, w, 3), (z, rhs, lam))


def test_without_cg_steps_it_is_learned_gradient_descent_and_with_them_it_fits_the_data():
    g = full_scans(24)["fan-flat"]
    sino = torch.as_tensor(recon.ray_transform(holes_phantom(2), g))
    kwargs = dict(iterations=2, channels=4, filter="hann", cutoff=0.7, positivity=False, dtype=torch.float64)
    plain, cg = LearnedGradientDescent(g, **kwargs), LearnedGradientDescentCG(g, cg_steps=0, **kwargs)
    cg.updates.load_state_dict(plain.updates.state_dict())
    torch.testing.assert_close(cg(sino), plain(sino), rtol=0, atol=0)
    assert float(torch.nn.functional.softplus(cg.log_weights[0])) == pytest.approx(START_WEIGHT, rel=1e-12)

    def residual(model):
        with torch.no_grad():
            return float(torch.linalg.norm(recon.project(model(sino), g) - sino) / torch.linalg.norm(sino))

    assert residual(LearnedGradientDescentCG(g, cg_steps=4, **kwargs)) < 0.7 * residual(plain)


def test_trains_saves_and_loads(tmp_path):
    g = full_scans(24)["fan-flat"]
    table = {"type": "learned_gradient_descent_cg", "iterations": 2, "channels": 4, "cg_steps": 2,
             "filter": "hann", "cutoff": 0.6}
    model = build_model(table, g)
    assert isinstance(model, LearnedGradientDescentCG) and "2 CG data-consistency steps" in model.learned_parts()
    sino = torch.as_tensor(recon.ray_transform(holes_phantom(3), g)).float()
    model(sino).square().mean().backward()
    assert model.log_weights.grad is not None and bool(torch.all(model.log_weights.grad != 0))
    with torch.no_grad():
        model.log_weights.add_(0.3)
        for p in model.updates.parameters():
            p.add_(0.01)
    save_model(model, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert type(loaded) is LearnedGradientDescentCG and loaded.cg_steps == 2
    torch.testing.assert_close(loaded(sino), model(sino), rtol=0, atol=0)


@pytest.mark.parametrize("table, message", [
    ({"type": "learned_gradient_descent_cg", "cg_steps": -1}, "cg_steps must be a non-negative integer"),
    ({"type": "learned_gradient_descent_cg", "cg_steps": 1.5}, "cg_steps must be a non-negative integer"),
    ({"type": "learned_gradient_descent", "cg_steps": 2}, "cg_steps does not apply to a learned_gradient_descent"),
    ({"type": "learned_fbp", "cg_steps": 2}, "cg_steps does not apply"),
])
def test_bad_cg_steps_are_refused(table, message):
    with pytest.raises(ValueError, match=message):
        build_model(table, full_scans(24)["fan-flat"])

