"""Raw counts → line integrals: flat/dark normalisation and the guarded log transform."""

from __future__ import annotations

import numpy as np
import pytest

from recon.io import log_transform, normalize


def _counts(rng, n_views=7, frame=(3, 11), i0=5e4):
    """Raw counts I0·exp(-p)·gain + dark with stacks of flats and darks; returns (raw, flats, darks, p)."""
    p = rng.uniform(0.0, 4.0, size=(n_views,) + frame)
    gain = rng.uniform(0.6, 1.4, size=frame)
    dark = rng.uniform(90.0, 150.0, size=frame)
    raw = i0 * np.exp(-p) * gain + dark
    flats = i0 * gain + dark + np.array([40.0, -40.0, 15.0, -15.0]).reshape(4, 1, 1)  # averages to I0·gain + dark
    darks = dark + np.array([3.0, -3.0]).reshape(2, 1, 1)  # averages to dark
    return raw, flats, darks, p


def test_stacks_are_averaged_and_p_is_recovered():
    rng = np.random.default_rng(0)
    raw, flats, darks, p = _counts(rng)
    t = normalize(raw, flats, darks)
    assert t.shape == raw.shape and t.dtype == np.float64
    q, n_clipped = log_transform(t)
    assert n_clipped == 0
    np.testing.assert_allclose(q, p, atol=1e-10)
    # single frames give the same, and so does a 2-D [views, det] layout
    np.testing.assert_allclose(normalize(raw, flats.mean(0), darks.mean(0)), t, rtol=1e-12)
    np.testing.assert_allclose(normalize(raw[:, 1], flats[:, 1], darks[:, 1]), t[:, 1], rtol=1e-12)


def test_scalar_i0_and_no_dark():
    p = np.linspace(0.0, 3.0, 40).reshape(4, 10)
    q, n = log_transform(normalize(1000.0 * np.exp(-p), 1000.0))
    assert n == 0
    np.testing.assert_allclose(q, p, atol=1e-12)


def test_counts_below_dark_are_counted_and_clipped_not_nan():
    rng = np.random.default_rng(1)
    raw, flats, darks, _ = _counts(rng)
    dark = darks.mean(0)
    raw[0, 0, :3] = dark[0, :3] - 5.0   # below the dark level → negative transmission
    raw[2, 1, 4] = dark[1, 4]           # exactly dark → zero transmission
    t = normalize(raw, flats, darks)
    n_nonpositive = int(np.count_nonzero(t <= 0))
    assert n_nonpositive == 4
    q, n_clipped = log_transform(t, min_transmission=1e-6)
    assert n_clipped == n_nonpositive
    assert np.all(np.isfinite(q))
    assert q[0, 0, 0] == pytest.approx(-np.log(1e-6))
    assert q.max() == pytest.approx(-np.log(1e-6))


def test_values_below_the_floor_are_clipped_too():
    t = np.array([[0.5, 1e-9, 0.0, -0.2, 1.1]])
    q, n = log_transform(t, min_transmission=1e-3)
    assert n == 3
    np.testing.assert_allclose(q[0, 1:4], -np.log(1e-3))
    assert q[0, 4] < 0  # transmission above 1 (noise) gives a small negative line integral, kept


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_rejected(bad):
    raw = np.ones((3, 5))
    raw[1, 2] = bad
    with pytest.raises(ValueError, match="raw counts has 1 NaN/Inf"):
        normalize(raw, np.full(5, 2.0))
    flat = np.full((2, 5), 2.0)
    flat[0, 0] = bad
    with pytest.raises(ValueError, match="flat field has 1 NaN/Inf"):
        normalize(np.ones((3, 5)), flat)
    with pytest.raises(ValueError, match="transmission has 1 NaN/Inf"):
        log_transform(raw)


def test_all_zero_flat_and_flat_not_above_dark_are_clear_errors():
    raw = np.ones((3, 2, 5))
    with pytest.raises(ValueError, match="flat field is all zero"):
        normalize(raw, np.zeros((4, 2, 5)))
    flat = np.full((2, 5), 10.0)
    flat[0, :3] = 1.0  # equal to the dark level
    flat[1, 4] = 0.5   # below it
    with pytest.raises(ValueError, match=r"flat - dark ≤ 0 in 4 of 10 detector pixels"):
        normalize(raw, flat, np.ones((2, 5)))


def test_reference_shapes_must_fit_the_frame():
    with pytest.raises(ValueError, match=r"flat field of shape \(4, 6\) fits neither one frame \(5,\)"):
        normalize(np.ones((3, 5)), np.ones((4, 6)))
    with pytest.raises(ValueError, match=r"dark field of shape \(2, 3, 5\)"):
        normalize(np.ones((3, 2, 5)), np.ones((2, 5)), np.ones((2, 3, 5)))
    with pytest.raises(ValueError, match="raw counts must be"):
        normalize(np.ones(5), 1.0)
    with pytest.raises(TypeError, match="real numbers"):
        normalize(np.ones((3, 5), dtype=complex), 1.0)


@pytest.mark.parametrize("floor", [0.0, 1.0, -1e-3, float("nan"), "1e-6"])
def test_floor_must_lie_in_zero_one(floor):
    with pytest.raises(ValueError, match="min_transmission must lie in"):
        log_transform(np.ones(3), min_transmission=floor)


def test_integer_counts_are_accepted():
    raw = np.array([[100, 50], [25, 400]], dtype=np.uint16)
    q, n = log_transform(normalize(raw, np.array([400, 400], dtype=np.uint16)))
    assert n == 0
    np.testing.assert_allclose(q, -np.log(raw / 400.0))
