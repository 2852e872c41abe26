"""Physical accuracy of the operators: analytic line integrals, analytic backprojections, ASTRA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.interop import to_astra
from recon.simulation.shapes import ellipse_line_integrals


N, PX = 512, 0.25  # 128 mm field of view


def geometries_512(n_views: int = 90, seed: int = 0) -> dict[str, recon.Geometry]:
    rng = np.random.default_rng(seed)
    return {
        "parallel": recon.ParallelBeam(rng.uniform(0, np.pi, n_views), 640, 0.22, N, PX, det_offset=0.37),
        "fan-flat": recon.FanBeam(rng.uniform(0, 2 * np.pi, n_views), 640, 0.5, N, PX, sod=300.0, sdd=600.0,
                                  detector="flat", det_offset=-0.6),
        "fan-arc": recon.FanBeam(rng.uniform(0, 2 * np.pi, n_views), 640, 0.5, N, PX, sod=300.0, sdd=600.0,
                                 detector="arc", det_offset=0.45),
    }


PHANTOM = [recon.Ellipse(0.02, (4.0, -3.0), (50.0, 35.0), 0.4),
           recon.Ellipse(0.01, (-15.0, 8.0), (12.0, 7.0), -0.3),
           recon.Ellipse(-0.008, (18.0, -10.0), (6.0, 6.0))]


def near_an_edge(ellipses, geometry, margin: float) -> np.ndarray:
    """Rays passing within ``margin`` mm of an ellipse boundary nearly tangentially (they meet the ellipse
    grown by ``margin`` but not the one shrunk by it)."""
    point, direction = geometry.rays()
    near = np.zeros(geometry.sino_shape, dtype=bool)
    for e in ellipses:
        grown = recon.Ellipse(1.0, e.center, (e.axes[0] + margin, e.axes[1] + margin), e.angle)
        shrunk = recon.Ellipse(1.0, e.center, (e.axes[0] - margin, e.axes[1] - margin), e.angle)
        near |= (ellipse_line_integrals([grown], point, direction) > 0) & \
                (ellipse_line_integrals([shrunk], point, direction) == 0)
    return near


@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc"])
def test_disk_projects_to_its_chord_length(name):
    """μ = 0.02/mm, radius 50 mm: 2.0 through the centre, 2μ√(R²−s²) elsewhere."""
    geom = geometries_512(36)[name]
    disk = [recon.Ellipse(0.02, (0.0, 0.0), (50.0, 50.0))]
    sino = recon.project(recon.rasterize(disk, geom, supersample=8), geom)
    exact = recon.ray_transform(disk, geom)
    assert exact.max() == pytest.approx(2.0, rel=1e-3)  # the detector samples pass the centre closely
    inside = exact > 0.5
    np.testing.assert_allclose(sino[inside], exact[inside], rtol=0.01)
    centre = np.abs(recon.ray_transform(disk, geom) - 2.0) < 1e-3
    np.testing.assert_allclose(sino[centre], 2.0, rtol=2e-3)


@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc"])
def test_projection_matches_analytic_line_integrals_away_from_edges(name):
    """Every ray that stays 6 pixels (1.5 mm) clear of tangency to a boundary is within 1 % of the exact
    line integral. Closer to tangency the error is that of the pixel basis itself (a bilinear image blurs an
    edge over a pixel, and a near-tangent ray runs along that blur), not of the projector: ASTRA's
    projectors show the same, see ``test_agrees_with_astra_cpu``."""
    geom = geometries_512()[name]
    image = recon.rasterize(PHANTOM, geom, supersample=8)
    sino = recon.project(image, geom)
    exact = recon.ray_transform(PHANTOM, geom)
    keep = (exact > 0.05) & ~near_an_edge(PHANTOM, geom, margin=6 * PX)
    assert keep.mean() > 0.4  # most of the object's rays are tested
    rel = np.abs(sino[keep] - exact[keep]) / exact[keep]
    assert rel.max() <= 0.01, rel.max()
    assert np.linalg.norm(sino - exact) / np.linalg.norm(exact) <= 0.01
    # float32 gives the same numbers to float32 precision
    sino32 = recon.project(image.astype(np.float32), geom)
    assert sino32.dtype == np.float32
    np.testing.assert_allclose(sino32, sino, rtol=1e-4, atol=1e-5)


def _analytic_weighted_backprojection_of_u(geometry) -> tuple[np.ndarray, np.ndarray]:
    """Σ_θ w(θ, x) · u(θ, x) for the sinogram p(θ, u) = u, which linear interpolation reproduces exactly,
    and the mask of pixels whose every projection lands on the detector."""
    x = geometry.pixel_coords[None, None, :]
    y = geometry.pixel_coords[::-1][None, :, None]
    c, s = np.cos(geometry.angles)[:, None, None], np.sin(geometry.angles)[:, None, None]
    t = x * c + y * s
    if isinstance(geometry, recon.ParallelBeam):
        u, w = t, np.ones_like(t)
    else:
        ell = geometry.sod - x * s + y * c
        if geometry.detector == "flat":
            u, w = geometry.sdd * t / ell, (geometry.sod / ell) ** 2
        else:
            u, w = geometry.sdd * np.arctan2(t, ell), 1.0 / (ell ** 2 + t ** 2)
    det = geometry.det_coords
    seen = ((u >= det[0]) & (u <= det[-1])).all(axis=0)
    return (w * u).sum(0), seen


@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc"])
def test_weighted_backprojection_matches_its_analytic_formula(name):
    geom = geometries_512(24)[name]
    sino = np.broadcast_to(geom.det_coords, geom.sino_shape).copy()
    result = recon.weighted_backproject(sino, geom)
    expected, seen = _analytic_weighted_backprojection_of_u(geom)
    assert seen.mean() > 0.6
    np.testing.assert_allclose(result[seen], expected[seen], rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def test_fan_flat_weighted_backprojection_of_ones_is_the_sum_of_distance_weights():
    geom = geometries_512(24)["fan-flat"]
    result = recon.weighted_backproject(np.ones(geom.sino_shape), geom)
    x = geom.pixel_coords[None, None, :]
    y = geom.pixel_coords[::-1][None, :, None]
    ell = geom.sod - x * np.sin(geom.angles)[:, None, None] + y * np.cos(geom.angles)[:, None, None]
    seen = _analytic_weighted_backprojection_of_u(geom)[1]
    np.testing.assert_allclose(result[seen], ((geom.sod / ell) ** 2).sum(0)[seen], rtol=1e-9)


def test_batch_dimensions_types_and_devices_are_preserved():
    geom = geometries_512(8)["fan-arc"].replace(image_size=64, pixel_size=2.0)
    x = torch.rand(2, 3, 64, 64, dtype=torch.float32)
    y = recon.project(x, geom)
    assert y.shape == (2, 3, 8, 640) and y.dtype == torch.float32 and isinstance(y, torch.Tensor)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(y[i, j], recon.project(x[i, j], geom))
    bp = recon.Backprojector(geom)(y)
    assert bp.shape == (2, 3, 64, 64)
    out = recon.project(x[0, 0].numpy().astype(np.float64), geom)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    # non-contiguous input
    xt = x.transpose(-1, -2)
    torch.testing.assert_close(recon.project(xt, geom), recon.project(xt.contiguous(), geom))


# ---- against ASTRA (optional test dependency, CPU projectors) ----------------------------------------------

def _astra_projector(astra, geom):
    """ASTRA's CPU projector of ``geom`` through :func:`recon.interop.to_astra` (lengths in mm, so ASTRA's values
    are line integrals and backprojections in recon's units)."""
    vol, proj = to_astra(geom)
    return astra.create_projector("linear" if isinstance(geom, recon.ParallelBeam) else "line_fanflat", proj, vol)


