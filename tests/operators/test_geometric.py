"""The ray transform differentiable in the scan's global parameters: the same numbers as recon.project at those
parameters, and gradients with respect to detector offset, tilt, sod, sdd and angle offset that agree with finite
differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.operators.geometric import PARAMETERS, project_geometry

FAN = recon.FanBeam(np.linspace(0, 2 * np.pi, 24, endpoint=False), 40, 0.5, 16, 0.6, sod=40.0, sdd=70.0,
                    det_offset=0.3)
PAR = recon.ParallelBeam(np.linspace(0, np.pi, 18, endpoint=False), 36, 0.4, 16, 0.6, det_offset=-0.2)


def _image(n: int = 16) -> torch.Tensor:
    """A smooth blob well inside the grid (no tap reaches the grid's edge)."""
    x = torch.linspace(-1, 1, n, dtype=torch.float64)
    r2 = x[None, :] ** 2 + (x[:, None] - 0.1) ** 2
    return torch.exp(-r2 / 0.15) * 0.02


def _turned(g, tilt: float, **changes):
    """The vector geometry of ``g`` with ``changes`` and its detector turned by ``tilt`` in its plane."""
    g = g.replace(**changes)
    rows = g.view_vectors().as_array()
    c, s = np.cos(tilt), np.sin(tilt)
    axis = rows[:, 4:6] / np.linalg.norm(rows[:, 4:6], axis=1, keepdims=True)
    central = np.stack([-axis[:, 1], axis[:, 0]], axis=1)
    rows[:, 4:6] = g.det_spacing * (c * axis + s * central)
    if g.point_source:
        return recon.FanBeamVec(rows, g.n_det, g.image_size, g.pixel_size)
    return recon.ParallelBeamVec(rows, g.n_det, g.image_size, g.pixel_size)


@pytest.mark.parametrize("g", [FAN, PAR], ids=["fan", "parallel"])
def test_same_numbers_as_project_at_the_same_parameters(g):
    x = _image()
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    np.testing.assert_allclose(project_geometry(x, g).numpy(), recon.project(x, g).numpy(), rtol=1e-10, atol=1e-13)
    changes = {"det_offset": 0.8} if not g.point_source else {"det_offset": 0.8, "sod": 42.0, "sdd": 69.0}
    params = {k: t(v) for k, v in changes.items()}
    params.update(tilt=t(0.04), angle_offset=t(0.02))
    got = project_geometry(x, g, params).numpy()
    expected = recon.project(x, _turned(g, 0.04, angles=g.angles + 0.02, **changes)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("g", [FAN, PAR], ids=["fan", "parallel"])
def test_gradients_agree_with_finite_differences(g):
    x = _image()
    y = torch.from_numpy(np.random.default_rng(0).standard_normal(g.sino_shape))
    names = [p for p in PARAMETERS if g.point_source or p not in ("sod", "sdd")]
    base = {"det_offset": g.det_offset, "tilt": 0.01, "sod": getattr(g, "sod", 0), "sdd": getattr(g, "sdd", 0),
            "angle_offset": 0.003}
    for name in names:
        params = {p: torch.tensor(base[p], dtype=torch.float64) for p in names}
        params[name].requires_grad_()
        loss = (project_geometry(x, g, params) * y).sum()
        (grad,) = torch.autograd.grad(loss, params[name])
        h = 1e-6 * max(1.0, abs(base[name]))
        values = []
        for sign in (1, -1):
            moved = {p: v.detach().clone() for p, v in params.items()}
            moved[name] = moved[name] + sign * h
            values.append(float((project_geometry(x, g, moved) * y).sum()))
        fd = (values[0] - values[1]) / (2 * h)
        assert float(grad) == pytest.approx(fd, rel=1e-4, abs=1e-9), (name, float(grad), fd)
        assert abs(fd) > 1e-6  # each parameter changes the projection


def test_bad_requests_are_refused():
    x = _image()
    with pytest.raises(ValueError, match="unknown parameter"):
        project_geometry(x, FAN, {"pitch": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="a parallel beam has no sod"):
        project_geometry(x, PAR, {"sod": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="finite scalar tensor"):
        project_geometry(x, FAN, {"tilt": torch.tensor(float("nan"))})
    with pytest.raises(ValueError, match=r"image must be a tensor \[\.\.\., 16, 16\]"):
        project_geometry(x[:8], FAN)
    with pytest.raises(ValueError, match="flat detector or parallel rays"):
        project_geometry(x, FAN.replace(detector="arc"))
