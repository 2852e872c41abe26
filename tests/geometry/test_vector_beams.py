"""The per-view vector form and the geometries given by it: ASTRA's layout for every circular scan, serialisation,
comparison, the circle recovered from its vectors, and one clear error for vectors that cannot describe a scan."""

from __future__ import annotations

import json

import numpy as np
import pytest

import recon
from recon.geometry import ViewVectors

from ..helpers import irregular_geometries, small_geometries


def test_circular_scans_in_astra_vector_layout():
    """θ = 30°: parallel ray (sin θ, −cos θ), fan source sod (sin θ, −cos θ), detector centre (sdd − sod) along
    (−sin θ, cos θ) plus the offset along u = pitch (cos θ, sin θ) — the conventions of recon.geometry."""
    t = np.radians(30.0)
    c, s = np.cos(t), np.sin(t)
    par = recon.ParallelBeam([t], 10, 0.5, 8, 1.0, det_offset=0.2).view_vectors().as_array()[0]
    np.testing.assert_allclose(par, [s, -c, 0.2 * c, 0.2 * s, 0.5 * c, 0.5 * s], atol=1e-15)
    fan = recon.FanBeam([t], 10, 0.5, 8, 1.0, sod=100.0, sdd=250.0, det_offset=-0.3).view_vectors()
    np.testing.assert_allclose(fan.as_array()[0], [100 * s, -100 * c, -150 * s - 0.3 * c, 150 * c - 0.3 * s,
                                                   0.5 * c, 0.5 * s], atol=1e-12)
    arc = recon.FanBeam([t], 10, 0.5, 8, 1.0, sod=100.0, sdd=250.0, detector="arc", det_offset=2.5).view_vectors()
    to_det = arc.detector[0] - arc.source[0]
    assert np.linalg.norm(to_det) == pytest.approx(250.0)  # on the arc of radius sdd
    assert np.degrees(np.arctan2(to_det @ [c, s], to_det @ [-s, c])) == pytest.approx(np.degrees(0.01))  # off/sdd
    assert abs(to_det @ arc.u[0]) < 1e-12 and np.linalg.norm(arc.u[0]) == pytest.approx(0.5)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc"])
def test_rays_of_the_vector_form_meet_the_detector_where_the_circular_conventions_say(name):
    """Parallel: direction (sin θ, −cos θ), element j on the axis at u_j; flat fan: the ray from the source meets
    the detector line at u_j; arc: it leaves the central ray at the fan angle γ_j. The circle comes back from the
    vectors to rounding."""
    g = small_geometries(1)[name]
    v = recon.as_vectors(g)
    assert recon.geometry_differences(g, recon.as_circular(v), rtol=1e-12) == []
    point, direction = v.rays()
    np.testing.assert_allclose(np.linalg.norm(direction, axis=-1), 1.0, atol=1e-15)
    axis = np.stack([np.cos(g.angles), np.sin(g.angles)], axis=1)[:, None, :]
    central = np.stack([-np.sin(g.angles), np.cos(g.angles)], axis=1)[:, None, :]
    u_j = np.broadcast_to(g.det_coords, g.sino_shape)
    if name == "parallel":
        np.testing.assert_allclose(direction, np.broadcast_to(-central, direction.shape), atol=1e-15)
        np.testing.assert_allclose((point * axis).sum(-1), u_j, atol=1e-12)
    elif name == "fan-flat":
        centre = (g.sdd - g.sod) * central
        hit = point + (((centre - point) * central).sum(-1) / (direction * central).sum(-1))[..., None] * direction
        np.testing.assert_allclose((hit * axis).sum(-1), u_j, atol=1e-9)
    else:
        gamma = np.arctan2(_cross(direction, central), (central * direction).sum(-1))  # towards +u: axis ⟂ central
        np.testing.assert_allclose(gamma, np.broadcast_to(g.fan_angles, gamma.shape), atol=1e-12)


