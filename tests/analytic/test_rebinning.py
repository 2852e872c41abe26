"""Interpolation rebinning fan ↔ parallel against analytic sinograms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon import fbp
from recon.analytic.rebinning import Rebinning, rebin, rebin_coverage


N, PX = 256, 0.8
PHANTOM = recon.shepp_logan(radius=95.0)


def parallel(scale: int = 1, span: float = np.pi) -> recon.ParallelBeam:
    return recon.ParallelBeam(np.linspace(0, span, 360 * scale, endpoint=False), 400 * scale, 0.6 / scale, N, PX)


def fan(detector: str = "flat", scale: int = 1, short: bool = False) -> recon.FanBeam:
    g = recon.FanBeam(np.linspace(0, 2 * np.pi, 720 * scale, endpoint=False), 500 * scale, 1.0 / scale, N, PX,
                      sod=400.0, sdd=800.0, detector=detector)
    if short:
        delta = float(np.max(np.abs(g.fan_angles)))
        g = g.replace(angles=np.linspace(0, np.pi + 2 * delta, 400 * scale) + 1.0)
    return g


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("detector", ["flat", "arc"])
@pytest.mark.parametrize("short", [False, True])
def test_fan_to_parallel_matches_the_analytic_parallel_sinogram(detector, short):
    src, dst = fan(detector, short=short), parallel()
    out = rebin(recon.ray_transform(PHANTOM, src), src, dst)
    exact = recon.ray_transform(PHANTOM, dst)
    # linear interpolation across the sharp skull edges of the sinogram: < 1 % at this sampling
    assert rel_l2(out, exact) < 0.01
    assert rebin_coverage(src, dst)[exact > 0].all()  # every line through the object was measured
    # and FBP after rebinning is as good as direct fan FBP
    truth = recon.rasterize(PHANTOM, dst)
    err_rebinned = np.sqrt(np.mean((fbp(out, dst) - truth) ** 2))
    err_direct = np.sqrt(np.mean((fbp(recon.ray_transform(PHANTOM, src), src) - truth) ** 2))
    assert err_rebinned < 1.05 * err_direct


def test_rebinning_error_converges_with_sampling():
    errors = []
    for scale in (1, 2):
        src, dst = fan(scale=scale), parallel(scale)
        errors.append(rel_l2(rebin(recon.ray_transform(PHANTOM, src), src, dst), recon.ray_transform(PHANTOM, dst)))
    assert errors[1] < 0.6 * errors[0]
    smooth = [recon.Ellipse(0.02, (10.0, 5.0), (60.0, 40.0), 0.3)]
    src, dst = fan(), parallel()
    assert rel_l2(rebin(recon.ray_transform(smooth, src), src, dst), recon.ray_transform(smooth, dst)) < 0.003


@pytest.mark.parametrize("detector", ["flat", "arc"])
@pytest.mark.parametrize("span", [np.pi, 2 * np.pi])
def test_parallel_to_fan(detector, span):
    src, dst = parallel(span=span), fan(detector)
    cov = rebin_coverage(src, dst)
    exact = recon.ray_transform(PHANTOM, dst)
    out = rebin(recon.ray_transform(PHANTOM, src), src, dst)
    assert cov[exact > 0].all()
    assert rel_l2(out, exact) < 0.015


def test_lines_outside_the_source_data_are_zero_and_reported():
    src = fan(short=True).replace(angles=np.linspace(0, np.pi / 2, 100))  # limited: 90°
    dst = parallel()
    cov = rebin_coverage(src, dst)
    assert 0.2 < cov.mean() < 0.8
    out = rebin(recon.ray_transform(PHANTOM, src), src, dst)
    assert np.all(out[~cov] == 0)
    exact = recon.ray_transform(PHANTOM, dst)
    assert rel_l2(out[cov], exact[cov]) < 0.015


def test_rebinning_layer_is_batched_and_differentiable():
    src, dst = fan("arc"), parallel()
    layer = Rebinning(src, dst, dtype=torch.float64)
    x = torch.from_numpy(recon.ray_transform(PHANTOM, src)).expand(2, 3, -1, -1).clone().requires_grad_(True)
    y = layer(x)
    assert y.shape == (2, 3) + dst.sino_shape
    torch.testing.assert_close(y[1, 2], layer(x[0, 0]))
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad.shape == x.shape and x.grad.abs().sum() > 0
    small_src = recon.FanBeam(np.linspace(0, 2 * np.pi, 12, endpoint=False), 9, 2.0, 8, 1.0, sod=20, sdd=40)
    small_dst = recon.ParallelBeam(np.linspace(0, np.pi, 7, endpoint=False), 9, 1.0, 8, 1.0)
    small = Rebinning(small_src, small_dst, dtype=torch.float64)
    assert torch.autograd.gradcheck(small, (torch.rand(12, 9, dtype=torch.float64, requires_grad=True),))


def test_rebin_validates_its_input():
    src, dst = fan(), parallel()
    with pytest.raises(ValueError, match=r"\[\.\.\., 720, 500\]"):
        rebin(np.zeros(dst.sino_shape), src, dst)
    with pytest.raises(TypeError, match="target must be"):
        Rebinning(src, "parallel")
