"""Ramp filters: Kak–Slaney Ram-Lak, windows, cut-off, padding, the filter layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recon.analytic.filters import (RampFilter, apply_filter, filter_frequencies, filter_response, padded_length,
                           ramp_response)


def kak_slaney_kernel(n: np.ndarray, tau: float) -> np.ndarray:
    h = np.where(n == 0, 1.0 / (4 * tau ** 2), 0.0)
    odd = n % 2 == 1
    return np.where(odd, -1.0 / (np.pi * np.where(odd, n, 1) * tau) ** 2, h)


@pytest.mark.parametrize("n_det", [1, 31, 64, 300])
def test_padding_avoids_circular_wrap(n_det):
    assert padded_length(n_det) >= 2 * n_det - 1


def test_ram_lak_response_is_the_ramp_with_a_positive_dc_term():
    tau = 0.37
    resp = ramp_response(256, tau)
    f = filter_frequencies(256, tau)
    size = padded_length(256)
    assert resp[0] == pytest.approx(2 / (np.pi ** 2 * size * tau), rel=1e-3)  # not 0: no cupping
    mid = (f > 0.1 / tau) & (f < 0.45 / tau)
    np.testing.assert_allclose(resp[mid], f[mid], rtol=0.02)  # |f| in cycles per unit length
    assert resp[-1] == pytest.approx(0.5 / tau, rel=0.01)


def test_filtering_equals_linear_convolution_with_the_spatial_kernel():
    rng = np.random.default_rng(0)
    n, tau = 53, 0.5
    p = rng.standard_normal((3, n))
    out = apply_filter(torch.from_numpy(p), torch.from_numpy(ramp_response(n, tau))).numpy()
    k = np.arange(-(n - 1), n)
    expected = np.stack([tau * np.convolve(row, kak_slaney_kernel(k, tau))[n - 1:2 * n - 1] for row in p])
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, at_cutoff", [("ram-lak", 1.0), ("shepp-logan", 2 / np.pi), ("cosine", 0.0),
                                             ("hamming", 0.08), ("hann", 0.0)])
@pytest.mark.parametrize("cutoff", [1.0, 0.5])
def test_windows_and_cutoff(name, at_cutoff, cutoff):
    tau, n = 1.0, 128
    f = filter_frequencies(n, tau)
    resp = filter_response(n, tau, name, cutoff)
    ramp = ramp_response(n, tau)
    fc = cutoff * 0.5 / tau
    i = np.argmin(np.abs(f - fc))
    assert f[i] == pytest.approx(fc)
    assert resp[i] == pytest.approx(ramp[i] * at_cutoff, abs=1e-12)
    assert np.all(resp[f > fc + 1e-12] == 0)
    low = f < 0.05 * fc
    np.testing.assert_allclose(resp[low], ramp[low], rtol=0.02)  # every window is ≈1 near DC


def test_unknown_filter_and_bad_cutoff():
    with pytest.raises(ValueError, match="unknown filter 'gauss'"):
        filter_response(64, 1.0, "gauss")
    with pytest.raises(ValueError, match="cutoff"):
        filter_response(64, 1.0, "hann", 1.5)


def test_arc_kernel_is_the_ramp_times_gamma_over_sin_gamma_squared():
    dg = 0.002  # rad
    n = 101
    arc = ramp_response(n, dg, arc=True)
    flat = ramp_response(n, dg)
    # for small fan angles the two kernels nearly coincide, and the arc one is slightly larger at high |γ|
    np.testing.assert_allclose(arc[5:], flat[5:], rtol=0.01)
    with pytest.raises(ValueError, match="< π"):
        ramp_response(600, 0.01, arc=True)


def test_ramp_filter_layer_learnable_and_validates():
    layer = RampFilter(40, 0.5, "hann", learnable=True, dtype=torch.float64)
    assert isinstance(layer.response, torch.nn.Parameter)
    x = torch.randn(2, 7, 40, dtype=torch.float64)
    layer(x).pow(2).sum().backward()
    assert layer.response.grad is not None and layer.response.grad.abs().sum() > 0
    fixed = RampFilter(40, 0.5, layer.response.detach().numpy(), dtype=torch.float64)
    torch.testing.assert_close(fixed(x), layer(x))
    with pytest.raises(ValueError, match="40 detector columns"):
        layer(torch.randn(7, 41, dtype=torch.float64))
    with pytest.raises(ValueError, match="bins"):
        RampFilter(40, 0.5, np.ones(10))