@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc"])
def test_vector_geometries_round_trip_compare_and_hash(name):
    g = irregular_geometries(0)[name]
    assert recon.geometry_from_json(json.dumps(g.to_dict())) == g
    assert recon.geometry_from_dict(g.to_dict()) == g and hash(recon.geometry_from_dict(g.to_dict())) == hash(g)
    moved = g.vectors.copy()
    moved[3, [0, 2]] += 0.5  # source and detector of view 3 half a millimetre along x
    other = g.replace(vectors=moved)
    assert other != g
    diff = recon.geometry_differences(g, other)
    assert len(diff) == 1 and diff[0].startswith("vectors differ (view 3:")
    assert recon.geometry_differences(g, g.replace(vectors=g.vectors[:5])) == [
        f"vectors: shape {g.vectors.shape} expected, got (5, 6)"]
    assert "views as vectors" in repr(g) and g.sino_shape == (g.n_views, g.n_det)
    with pytest.raises(AttributeError, match="has no single angles: each view has its own vectors"):
        g.angles  # noqa: B018
    with pytest.raises(AttributeError, match="immutable"):
        g.n_det = 3


def _rows(model: str = "flat") -> np.ndarray:
    g = small_geometries(0)["parallel" if model == "parallel" else "fan-flat"]
    return g.view_vectors().as_array()


@pytest.mark.parametrize("change, message", [
    (lambda r: r.__setitem__((2, 3), np.nan), r"vectors: detector must be finite; view 2"),
    (lambda r: r.__setitem__((4, slice(4, 6)), 0.0), r"detector axis u has length 0 in view 4"),
    (lambda r: r.__setitem__((5, slice(0, 2)), r[5, 2:4] + 3 * r[5, 4:6]), r"source lies on the detector in view 5"),
    (lambda r: r.__setitem__((1, slice(0, 2)), 0.1 * r[1, 0:2]), r"image .* must lie on the detector side of every "
                                                                  r"source; view 1"),
])
def test_impossible_fan_vectors_are_refused_with_the_view(change, message):
    rows = _rows()
    change(rows)
    with pytest.raises(ValueError, match=message):
        recon.FanBeamVec(rows, 41, 24, 0.5)


def test_other_impossible_vectors_are_refused():
    with pytest.raises(ValueError, match=r"vectors must have shape \[n_views, 6\]"):
        recon.FanBeamVec(np.zeros((3, 5)), 10, 8, 1.0)
    with pytest.raises(ValueError, match=r"vectors must have shape \[n_views, 6\]"):
        recon.ParallelBeamVec(np.zeros((0, 6)), 10, 8, 1.0)
    with pytest.raises(TypeError, match="vectors must be an array"):
        recon.ParallelBeamVec(object(), 10, 8, 1.0)
    rows = _rows("parallel")
    rows[3, 0:2] = rows[3, 4:6]  # rays along the detector
    with pytest.raises(ValueError, match="rays run along the detector in view 3"):
        recon.ParallelBeamVec(rows, 37, 24, 0.5)
    rows = _rows("parallel")
    rows[0, 0:2] = 0.0
    with pytest.raises(ValueError, match="ray direction has length 0 in view 0"):
        recon.ParallelBeamVec(rows, 37, 24, 0.5)
    arc = small_geometries(0)["fan-arc"].view_vectors().as_array()
    arc[2, 4:6] = np.linalg.norm(arc[2, 4:6]) * (arc[2, 2:4] - arc[2, 0:2]) / np.linalg.norm(arc[2, 2:4] - arc[2, 0:2])
    with pytest.raises(ValueError, match="arc detector's u must be tangent .* view 2 is off by 90°"):
        recon.FanBeamVec(arc, 41, 24, 0.5, detector="arc")
    with pytest.raises(ValueError, match="detector must be 'flat' or 'arc'"):
        recon.FanBeamVec(_rows(), 41, 24, 0.5, detector="curved")
    with pytest.raises(ValueError, match="detector pitches must lie in"):
        recon.FanBeamVec(_rows() * np.array([1, 1, 1, 1, 1e-9, 1e-9]), 41, 24, 0.5)
    with pytest.raises(ValueError, match="u has 2 views, source has 3"):
        ViewVectors(np.ones((3, 2)), np.zeros((3, 2)), np.ones((2, 2)), "flat", 4)
    with pytest.raises(ValueError, match="model must be one of"):
        ViewVectors(np.ones((3, 2)), np.zeros((3, 2)), np.ones((3, 2)), "cone", 4)
