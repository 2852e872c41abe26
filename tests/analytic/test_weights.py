"""Scan coverage, angular quadrature and Parker redundancy weights."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import recon
from recon.analytic.weights import (LimitedAngleWarning, parker_weights, quadrature_weights, redundancy_weights,
                           scan_coverage)


def fan(angles, detector="flat"):
    return recon.FanBeam(angles, 101, 2.0, 64, 1.0, sod=200.0, sdd=400.0, detector=detector)


def half_fan(g):
    return float(np.max(np.abs(g.fan_angles)))


def test_coverage_classification():
    full = fan(np.linspace(0, 2 * np.pi, 360, endpoint=False))
    assert scan_coverage(full).kind == "full"
    delta = half_fan(full)
    short = fan(np.linspace(1.0, 1.0 + np.pi + 2 * delta, 200))
    cov = scan_coverage(short)
    assert cov.kind == "short" and cov.start == pytest.approx(1.0) and cov.span == pytest.approx(np.pi + 2 * delta)
    assert scan_coverage(fan(np.linspace(0, np.pi, 200))).kind == "limited"
    par = recon.ParallelBeam(np.linspace(0, 2 * np.pi, 100, endpoint=False), 64, 1.0, 32, 1.0)
    assert scan_coverage(par).kind == "full"  # 2π parallel: views pair up modulo π
    assert scan_coverage(par.replace(angles=np.linspace(0, np.pi / 2, 50))).kind == "limited"


def test_quadrature_weights_follow_the_actual_gaps():
    rng = np.random.default_rng(0)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 400))
    g = fan(rng.permutation(angles))
    w = quadrature_weights(g)
    assert w.sum() == pytest.approx(2 * np.pi)
    order = np.argsort(g.angles)
    a = g.angles[order]
    gaps = np.diff(np.concatenate([a, [a[0] + 2 * np.pi]]))
    np.testing.assert_allclose(w[order], 0.5 * (gaps + np.roll(gaps, 1)))
    # a short scan integrates its arc with the trapezoidal rule
    d = half_fan(g)
    s = fan(np.linspace(0, np.pi + 2 * d, 101))
    ws = quadrature_weights(s)
    assert ws.sum() == pytest.approx(np.pi + 2 * d)
    assert ws[0] == pytest.approx(ws[1] / 2)


@pytest.mark.parametrize("detector", ["flat", "arc"])
def test_parker_weights_of_conjugate_rays_sum_to_one(detector):
    """Find each ray's conjugate from the geometry itself (same line, opposite direction)."""
    g = fan(np.array([0.0]), detector)
    delta = half_fan(g)
    gammas = g.fan_angles
    rng = np.random.default_rng(1)
    for _ in range(200):
        beta = rng.uniform(0, np.pi + 2 * delta)
        j = rng.integers(0, g.n_det)
        gamma = gammas[j]
        conj_beta = beta + np.pi - 2 * gamma
        # verify the conjugate geometrically: the ray at (conj_beta, -gamma) is the same line
        p1, d1 = fan(np.array([beta]), detector).rays()
        p2, d2 = fan(np.array([conj_beta]), detector).rays()
        k = g.n_det - 1 - j  # -gamma (symmetric detector)
        np.testing.assert_allclose(d2[0, k], -d1[0, j], atol=1e-12)
        off, d = p2[0, k] - p1[0, j], d1[0, j]
        assert abs(off[0] * d[1] - off[1] * d[0]) < 1e-9  # p2 lies on the first ray's line
        if conj_beta > np.pi + 2 * delta:  # then the pair is (β − π − 2γ... ) on the other side
            conj_beta = beta - np.pi - 2 * gamma
        w = parker_weights(beta, gamma, delta) + parker_weights(conj_beta, -gamma, delta)
        assert w == pytest.approx(1.0, abs=1e-12)


def test_parker_weights_are_smooth_and_bounded():
    delta = 0.2
    beta = np.linspace(-0.1, np.pi + 2 * delta + 0.1, 2000)[:, None]
    gamma = np.linspace(-delta, delta, 41)[None, :]
    w = parker_weights(beta, gamma, delta)
    assert w.min() >= 0 and w.max() <= 1
    assert np.all(w[beta[:, 0] < 0] == 0) and np.all(w[beta[:, 0] > np.pi + 2 * delta] == 0)
    inner = np.abs(gamma[0]) <= 0.8 * delta  # at |γ| = δ the transition is, correctly, a step
    assert np.abs(np.diff(w[:, inner], axis=0)).max() < 0.05


def test_redundancy_weights_full_short_and_limited():
    full = fan(np.linspace(0, 2 * np.pi, 360, endpoint=False))
    np.testing.assert_allclose(redundancy_weights(full), np.pi / 360)  # Δβ · ½
    delta = half_fan(full)
    short = fan(np.linspace(0, np.pi + 2 * delta, 301))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = redundancy_weights(short)
    # every line is counted once in total: Σ over views of the weights ≈ π for each detector column
    np.testing.assert_allclose(w.sum(0), np.pi, rtol=0.01)
    with pytest.warns(LimitedAngleWarning, match="less than the"):
        redundancy_weights(fan(np.linspace(0, math.radians(120), 100)))
