"""The Scan derivations: view subsets, arcs through 0°, detector binning, rotation centre, slices."""

from __future__ import annotations

import math

import numpy as np
import pytest

import recon
from recon.io import Scan


def _scan(n_views: int = 720, n_det: int = 560, slices: int | None = None) -> Scan:
    geometry = recon.FanBeam(np.deg2rad(np.arange(n_views) * 360.0 / n_views), n_det, 0.2, 64, 0.3,
                             sod=410.66, sdd=553.74, det_offset=0.1)
    shape = (n_views, n_det) if slices is None else (slices, n_views, n_det)
    sino = np.random.default_rng(0).uniform(0, 2, size=shape).astype(np.float32)
    return Scan(sino, geometry, "mem", "test", {"rows": list(range(slices or 1))})


def test_select_views_count_step_indices():
    scan = _scan()
    sparse = scan.select_views(count=60)
    assert sparse.sinogram.shape == (60, 560)
    np.testing.assert_allclose(np.rad2deg(sparse.geometry.angles), np.arange(60) * 6.0)
    np.testing.assert_array_equal(sparse.sinogram, scan.sinogram[::12])
    assert scan.select_views(step=5).n_views == 144
    picked = scan.select_views(indices=[-1, 0, 10])
    np.testing.assert_array_equal(picked.sinogram, scan.sinogram[[719, 0, 10]])
    mask = np.zeros(720, bool)
    mask[100:110] = True
    assert scan.select_views(indices=mask).n_views == 10
    assert sparse.info["history"] == ["select_views(count=60)"] and "history" not in scan.info
    assert scan.sinogram.shape == (720, 560)  # the original is untouched


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of step, count, indices"),
    ({"step": 2, "count": 3}, "exactly one"),
    ({"count": 0}, r"count \(--views on the command line\) must lie in \[1, 720\]"),
    ({"count": 721}, r"count \(--views on the command line\) must lie in \[1, 720\]"),
    ({"step": 1.5}, "step must be an integer"),
    ({"indices": [0, 720]}, r"view indices must lie in \[-720, 719\]"),
    ({"indices": [3, 3]}, "duplicate"),
    ({"indices": []}, "select no views"),
    ({"indices": [0.5]}, "integers or a boolean mask"),
])
def test_select_views_rejects_bad_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        _scan(720, 8).select_views(**kwargs)


def test_select_angles_arcs_and_wrap_around():
    scan = _scan(720, 8)
    quarter = scan.select_angles(0.0, math.pi / 2)
    assert quarter.n_views == 181  # 0 … 90° inclusive
    wrap = scan.select_angles(math.radians(350), math.radians(10))
    deg = np.rad2deg(wrap.geometry.angles)
    # ordered along the arc, angles continued through 360°: 350, …, 359.5, 360, …, 370
    assert wrap.n_views == 41 and deg[0] == pytest.approx(350.0) and deg[-1] == pytest.approx(370.0)
    np.testing.assert_allclose(np.diff(deg), 0.5, atol=1e-9)
    np.testing.assert_array_equal(wrap.sinogram[0], scan.sinogram[700])  # 350° is view 700
    np.testing.assert_array_equal(wrap.sinogram[-1], scan.sinogram[20])  # 370° ≡ 10° is view 20
    np.testing.assert_array_equal(quarter.geometry.angles, scan.geometry.angles[:181])  # no wrap: as they were
    assert scan.select_angles(-math.radians(10), math.radians(10)).n_views == 41
    assert scan.select_angles(0.0, 4 * math.pi).n_views == 720
    short = scan.select_angles(math.radians(30), math.radians(30 + 200))
    assert short.n_views == 401 and recon.analytic.weights.scan_coverage(short.geometry).kind == "short"
    with pytest.raises(ValueError, match="no view lies on the arc"):
        scan.select_angles(math.radians(0.1), math.radians(0.4))
    with pytest.raises(ValueError, match="start must be finite"):
        scan.select_angles(float("nan"), 1.0)


