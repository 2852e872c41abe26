"""Rotation-centre estimation: simulated scans with a known detector offset (noise, rings) come back to a
twentieth of a detector element by opposite rays and 0.15 of one by Vo's double wedge; what cannot be estimated is
refused with the reason."""

from __future__ import annotations

import math

import numpy as np
import pytest

import recon
from recon.analytic.centre import estimate_centre

PHANTOM = recon.shepp_logan(radius=20.0)
PITCH = 0.25


def _noisy(sino: np.ndarray, seed: int, rings: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = sino + rng.normal(0.0, 0.01 * sino.max(), sino.shape)
    if rings:  # a detector element in 20 off by 2 % of the maximum: stripes in the sinogram, rings in the image
        out = out + 0.02 * sino.max() * (rng.random(sino.shape[1]) < 0.05)[None, :]
    return out


SCANS = {
    "parallel 180°": (recon.ParallelBeam(np.linspace(0, np.pi, 180, endpoint=False), 200, PITCH, 128, 0.35), "Vo"),
    "parallel 360°": (recon.ParallelBeam(np.linspace(0, 2 * np.pi, 360, endpoint=False), 200, PITCH, 128, 0.35),
                      "opposite"),
    "fan flat 360°": (recon.FanBeam(np.linspace(0, 2 * np.pi, 360, endpoint=False), 240, PITCH, 128, 0.35,
                                    sod=100.0, sdd=160.0), "opposite"),
    "fan arc 360°": (recon.FanBeam(np.linspace(0, 2 * np.pi, 360, endpoint=False), 240, PITCH, 128, 0.35,
                                   sod=100.0, sdd=160.0, detector="arc"), "opposite"),
    "fan short scan": (recon.FanBeam(np.radians(np.arange(0.0, 230.0, 1.0)), 240, PITCH, 128, 0.35, sod=100.0,
                                     sdd=160.0), "opposite"),
}


@pytest.mark.parametrize("name", list(SCANS))
@pytest.mark.parametrize("offset", [-6.3, 2.55])  # elements
def test_a_known_offset_comes_back(name, offset):
    geometry, method = SCANS[name]
    true = geometry.replace(det_offset=offset * PITCH)
    sino = _noisy(recon.ray_transform(PHANTOM, true), seed=int(10 * offset) % 7, rings=name == "parallel 360°")
    est = estimate_centre(sino, geometry)  # searched from the detector's middle
    assert method in est.method.replace("Fourier double wedge (Vo 2014)", "Vo").replace("opposite rays", "opposite")
    error = abs(est.det_offset - true.det_offset) / PITCH
    assert error <= (0.15 if method == "Vo" else 0.05), (name, est.det_offset / PITCH, offset)
    assert est.column == pytest.approx((geometry.n_det - 1) / 2 - offset, abs=0.15)
    assert est.confidence > 0.05 and est.differs_from(geometry) and not est.differs_from(true)
    assert "column" in est.describe(geometry)


def test_slices_of_one_scan_are_estimated_together_and_a_close_start_is_refined():
    geometry = SCANS["fan flat 360°"][0]
    true = geometry.replace(det_offset=-1.1 * PITCH)
    one = recon.ray_transform(PHANTOM, true)
    two = np.stack([one, 0.5 * recon.ray_transform([recon.Ellipse(0.02, (3.0, 1.0), (6.0, 4.0))], true)])
    est = estimate_centre(two, geometry.replace(det_offset=-1.0 * PITCH), search=3)
    assert abs(est.det_offset - true.det_offset) <= 0.02 * PITCH


def test_scans_that_cannot_tell_the_centre_are_refused_with_the_reason():
    fan = SCANS["fan flat 360°"][0]
    limited = fan.replace(angles=np.radians(np.arange(0.0, 120.0, 1.0)))
    with pytest.raises(ValueError, match=r"views span 120.0° of a fan beam.*cannot be estimated"):
        estimate_centre(recon.ray_transform(PHANTOM, limited), limited)
    with pytest.raises(ValueError, match=r"opposite rays need at least .*cannot be estimated"):
        estimate_centre(recon.ray_transform(PHANTOM, SCANS["parallel 180°"][0]), SCANS["parallel 180°"][0],
                        method="opposite")
    par = SCANS["parallel 180°"][0]
    with pytest.raises(ValueError, match="the sinogram is flat"):
        estimate_centre(np.zeros(par.sino_shape), par)
    bad = np.ones(par.sino_shape)
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        estimate_centre(bad, par)
    with pytest.raises(ValueError, match=r"must have shape \[\.\.\., 180, 200\]"):
        estimate_centre(np.ones((180, 199)), par)
    with pytest.raises(ValueError, match="method must be one of"):
        estimate_centre(np.ones(par.sino_shape), par, method="entropy")
    shuffled = par.replace(angles=np.random.default_rng(0).permutation(par.angles))
    with pytest.raises(ValueError, match="evenly spaced views"):
        estimate_centre(recon.ray_transform(PHANTOM, shuffled), shuffled)
    rows = recon.as_vectors(fan).vectors.copy()
    rows[4, 0:2] *= 1.01
    with pytest.raises(ValueError, match="centre estimation needs a circular scan"):
        estimate_centre(np.ones(fan.sino_shape), recon.FanBeamVec(rows, fan.n_det, 128, 0.35))
    assert math.isfinite(estimate_centre(recon.ray_transform(PHANTOM, par), par).seconds)
