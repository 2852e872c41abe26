"""Scans given view by view (recon.ParallelBeamVec, recon.FanBeamVec): the vector form of a circular scan gives
the same operators bit for bit; irregular scans (tilted and shifted detectors, wobbling sources) have exact
adjoints, analytic line integrals, and a B_w that lands every pixel where its ray meets the detector."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.operators import weighted_backproject_adjoint

from ..helpers import irregular_geometries, small_geometries
from .test_adjoint import dot_defect

OPERATORS = (("project", "image"), ("backproject", "sinogram"), ("weighted_backproject", "sinogram"),
             ("weighted_backproject_adjoint", "image"))


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vectors_of_a_circular_scan_give_the_same_operators_bit_for_bit(backend, dtype):
    rng = np.random.default_rng(0)
    for name, g in small_geometries(2).items():
        v = recon.as_vectors(g)
        assert v.view_vectors().model == g.view_vectors().model
        for op, kind in OPERATORS:
            data = rng.random(g.image_shape if kind == "image" else g.sino_shape).astype(dtype)
            a = getattr(recon.operators, op)(data, g, backend=backend)
            b = getattr(recon.operators, op)(data, v, backend=backend)
            assert np.array_equal(a, b), (name, op)


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc"])
def test_irregular_scans_have_exact_adjoints(name, backend):
    g = irregular_geometries(1)[name]
    for fwd, adj in ((recon.project, recon.backproject), (weighted_backproject_adjoint, recon.weighted_backproject)):
        assert dot_defect(fwd, adj, g, torch.float64, backend, seed=1) <= 1e-9
        assert dot_defect(fwd, adj, g, torch.float32, backend, seed=2) <= 1e-4
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(g.image_shape, generator=gen, dtype=torch.float64)
    y = torch.rand(g.sino_shape, generator=gen, dtype=torch.float64)
    np.testing.assert_allclose(recon.project(x, g, backend="torch"), recon.project(x, g), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(recon.weighted_backproject(y, g, backend="torch"), recon.weighted_backproject(y, g),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc"])
def test_irregular_scans_project_to_analytic_line_integrals(name):
    """A 4 mm disc off centre on 0.125 mm pixels: every ray passing 0.8 mm (6 pixels) clear of tangency is within
    1 % of the chord (closer, the pixel basis blurs the edge: tests/operators/test_accuracy.py), and
    the same disc in the circular scan the vectors were made from gives other numbers (the vectors are used)."""
    small = irregular_geometries(2)[name]
    fine = type(small)(small.vectors, small.n_det, 96, 0.125, **({} if name == "parallel" else {"detector": small.detector}))
    disc = [recon.Ellipse(0.05, (0.8, -0.5), (4.0, 4.0))]
    exact = recon.ray_transform(disc, fine)
    sino = recon.project(recon.rasterize(disc, fine, supersample=8), fine)
    inside = exact > 0.6 * exact.max()  # chord > 0.6 of the diameter: 0.8 mm from tangency
    assert inside.sum() > 100
    np.testing.assert_allclose(sino[inside], exact[inside], rtol=0.01)
    circular = recon.ray_transform(disc, small_geometries(2)[name].replace(image_size=96, pixel_size=0.125))
    assert np.abs(circular - exact).max() > 0.05 * exact.max()


def _hit_index(g, points: np.ndarray) -> np.ndarray:
    """Fractional element index where the ray through each point meets the detector, by intersecting lines
    (flat, parallel) or by the angle on the arc: ``[n_views, n_points]``."""
    v = g.view_vectors()
    out = np.empty((v.n_views, len(points)))
    for i in range(v.n_views):
        src, det, u = v.source[i], v.detector[i], v.u[i]
        for k, p in enumerate(points):
            if v.model == "parallel":
                s = np.linalg.solve(np.stack([u, -src], axis=1), p - det)[0]
            elif v.model == "flat":
                s = np.linalg.solve(np.stack([u, -(p - src)], axis=1), src - det)[0]
            else:
                c, d = det - src, p - src
                s = np.arctan2(c[0] * d[1] - c[1] * d[0], c @ d) * np.linalg.norm(c) / np.linalg.norm(u)
                s *= np.sign(c[0] * u[1] - c[1] * u[0])
            out[i, k] = s + (v.n_det - 1) / 2
    return out


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc"])
def test_weighted_backprojection_lands_each_pixel_where_its_ray_meets_the_detector(name, backend):
    """B_w of a sinogram that holds its element index (linear, so interpolation is exact) divided by B_w of ones
    is, view by view, the index where the ray through the pixel centre meets the detector."""
    g = irregular_geometries(4)[name]
    xs = g.pixel_coords
    pixels = [(5, 7), (12, 12), (20, 3), (0, 23)]
    points = np.array([(xs[c], xs[::-1][r]) for r, c in pixels])
    expected = _hit_index(g, points)
    for view in range(0, g.n_views, 4):
        ramp = np.zeros(g.sino_shape)
        ramp[view] = np.arange(g.n_det)
        ones = np.zeros(g.sino_shape)
        ones[view] = 1.0
        num = recon.weighted_backproject(ramp, g, backend=backend)
        den = recon.weighted_backproject(ones, g, backend=backend)
        found = np.array([num[r, c] / den[r, c] for r, c in pixels])
        np.testing.assert_allclose(found, expected[view], atol=1e-9)


def test_fbp_and_rebinning_need_a_circular_scan():
    g = small_geometries(0)["fan-flat"]
    sino = recon.ray_transform([recon.Ellipse(0.02, (0, 0), (4.0, 4.0))], g)
    np.testing.assert_allclose(recon.fbp(sino, recon.as_vectors(g)), recon.fbp(sino, g), rtol=0, atol=1e-12)
    irregular = irregular_geometries(0)["fan-flat"]
    for call in (lambda: recon.fbp(sino, irregular), lambda: recon.FBP(irregular),
                 lambda: recon.rebin(sino, irregular, small_geometries(0)["parallel"])):
        with pytest.raises(ValueError, match=r"needs a circular scan .*FanBeamVec is not one: view \d+ departs"):
            call()
    image = recon.sirt(recon.project(recon.rasterize([recon.Ellipse(0.02, (0, 0), (4.0, 4.0))], irregular),
                                     irregular), irregular, 50)
    assert image.shape == irregular.image_shape and image[12, 12] == pytest.approx(0.02, rel=0.1)