@pytest.mark.parametrize("name", ["parallel", "fan-flat"])
def test_agrees_with_astra_cpu(name):
    """Same geometry in ASTRA (pixel units): projections and backprojections within 2 % relative L2.
    With few views a backprojection is mostly streaks whose pixel-scale texture depends on each projector's
    interpolation kernel (Joseph vs ASTRA's line model for fan beam), so 360 views are used."""
    astra = pytest.importorskip("astra")
    geom = geometries_512(360)[name]
    image = recon.rasterize(PHANTOM, geom, supersample=4).astype(np.float32)
    pid = _astra_projector(astra, geom)
    try:
        sid, ref = astra.create_sino(image, pid)
        astra.data2d.delete(sid)
        ours = recon.project(image, geom)
        assert np.linalg.norm(ours - ref) / np.linalg.norm(ref) <= 0.02
        # the adjoint too: ASTRA's backprojection is the transpose of its projector
        bid, ref_bp = astra.create_backprojection(ours, pid)
        astra.data2d.delete(bid)
        bp = recon.backproject(ours, geom)
        assert np.linalg.norm(bp - ref_bp) / np.linalg.norm(ref_bp) <= 0.02
        assert bp.sum() == pytest.approx(ref_bp.sum(), rel=1e-4)
        # a flipped or shifted convention would be far off: the comparison can fail
        assert np.linalg.norm(ours[:, ::-1] - ref) / np.linalg.norm(ref) > 0.1
    finally:
        astra.projector.delete(pid)
