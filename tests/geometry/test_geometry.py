"""Geometry classes: validation, conventions, serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

import recon
from recon.geometry import geometry_from_dict, geometry_from_json


def fan(**kw):
    args = dict(angles=np.linspace(0, 2 * np.pi, 8, endpoint=False), n_det=16, det_spacing=1.0,
                image_size=16, pixel_size=1.0, sod=100.0, sdd=200.0)
    args.update(kw)
    return recon.FanBeam(**args)


def par(**kw):
    args = dict(angles=np.linspace(0, np.pi, 8, endpoint=False), n_det=16, det_spacing=1.0, image_size=16,
                pixel_size=1.0)
    args.update(kw)
    return recon.ParallelBeam(**args)


@pytest.mark.parametrize("make, kw, message", [
    (par, {"n_det": 0}, "n_det must be a positive integer"),
    (par, {"n_det": 3.5}, "n_det must be a positive integer"),
    (par, {"image_size": -4}, "image_size must be a positive integer"),
    (par, {"det_spacing": -1.0}, r"det_spacing must lie in \[1e-06, 1e\+06\] mm"),
    (par, {"pixel_size": 0.0}, r"pixel_size must lie in \[1e-06, 1e\+06\] mm"),
    (par, {"pixel_size": float("nan")}, "pixel_size must be finite"),
    (par, {"angles": [0.0, float("nan"), 1.0]}, r"angles\[1\]"),
    (par, {"angles": []}, "at least one view"),
    (par, {"angles": np.zeros((2, 3))}, "1-D"),
    (par, {"det_offset": float("inf")}, "det_offset must be finite"),
    (fan, {"sod": -5.0}, r"sod must lie in \[1e-06, 1e\+06\] mm"),
    (fan, {"sdd": 50.0}, "must be larger than sod"),
    (fan, {"sdd": 100.0}, "must be larger than sod"),
    (fan, {"detector": "curved"}, "'flat' or 'arc'"),
    (fan, {"image_size": 200}, "inside the source circle"),
    (fan, {"detector": "arc", "n_det": 700}, "must be < ±90°"),
])
def test_invalid_arguments_raise_clear_errors(make, kw, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(**kw)


def test_scalar_angle_and_integer_like_sizes_are_accepted():
    g = par(angles=0.3, n_det=np.int64(16), image_size=16.0)
    assert g.n_views == 1 and g.n_det == 16 and g.image_size == 16


@pytest.mark.parametrize("geom", [par(det_offset=0.25), fan(detector="arc", det_offset=-1.5),
                                  fan(angles=np.random.default_rng(1).uniform(0, 7, 11))])
def test_dict_and_json_round_trip(geom):
    d = geom.to_dict()
    json.dumps(d)  # plain Python types only
    assert geometry_from_dict(d) == geom
    back = geometry_from_json(geom.to_json())
    assert back == geom
    np.testing.assert_array_equal(back.angles, geom.angles)  # bit-exact
    assert hash(back) == hash(geom)


def test_from_dict_rejects_missing_keys_and_unknown_type():
    d = fan().to_dict()
    del d["sod"]
    with pytest.raises(ValueError, match="sod"):
        geometry_from_dict(d)
    with pytest.raises(ValueError, match="type"):
        geometry_from_dict({"type": "helix"})


def test_geometries_are_immutable_and_replace_revalidates():
    g = fan()
    with pytest.raises(AttributeError, match="immutable"):
        g.sod = 5.0
    with pytest.raises(ValueError):
        g.angles[0] = 1.0  # read-only array
    h = g.replace(angles=g.angles[::2])
    assert h.n_views == 4 and h.sod == g.sod
    with pytest.raises(ValueError, match="larger than sod"):
        g.replace(sdd=10.0)


def test_repr_is_readable():
    text = repr(fan(detector="arc"))
    assert text.startswith("FanBeam(8 views, 0° … 315° step 45°")
    assert "sod=100.0" in text and "detector='arc'" in text


def test_parallel_rays_follow_the_convention():
    g = par(angles=np.array([0.0, np.pi / 2, 0.7]), det_offset=0.5)
    point, direction = g.rays()
    theta = g.angles[:, None]
    np.testing.assert_allclose(direction[..., 0], np.sin(theta) + 0 * point[..., 0])
    np.testing.assert_allclose(direction[..., 1], -np.cos(theta) + 0 * point[..., 0])
    # every point of a ray projects to its detector coordinate u = x cos θ + y sin θ
    for t in (-30.0, 0.0, 12.5):
        q = point + t * direction
        u = q[..., 0] * np.cos(theta) + q[..., 1] * np.sin(theta)
        np.testing.assert_allclose(u, np.broadcast_to(g.det_coords, u.shape), atol=1e-12)


@pytest.mark.parametrize("detector", ["flat", "arc"])
def test_fan_rays_start_at_the_source_and_hit_their_detector_element(detector):
    g = fan(angles=np.array([0.0, 1.0, 4.0]), detector=detector, det_offset=0.8)
    point, direction = g.rays()
    th = g.angles[:, None]
    np.testing.assert_allclose(point[..., 0], g.sod * np.sin(th) + 0 * direction[..., 0], atol=1e-12)
    np.testing.assert_allclose(point[..., 1], -g.sod * np.cos(th) + 0 * direction[..., 0], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(direction, axis=-1), 1.0, atol=1e-12)
    ex, ey = np.cos(th), np.sin(th)                       # detector axis
    cx, cy = -(g.sdd - g.sod) * ey, (g.sdd - g.sod) * ex  # detector centre = (sdd-sod)(-sin θ, cos θ)
    if detector == "flat":
        # intersect the ray with the detector line through the centre, perpendicular to the central ray
        nx, ny = -ey, ex
        t = ((cx - point[..., 0]) * nx + (cy - point[..., 1]) * ny) / (direction[..., 0] * nx + direction[..., 1] * ny)
        hx, hy = point[..., 0] + t * direction[..., 0], point[..., 1] + t * direction[..., 1]
        u = (hx - cx) * ex + (hy - cy) * ey
        np.testing.assert_allclose(u, np.broadcast_to(g.det_coords, u.shape), atol=1e-9)
    else:
        # arc: the element at distance sdd from the source, its arc length from the centre is u
        hx, hy = point[..., 0] + g.sdd * direction[..., 0], point[..., 1] + g.sdd * direction[..., 1]
        chord = np.hypot(hx - cx, hy - cy)
        np.testing.assert_allclose(2 * g.sdd * np.arcsin(chord / (2 * g.sdd)), np.abs(g.det_coords) + 0 * hx,
                                   atol=1e-9)
        side = (hx - cx) * ex + (hy - cy) * ey
        np.testing.assert_array_equal(np.sign(side), np.sign(np.broadcast_to(g.det_coords, side.shape)))


def test_help_documents_units_and_conventions():
    doc = recon.FanBeam.__doc__
    for phrase in ("mm", "radians", "sod * (sin θ, -cos θ)", "arc", "equiangular", "ASTRA"):
        assert phrase in doc
