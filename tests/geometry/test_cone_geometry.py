"""Cone-beam geometries and volume grids: the conventions of design notes §7 in the vector form, values that
round-trip, and one clear error for impossible values."""

from __future__ import annotations

import numpy as np
import pytest

import recon
from recon.geometry import geometry_from_dict, geometry_from_json


def test_circular_scan_vectors_follow_the_conventions():
    beta = np.array([0.0, np.pi / 2])
    g = recon.ConeBeam(beta, (3, 5), (2.0, 1.0), sod=100.0, sdd=150.0, det_offset=(4.0, -1.0))
    v = g.cone_vectors()
    assert np.allclose(v.source[0], [0.0, -100.0, 0.0]) and np.allclose(v.source[1], [100.0, 0.0, 0.0])
    assert np.allclose(v.detector[0], [-1.0, 50.0, 4.0])  # (sdd - sod)·(−sin β, cos β, 0) + offsets along u and z
    assert np.allclose(v.u[1], [0.0, 1.0, 0.0]) and np.allclose(v.v[0], [0.0, 0.0, -2.0])  # row 0 at +z
    base, step = v.pixel_positions()
    assert np.allclose(base[0, 0], [-3.0, 50.0, 6.0])  # row 0, column 0: the +z, −u corner
    assert np.allclose(g.row_coords(), [6.0, 4.0, 2.0])
    coef = v.backprojection_coefficients()[0]
    point = base[0, 3] + 2 * step[0]  # a point on the detector lands on its own pixel, at depth sdd
    h = coef[8:11] @ point + coef[11]
    assert np.isclose(h, 150.0) and np.allclose([(coef[0:3] @ point + coef[3]) / h,
                                                 (coef[4:7] @ point + coef[7]) / h], [3.0, 2.0])


def test_volume_grid_coordinates():
    grid = recon.VolumeGrid((2, 3, 4), (1.0, 2.0, 0.5), offset=(1.0, 0.0, -1.0))
    assert np.allclose(grid.x, [0.25, 0.75, 1.25, 1.75]) and np.allclose(grid.y, [2.0, 0.0, -2.0])
    assert np.allclose(grid.z, [-0.5, -1.5]) and grid.shape == (2, 3, 4)
    assert recon.VolumeGrid.from_dict(grid.to_dict()) == grid
    assert grid.differences(recon.VolumeGrid((2, 3, 4), 1.0)) != []


@pytest.mark.parametrize("detector", ["flat", "cylindrical"])
def test_geometries_round_trip_and_are_immutable(detector):
    g = recon.ConeBeam(np.linspace(0, 2, 7), (3, 5), 1.5, sod=100.0, sdd=150.0, detector=detector,
                       det_offset=(0.5, 0.25))
    assert geometry_from_json(g.to_json()) == g and hash(geometry_from_dict(g.to_dict())) == hash(g)
    vec = recon.ConeBeamVec(g.cone_vectors().to_array(), (3, 5))
    assert geometry_from_dict(vec.to_dict()) == vec
    with pytest.raises(AttributeError, match="immutable"):
        g.sod = 3.0
    assert g.replace(sod=90.0).sod == 90.0 and "ConeBeam(7 views" in repr(g)


def test_impossible_values_get_one_clear_error():
    a = np.linspace(0, 1, 4)
    with pytest.raises(ValueError, match="sod must be smaller than sdd"):
        recon.ConeBeam(a, (3, 5), 1.0, sod=150.0, sdd=150.0)
    with pytest.raises(ValueError, match="detector must be"):
        recon.ConeBeam(a, (3, 5), 1.0, sod=100.0, sdd=150.0, detector="curved")
    with pytest.raises(ValueError, match="det_spacing"):
        recon.ConeBeam(a, (3, 5), (1.0, 2.0, 3.0), sod=100.0, sdd=150.0)
    with pytest.raises(ValueError, match="finite"):
        recon.ConeBeam([0.0, np.nan], (3, 5), 1.0, sod=100.0, sdd=150.0)
    vec = recon.ConeBeam(a, (3, 5), 1.0, sod=100.0, sdd=150.0).cone_vectors().to_array()
    bad = vec.copy()
    bad[2, 9:12] = bad[2, 6:9]
    with pytest.raises(ValueError, match="view 2 has a degenerate detector"):
        recon.ConeBeamVec(bad, (3, 5))
    bad = vec.copy()
    bad[1, 0:3] = bad[1, 3:6]
    with pytest.raises(ValueError, match="source of view 1 lies in its detector's plane"):
        recon.ConeBeamVec(bad, (3, 5))
    with pytest.raises(ValueError, match=r"\[n_views, 12\]"):
        recon.ConeBeamVec(vec[:, :9], (3, 5))
    with pytest.raises(ValueError, match="shape"):
        recon.VolumeGrid((2, 3), 1.0)
