"""Fan-beam calibration by opposite rays: a simulated scan with a shifted, tilted detector at a wrong distance
gives its offset, tilt and sdd back; the untilted resampling makes FBP of the calibrated scan the FBP of the true
one; the calibrated geometry is the one project_geometry simulates; scans it cannot calibrate are refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import recon
from recon.analytic.calibration import DECISIVE_RISE, _residual, calibrate_fan, calibrated_geometry, untilted
from recon.operators.geometric import project_geometry

TRUE = {"det_offset": 1.3, "tilt": 0.03, "sdd": 264.0}
FILE = recon.FanBeam(np.linspace(0, 2 * np.pi, 360, endpoint=False), n_det=160, det_spacing=0.5, image_size=96,
                     pixel_size=0.5, sod=200.0, sdd=260.0)
FINE = FILE.replace(image_size=192, pixel_size=0.25)
PHANTOM = [recon.Ellipse(0.02, (0, 0), (20, 16), 0.3), recon.Ellipse(0.03, (7, -4), (5, 3), 1.0),
           recon.Ellipse(-0.015, (-8, 5), (4, 6), 0.0), recon.Ellipse(0.025, (2, 10), (2.5, 2.5), 0.0)]


def _scan(params: dict) -> np.ndarray:
    image = torch.as_tensor(recon.rasterize(PHANTOM, FINE))
    with torch.no_grad():
        return project_geometry(image, FINE, {k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()}
                                ).numpy()


@pytest.fixture(scope="module")
def tilted():
    return _scan(TRUE)


def test_offset_tilt_and_sdd_come_back(tilted):
    c = calibrate_fan(tilted, FILE)
    assert c.det_offset == pytest.approx(TRUE["det_offset"], abs=0.02 * FILE.det_spacing)
    assert c.tilt == pytest.approx(TRUE["tilt"], abs=math.radians(0.15))  # (0.1° moves an edge element 0.07 mm)
    assert c.sdd == pytest.approx(TRUE["sdd"], rel=3e-3)
    assert c.residual < 0.01 * c.residual_before and c.residual <= 1.01 * _residual(tilted, FILE, 1.3, 0.03, 264.0)
    assert f"tilt {math.degrees(c.tilt):+.3f}° (file 0)" in c.describe(FILE)
    assert c.params == ("offset", "tilt", "sdd") and min(c.evidence.values()) > DECISIVE_RISE
    alone = calibrate_fan(tilted, FILE, params=("offset",))  # the others stay as the file says
    assert (alone.tilt, alone.sdd, alone.params) == (0.0, FILE.sdd, ("offset",))


def test_what_the_data_do_not_decide_stays_as_the_file_says():
    """An untilted detector at the file's distance, with noise: the fitted tilt and sdd wander in a flat valley
    of the residual; setting them back barely raises it, so they are kept as the file says."""
    scan = _scan({"det_offset": 1.3})
    noisy = scan + 0.005 * scan.max() * np.random.default_rng(1).standard_normal(scan.shape)
    c = calibrate_fan(noisy, FILE)
    assert c.params == ("offset",) and (c.tilt, c.sdd) == (0.0, FILE.sdd)
    assert c.det_offset == pytest.approx(1.3, abs=0.05 * FILE.det_spacing)
    assert "not decided by the data, kept as the file says: tilt, sdd" in c.describe(FILE)


def test_fbp_of_the_calibrated_scan_is_fbp_of_the_true_scan(tilted):
    c = calibrate_fan(tilted, FILE)
    data, g = untilted(tilted, FILE, c)
    true_g = FILE.replace(det_offset=TRUE["det_offset"], sdd=TRUE["sdd"])
    reference = recon.fbp(_scan({"det_offset": TRUE["det_offset"], "sdd": TRUE["sdd"]}), true_g, "hann", 0.8)
    rmse = lambda x: float(np.sqrt(np.mean((np.asarray(x) - np.asarray(reference)) ** 2)))  # noqa: E731
    calibrated = rmse(recon.fbp(data, g, "hann", 0.8))
    offset_only = rmse(recon.fbp(tilted, FILE.replace(det_offset=c.det_offset), "hann", 0.8))
    assert calibrated < 0.1 * offset_only and calibrated < 0.005 * float(np.max(reference))


def test_the_calibrated_geometry_is_the_simulated_one():
    c = calibrate_fan.__globals__["FanCalibration"](det_offset=0.7, tilt=-0.02, sdd=258.0, residual=0.0,
                                                    residual_before=0.0, seconds=0.0)
    vec = calibrated_geometry(FILE, c)
    assert isinstance(vec, recon.FanBeamVec)
    image = torch.as_tensor(recon.rasterize(PHANTOM, FILE))
    direct = recon.project(image, vec)
    with torch.no_grad():
        simulated = project_geometry(image, FILE, {"det_offset": torch.tensor(0.7, dtype=torch.float64),
                                                   "tilt": torch.tensor(-0.02, dtype=torch.float64),
                                                   "sdd": torch.tensor(258.0, dtype=torch.float64)})
    torch.testing.assert_close(torch.as_tensor(direct), simulated, rtol=1e-9, atol=1e-9)
    flat = calibrated_geometry(FILE, c.__class__(0.7, 0.0, 258.0, 0.0, 0.0, 0.0))
    assert isinstance(flat, recon.FanBeam) and (flat.det_offset, flat.sdd) == (0.7, 258.0)


@pytest.mark.parametrize("geometry, data, message", [
    (recon.ParallelBeam(np.linspace(0, np.pi, 90, endpoint=False), 64, 1.0, 64, 1.0), np.ones((90, 64)),
     "fan-beam scans with a flat detector"),
    (FILE.replace(detector="arc"), np.random.default_rng(0).random(FILE.sino_shape), "flat detector"),
    (FILE.replace(angles=FILE.angles[:200]), np.random.default_rng(0).random((200, 160)), "one full turn"),
    (FILE, np.full(FILE.sino_shape, np.nan), "not finite"),
    (FILE, np.zeros((10, 160)), "does not fit"),
])
def test_scans_it_cannot_calibrate_are_refused(geometry, data, message):
    with pytest.raises(ValueError, match=message):
        calibrate_fan(data, geometry)


def test_unknown_parameters_are_refused(tilted):
    for params in (("sod",), ()):
        with pytest.raises(ValueError, match="params must name some of"):
            calibrate_fan(tilted, FILE, params=params)


def test_angles_that_wrap_through_zero_are_the_same_scan(tilted):
    """A scan whose listed angles start at 180° and wrap through 0 (the same views in another order): the same
    residual and the same estimate."""
    k = FILE.n_views // 2
    wrapped = FILE.replace(angles=np.mod(FILE.angles + FILE.angles[k], 2 * np.pi))
    rolled = np.roll(tilted, -k, axis=0)
    assert _residual(rolled, wrapped, 1.3, 0.03, 264.0) == pytest.approx(_residual(tilted, FILE, 1.3, 0.03, 264.0),
                                                                         rel=1e-6)
    assert calibrate_fan(rolled, wrapped, params=("offset",)).det_offset == pytest.approx(
        calibrate_fan(tilted, FILE, params=("offset",)).det_offset, abs=1e-6)
