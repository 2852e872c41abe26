"""recon.interop → deepinv: a LinearPhysics whose A is recon.project and A_adjoint recon.backproject, passing
deepinv's own adjoint check, on the arc-detector fan beam deepinv's Tomography lacks. Runs where ``deepinv``
is installed (it needs torchvision, which does not import beside this project's CPU torch 2.13)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.interop import to_deepinv

deepinv = pytest.importorskip("deepinv")

GEOMETRY = recon.FanBeam(np.linspace(0, 2 * np.pi, 60, endpoint=False), 80, 1.1, 48, 0.9, sod=200.0, sdd=350.0,
                         detector="arc")


def test_physics_is_recons_operator_pair():
    physics = to_deepinv(GEOMETRY)
    assert isinstance(physics, deepinv.physics.LinearPhysics)
    x = torch.rand(2, 1, 48, 48, dtype=torch.float64)
    y = physics(x)
    torch.testing.assert_close(y, recon.project(x, GEOMETRY))
    torch.testing.assert_close(physics.A_adjoint(y), recon.backproject(y, GEOMETRY))
    assert abs(float(physics.adjointness_test(x))) < 1e-10  # deepinv's dot-product check, float64
    # deepinv's power iteration finds ‖A‖² of the same operator recon's projector has
    sqnorm = getattr(physics, "compute_sqnorm", physics.compute_norm)  # deepinv ≥ 0.5 / older
    lipschitz = float(sqnorm(x[:1], max_iter=200, tol=1e-8, verbose=False))
    v = torch.rand(1, 1, 48, 48, dtype=torch.float64)
    for _ in range(200):
        v = recon.backproject(recon.project(v, GEOMETRY), GEOMETRY)
        v = v / v.norm()
    assert lipschitz == pytest.approx(float(recon.backproject(recon.project(v, GEOMETRY), GEOMETRY).norm()),
                                      rel=1e-3)


def test_noise_model_and_least_squares_inverse():
    physics = to_deepinv(GEOMETRY, noise_model=deepinv.physics.GaussianNoise(0.01))
    x = recon.rasterize(recon.shepp_logan(radius=20.0), GEOMETRY)[None, None]
    x = torch.as_tensor(x, dtype=torch.float32)
    y = physics(x)
    assert float((y - recon.project(x, GEOMETRY)).std()) == pytest.approx(0.01, rel=0.1)
    clean = to_deepinv(GEOMETRY)
    restored = clean.A_dagger(clean(x))  # deepinv's least squares through recon's A and Aᵀ
    assert float((restored - x).norm() / x.norm()) < 0.1


def test_deepinv_layout_is_its_tomography_layout():
    """layout="deepinv": sinograms [B, C, n_det, n_views] as deepinv's own Tomography gives them (checked against
    it on a parallel scan), the same operator transposed, still exactly adjoint."""
    physics = to_deepinv(GEOMETRY, layout="deepinv")
    x = torch.rand(2, 1, 48, 48, dtype=torch.float64)
    y = physics(x)
    assert y.shape == (2, 1, GEOMETRY.n_det, GEOMETRY.n_views)
    torch.testing.assert_close(y, recon.project(x, GEOMETRY).transpose(-1, -2))
    assert abs(float(physics.adjointness_test(x))) < 1e-10
    theirs = deepinv.physics.Tomography(angles=30, img_width=32, circle=False, normalize=False)
    assert theirs(torch.rand(1, 1, 32, 32)).shape[-1] == 30  # deepinv's last axis: the views
    with pytest.raises(ValueError, match="layout"):
        to_deepinv(GEOMETRY, layout="astra")
