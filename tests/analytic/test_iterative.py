"""SIRT and CGLS on sparse-view analytic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon


PHANTOM = recon.shepp_logan(radius=95.0)
GEOM = recon.FanBeam(np.linspace(0, 2 * np.pi, 60, endpoint=False), 400, 1.2, 128, 1.6, sod=400.0, sdd=800.0)


def rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def test_sirt_and_cgls_beat_fbp_on_sparse_views():
    sino = recon.ray_transform(PHANTOM, GEOM)
    truth = recon.rasterize(PHANTOM, GEOM)
    err_fbp = rmse(recon.fbp(sino, GEOM), truth)
    err_sirt = rmse(recon.sirt(sino, GEOM, 100), truth)
    err_cgls = rmse(recon.cgls(sino, GEOM, 20), truth)
    assert err_sirt < 0.6 * err_fbp
    assert err_cgls < err_fbp


def test_sirt_residual_decreases_and_cgls_minimises_the_normal_residual():
    sino = torch.from_numpy(recon.ray_transform(PHANTOM, GEOM))
    residuals = [float((recon.project(recon.sirt(sino, GEOM, n), GEOM) - sino).norm()) for n in (5, 20, 60)]
    assert residuals[0] > residuals[1] > residuals[2]
    normal = [float(recon.backproject(recon.project(recon.cgls(sino, GEOM, n), GEOM) - sino, GEOM).norm())
              for n in (2, 8, 24)]
    assert normal[0] > normal[1] > normal[2]
    assert normal[2] < 0.05 * normal[0]


def test_batched_and_nonnegative():
    sino = torch.from_numpy(recon.ray_transform(PHANTOM, GEOM)).float()
    batch = torch.stack([sino, 0.5 * sino])
    out = recon.sirt(batch, GEOM, 10)
    assert out.shape == (2, 128, 128) and out.dtype == torch.float32 and out.min() >= 0
    torch.testing.assert_close(out[1], 0.5 * out[0], rtol=1e-4, atol=1e-6)
    c = recon.cgls(batch, GEOM, 5)
    torch.testing.assert_close(c[1], 0.5 * c[0], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="n_iter"):
        recon.sirt(sino, GEOM, 0)
