"""Cone-beam operators (3-D): exact adjoints of all four, line integrals of ellipsoids against their chord lengths
within the discretisation floor of the voxel phantom, a one-row scan of a one-slice volume equal to the 2-D fan
operators, gradients that are the adjoints, and one clear error for bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import map_coordinates

import recon
from recon.operators import weighted_backproject_adjoint
from recon.simulation.ellipsoids import Ellipsoid, exact_projections, rasterize_volume


def cone_geometries(n_views: int = 13, seed: int = 0) -> dict:
    """Flat and cylindrical circular scans with odd sizes, offsets and irregular angles, and a wobbling,
    tilted vector scan."""
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n_views))
    out = {det: recon.ConeBeam(angles, (11, 17), (1.1, 0.9), sod=40.0, sdd=70.0, detector=det,
                               det_offset=(0.7, -0.4)) for det in ("flat", "cylindrical")}
    vec = out["flat"].cone_vectors().to_array()
    vec[:, 0:3] += rng.normal(0, 1.0, (n_views, 3))            # wobbling source
    vec[:, 3:6] += rng.normal(0, 0.5, (n_views, 3))            # shifted detector
    tilt = 0.05
    vec[:, 6:9], vec[:, 9:12] = (np.cos(tilt) * vec[:, 6:9] + np.sin(tilt) * vec[:, 9:12] * 0.9 / 1.1,
                                 np.cos(tilt) * vec[:, 9:12] - np.sin(tilt) * vec[:, 6:9] * 1.1 / 0.9)
    out["vector"] = recon.ConeBeamVec(vec, (11, 17))
    return out


GRID = recon.VolumeGrid((7, 9, 8), (0.8, 0.7, 0.75), offset=(0.3, -0.2, 0.5))
PAIRS = ((recon.project, recon.backproject), (weighted_backproject_adjoint, recon.weighted_backproject))


@pytest.mark.parametrize("name", ["flat", "cylindrical", "vector"])
def test_all_four_cone_operators_have_exact_adjoints(name):
    g = cone_geometries()[name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal(GRID.shape)
    y = rng.standard_normal(g.proj_shape)
    for forward, adjoint in PAIRS:
        lhs = float((forward(x, g, grid=GRID) * y).sum())
        rhs = float((x * adjoint(y, g, grid=GRID)).sum())
        assert abs(lhs - rhs) <= 1e-9 * max(abs(lhs), 1e-300), (name, forward.__name__)
        assert np.abs(forward(x, g, grid=GRID)).max() > 0  # every operator sees the volume


def test_gradients_are_the_adjoints():
    g = cone_geometries()["flat"]
    x = torch.rand(GRID.shape, dtype=torch.float64, requires_grad=True)
    y = torch.rand(g.proj_shape, dtype=torch.float64)
    (recon.project(x, g, grid=GRID) * y).sum().backward()
    assert torch.allclose(x.grad, recon.backproject(y, g, grid=GRID), rtol=1e-12, atol=0)
    p = torch.rand(g.proj_shape, dtype=torch.float64, requires_grad=True)
    (recon.weighted_backproject(p, g, grid=GRID) * x.detach()).sum().backward()
    assert torch.allclose(p.grad, weighted_backproject_adjoint(x.detach(), g, grid=GRID), rtol=1e-12, atol=0)


def test_batches_and_float32_agree_with_single_float64_volumes():
    g = cone_geometries()["cylindrical"]
    x = np.random.default_rng(2).random((2, 3) + GRID.shape)
    batch = recon.project(x.astype(np.float32), g, grid=GRID)
    assert batch.shape == (2, 3) + g.proj_shape and batch.dtype == np.float32
    single = recon.project(x[1, 2], g, grid=GRID)
    assert np.allclose(batch[1, 2], single, rtol=1e-5, atol=1e-5 * single.max())


@pytest.mark.parametrize("detector,fan", [("flat", "flat"), ("cylindrical", "arc")])
def test_a_one_row_scan_of_a_one_slice_volume_is_the_fan_geometry(detector, fan):
    angles = np.linspace(0, 2 * np.pi, 36, endpoint=False) + 0.1
    g = recon.ConeBeam(angles, (1, 41), (0.5, 0.8), sod=60.0, sdd=90.0, detector=detector, det_offset=(0.0, -0.4))
    f = recon.FanBeam(angles, n_det=41, det_spacing=0.8, image_size=24, pixel_size=0.9, sod=60.0, sdd=90.0,
                      det_offset=-0.4, detector=fan)
    grid = recon.VolumeGrid((1, 24, 24), 0.9)
    rng = np.random.default_rng(0)
    x, y = rng.random(grid.shape), rng.random(g.proj_shape)
    for op, data, flat in ((recon.project, x, x[0]), (recon.backproject, y, y[:, 0]),
                           (recon.weighted_backproject, y, y[:, 0])):
        three, two = op(data, g, grid=grid), op(flat, f)
        assert np.allclose(three.reshape(two.shape), two, rtol=0, atol=1e-11 * np.abs(two).max()), op.__name__


@pytest.mark.parametrize("detector", ["flat", "cylindrical"])
def test_ellipsoids_project_to_their_chord_lengths_within_the_voxel_floor(detector):
    """Against exact chord lengths, A of the voxelised phantom errs no more than 1.25× the exact integral of the
    trilinearly interpolated voxel phantom (sampled finely along every ray): the discretisation floor."""
    n, vox = 40, 0.5
    grid = recon.VolumeGrid((n, n, n), vox)
    g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 8, endpoint=False), (30, 44), 0.8, sod=60.0, sdd=110.0,
                       detector=detector, det_offset=(0.3, -0.5))
    ells = [Ellipsoid(0.02, (0.0, 0.0, 0.0), (8.0, 7.0, 6.0), 0.3), Ellipsoid(-0.01, (2.0, 1.0, -1.0), (3.0, 2.0, 4.0), 1.0),
            Ellipsoid(0.015, (-4.0, -2.0, 3.0), (2.0, 3.0, 2.0))]
    x = rasterize_volume(ells, grid, 3)
    exact = exact_projections(ells, g)
    vec = g.cone_vectors()
    base, step = vec.pixel_positions()
    pixels = base[:, None] + np.arange(g.det_shape[0])[None, :, None, None] * step[:, None, None, :]
    t = np.linspace(0.0, 1.0, 1202)[1:-1]
    floor = np.zeros(exact.shape)
    for v in range(g.n_views):
        ray = pixels[v] - vec.source[v]
        points = vec.source[v] + t[:, None, None, None] * ray
        index = np.stack([(grid.z[0] - points[..., 2]) / vox, (grid.y[0] - points[..., 1]) / vox,
                          (points[..., 0] - grid.x[0]) / vox]).reshape(3, -1)
        values = map_coordinates(x, index, order=1, mode="constant").reshape(points.shape[:3])
        floor[v] = values.sum(0) * (t[1] - t[0]) * np.linalg.norm(ray, axis=-1)
    error = np.linalg.norm(recon.project(x, g, grid=grid) - exact)
    assert error <= 1.25 * np.linalg.norm(floor - exact)
    assert error <= 0.05 * np.linalg.norm(exact)


def test_bad_input_gets_one_clear_error():
    g = cone_geometries()["flat"]
    with pytest.raises(ValueError, match="pass grid=recon.VolumeGrid"):
        recon.project(np.zeros(GRID.shape), g)
    with pytest.raises(ValueError, match=r"\[\.\.\., 7, 9, 8\]"):
        recon.project(np.zeros((7, 9, 9)), g, grid=GRID)
    with pytest.raises(ValueError, match=r"\[\.\.\., 13, 11, 17\]"):
        recon.backproject(np.zeros((13, 11, 16)), g, grid=GRID)
    bad = np.zeros(GRID.shape)
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        recon.project(bad, g, grid=GRID)
    with pytest.raises(ValueError, match="reaches the source"):
        recon.project(np.zeros((40, 40, 40)), g, grid=recon.VolumeGrid(40, 2.0))
    with pytest.raises(ValueError, match="numba"):
        recon.project(np.zeros(GRID.shape), g, grid=GRID, backend="torch")
    with pytest.raises(TypeError, match="float32 or float64"):
        recon.project(np.zeros(GRID.shape, dtype=np.int64), g, grid=GRID)
