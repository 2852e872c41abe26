"""FDK (recon.fdk): a one-row scan is the 2-D fan FBP, a ball reconstructs to its μ, the 3-D Shepp–Logan phantom's
central slice is as good as the fan FBP of that slice, and the cone-angle artefact grows away from the source
plane as theory says."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import recon
from recon.simulation.ellipsoids import Ellipsoid, exact_projections, rasterize_volume, shepp_logan_3d


@pytest.mark.parametrize("detector,fan", [("flat", "flat"), ("cylindrical", "arc")])
@pytest.mark.parametrize("short", [False, True])
def test_a_one_row_scan_is_the_fan_fbp(detector, fan, short):
    angles = np.linspace(0, 2 * np.pi, 60, endpoint=False) + 0.2
    if short:
        angles = angles[angles < np.pi + 1.2]  # a short scan: Parker weights
    g = recon.ConeBeam(angles, (1, 81), (0.5, 0.8), sod=60.0, sdd=90.0, detector=detector, det_offset=(0.0, -0.4))
    f = recon.FanBeam(angles, n_det=81, det_spacing=0.8, image_size=40, pixel_size=0.9, sod=60.0, sdd=90.0,
                      det_offset=-0.4, detector=fan)
    p = np.random.default_rng(1).random(g.proj_shape)
    a = recon.fdk(p, g, recon.VolumeGrid((1, 40, 40), 0.9), "hann", 0.8)[0]
    b = recon.fbp(p[:, 0], f, "hann", 0.8)
    assert np.allclose(a, b, rtol=0, atol=1e-10 * np.abs(b).max())


def test_a_ball_reconstructs_to_its_attenuation():
    g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 90, endpoint=False), (24, 48), 1.0, sod=100.0, sdd=150.0)
    p = exact_projections([Ellipsoid(0.02, (0.0, 0.0, 0.0), (10.0, 10.0, 10.0))], g, supersample=3)
    v = recon.fdk(p.astype(np.float32), g, recon.VolumeGrid((8, 32, 32), 1.0))
    assert v.dtype == np.float32
    assert np.allclose(v[:, 12:20, 12:20], 0.02, rtol=0.01)
    assert np.abs(v[:, 15:17, 2:4]).max() < 5e-4  # outside the ball, inside the field of view (radius 16 mm)


@pytest.mark.parametrize("detector", ["flat", "cylindrical"])
def test_shepp_logan_central_slice_matches_the_fan_fbp_and_the_cone_artefact_grows(detector):
    n = 41  # odd: slice n // 2 lies in the source plane
    grid = recon.VolumeGrid((n, n, n), 2.5)
    phantom = shepp_logan_3d(45.0, 0.01)
    truth = rasterize_volume(phantom, grid, 2)
    angles = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    g = recon.ConeBeam(angles, (100, 100), 2.0, sod=150.0, sdd=300.0, detector=detector)  # covers the head
    volume = recon.fdk(exact_projections(phantom, g), g, grid, "hann", 0.8)
    k = n // 2
    one_row = g.replace(det_shape=(1, 100))  # the fan scan of the central slice
    central = recon.fdk(exact_projections(phantom, one_row), one_row, recon.VolumeGrid((1, n, n), 2.5),
                        "hann", 0.8)[0]
    err = lambda a, s: np.linalg.norm(a - truth[s]) / np.linalg.norm(truth[s])  # noqa: E731
    assert err(volume[k], k) <= 1.15 * err(central, k)
    # the brain's intensity lost away from the source plane grows with the cone angle (Feldkamp's approximation):
    # measured 0.00001, 0.00011, 0.00031, 0.00067 (1/mm) at z = 0, 15, 25, 35 mm for the flat detector
    brain = (truth > 0.0095) & (truth < 0.0105)
    loss = [-float((volume[s] - truth[s])[brain[s]].mean()) for s in (k, k - 6, k - 10, k - 14)]
    assert abs(loss[0]) < 5e-5 and loss[1] < loss[2] < loss[3] and loss[3] > 2e-4
    assert np.allclose(loss, [-float((volume[s] - truth[s])[brain[s]].mean()) for s in (k, k + 6, k + 10, k + 14)],
                       rtol=0.05, atol=1e-5)  # symmetric about the source plane


def test_bad_input():
    g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 8, endpoint=False), (4, 6), 1.0, sod=100.0, sdd=150.0)
    grid = recon.VolumeGrid((2, 4, 4), 1.0)
    with pytest.raises(TypeError, match="ConeBeam"):
        recon.fdk(np.zeros(g.proj_shape), recon.ConeBeamVec(g.cone_vectors().to_array(), (4, 6)), grid)
    with pytest.raises(ValueError, match=r"\[\.\.\., 8, 4, 6\]"):
        recon.fdk(np.zeros((8, 6, 4)), g, grid)
    with pytest.raises(ValueError, match="sod must be smaller than sdd"):
        recon.ConeBeam(g.angles, (4, 6), 1.0, sod=150.0, sdd=100.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recon.fdk(np.zeros((4, 4, 6)), g.replace(angles=np.linspace(0, 1.0, 4)), grid)
    assert any(issubclass(w.category, recon.LimitedAngleWarning) for w in caught)


def test_a_volume_beyond_the_cone_gets_a_warning_with_the_unseen_fraction():
    g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 60, endpoint=False), (24, 32), 1.0, sod=100.0, sdd=150.0)
    assert g.unseen_fraction(recon.VolumeGrid((24, 32, 32), 2 / 3)) == 0.0  # the detector's own field of view
    tall = recon.VolumeGrid((48, 32, 32), 2 / 3)  # twice as tall as the cone reaches at the axis
    assert 0.4 < g.unseen_fraction(tall) < 0.6
    with pytest.warns(UserWarning, match=r"50% of the volume .* is never seen by the detector"):
        recon.fdk(np.zeros(g.proj_shape), g, tall)