def test_cone_scans_select_the_same_arcs():
    angles = np.deg2rad(np.arange(0.0, 360.0, 2.0))
    flat = recon.io.Scan(np.zeros((180, 8), np.float32), recon.FanBeam(angles, 8, 1.0, 8, 0.5, sod=50.0, sdd=80.0))
    proj = np.arange(180, dtype=np.float32)[:, None, None] * np.ones((1, 2, 8), np.float32)
    cone = recon.io.ConeScan(proj, recon.ConeBeam(angles, (2, 8), 1.0, sod=50.0, sdd=80.0))
    for start, stop in ((350.0, 10.0), (30.0, 150.0), (0.0, 720.0)):
        a, b = flat.select_angles(math.radians(start), math.radians(stop)), \
            cone.select_angles(math.radians(start), math.radians(stop))
        np.testing.assert_array_equal(b.geometry.angles, a.geometry.angles)
        np.testing.assert_allclose(np.rad2deg(b.geometry.angles) % 360 / 2, b.projections[:, 0, 0], atol=1e-9)
    with pytest.raises(ValueError, match="no view lies on the arc"):
        cone.select_angles(math.radians(0.5), math.radians(1.5))


def test_bin_detector_keeps_the_geometry_exact():
    scan = _scan(8, 560)
    binned = scan.bin_detector(3)  # 560 = 3·186 + 2
    g, b = scan.geometry, binned.geometry
    assert b.n_det == 186 and b.det_spacing == pytest.approx(0.6)
    assert binned.info["dropped_detector_elements"] == 2
    np.testing.assert_allclose(b.det_coords, g.det_coords[:558].reshape(186, 3).mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(binned.sinogram, scan.sinogram[:, :558].reshape(8, 186, 3).mean(-1), rtol=1e-6)
    even = scan.bin_detector(4)
    assert even.geometry.det_offset == g.det_offset and even.n_det == 140
    assert scan.bin_detector(1).geometry == g
    with pytest.raises(ValueError, match=r"factor must lie in \[1, 560\]"):
        scan.bin_detector(0)


def test_shift_center_and_rotation_center():
    scan = _scan(8, 101)
    assert scan.rotation_center == pytest.approx(50.0 - 0.1 / 0.2)
    moved = scan.shift_center(0.4)
    assert moved.geometry.det_offset == pytest.approx(0.5)
    assert moved.rotation_center == pytest.approx(scan.rotation_center - 2.0)
    np.testing.assert_array_equal(moved.sinogram, scan.sinogram)
    assert scan.geometry.det_offset == pytest.approx(0.1)


@pytest.mark.parametrize("kind", ["parallel", "flat", "arc"])
def test_resample_detector_samples_the_same_rays_at_the_other_offset(kind):
    """Exact line integrals of a phantom measured with det_offset 0.37 mm, resampled onto det_offset −0.15 mm,
    are the exact line integrals at −0.15 mm to interpolation accuracy (and far from the unresampled data)."""
    angles = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    phantom = [recon.Ellipse(0.02, (1.0, -2.0), (9.0, 6.0), 0.4), recon.Ellipse(0.01, (-3.0, 2.0), (3.0, 2.0))]

    def geometry(offset):
        if kind == "parallel":
            return recon.ParallelBeam(angles, 128, 0.25, 64, 0.4, det_offset=offset)
        return recon.FanBeam(angles, 128, 0.3, 64, 0.4, sod=120.0, sdd=200.0, detector=kind, det_offset=offset)

    measured = Scan(recon.ray_transform(phantom, geometry(0.37)).astype(np.float32), geometry(0.37), "mem", "test")
    moved = measured.resample_detector(-0.15)
    truth = recon.ray_transform(phantom, geometry(-0.15))
    assert moved.geometry == geometry(-0.15)
    error = np.linalg.norm(moved.sinogram - truth) / np.linalg.norm(truth)
    assert error < 0.01, error
    assert np.linalg.norm(measured.sinogram - truth) / np.linalg.norm(truth) > 10 * error
    with pytest.raises(ValueError, match="more than a tenth"):
        measured.resample_detector(0.37 + 20 * measured.geometry.det_spacing)


def test_slice_and_validation():
    scan = _scan(8, 20, slices=3)
    assert scan.n_slices == 3
    s = scan.slice(-1)
    assert s.sinogram.shape == (8, 20) and s.info["row"] == 2
    np.testing.assert_array_equal(s.sinogram, scan.sinogram[2])
    with pytest.raises(ValueError, match=r"slice index must lie in \[-3, 2\]"):
        scan.slice(3)
    with pytest.raises(ValueError, match="this one is 2-D"):
        s.slice(0)
    with pytest.raises(ValueError, match=r"does not match the geometry.*\(8, 20\)"):
        Scan(np.zeros((20, 8)), scan.geometry)
    bad = np.zeros((8, 20))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="1 NaN/Inf"):
        Scan(bad, scan.geometry)
    assert Scan(np.zeros((8, 20), np.float64), scan.geometry).sinogram.dtype == np.float32

