"""The image grid apart from the scan: every operator takes ``grid=``; a grid whose centre is moved is the same as
the scan moved the other way (checked through the vector form), another size or pitch is what replacing the
geometry's grid gave, the adjoints stay exact, ASTRA agrees on a shifted volume, and bad grids are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.operators import weighted_backproject_adjoint

from ..helpers import small_geometries

OPS = (("project", "image"), ("backproject", "sinogram"), ("weighted_backproject", "sinogram"),
       ("weighted_backproject_adjoint", "image"))


def _translated(g: recon.Geometry, shift) -> recon.Geometry:
    """The scan moved by ``-shift`` mm (its vectors), as a vector geometry."""
    rows = g.view_vectors().as_array()
    model = g.view_vectors().model
    if model != "parallel":
        rows[:, 0:2] -= shift
    rows[:, 2:4] -= shift
    if model == "parallel":
        return recon.ParallelBeamVec(rows, g.n_det, g.image_size, g.pixel_size)
    return recon.FanBeamVec(rows, g.n_det, g.image_size, g.pixel_size, detector=model)


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc"])
def test_a_grid_moved_by_d_is_the_scan_moved_by_minus_d(name, backend):
    g = small_geometries(3)[name]
    shift = np.array([1.3, -0.7])
    moved = recon.ImageGrid(g.image_size, g.pixel_size, offset=shift)
    translated = _translated(g, shift)
    # B_w's flat weight (D / L)² takes D from the rotation axis, which the translated vectors moved with the scan
    d_axis, d_moved = g.view_vectors().detector_map().l0, translated.view_vectors().detector_map().l0
    ratio = (d_axis / d_moved)[:, None] ** 2 if name == "fan-flat" else np.ones((g.n_views, 1))
    rng = np.random.default_rng(0)
    for op, kind in OPS:
        data = rng.random(g.grid.shape if kind == "image" else g.sino_shape)
        fn = getattr(recon.operators, op)
        on_moved_grid = fn(data, g, grid=moved, backend=backend)
        if op == "weighted_backproject":
            scan_moved = fn(data * ratio, translated, backend=backend)
        elif op == "weighted_backproject_adjoint":
            scan_moved = fn(data, translated, backend=backend) * ratio
        else:
            scan_moved = fn(data, translated, backend=backend)
        np.testing.assert_allclose(on_moved_grid, scan_moved, rtol=1e-11, atol=1e-12 * np.abs(scan_moved).max())
        assert np.abs(on_moved_grid - fn(data, g, backend=backend)).max() > 1e-3 * np.abs(scan_moved).max()


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_another_grid_is_what_replacing_the_geometrys_grid_gave_and_adjoints_stay_exact(backend):
    rng = np.random.default_rng(1)
    for name, g in small_geometries(4).items():
        other = recon.ImageGrid(17, 0.6)
        for op, kind in OPS:
            data = rng.random((17, 17) if kind == "image" else g.sino_shape)
            fn = getattr(recon.operators, op)
            assert np.array_equal(fn(data, g, grid=other, backend=backend),
                                  fn(data, g.replace(image_size=17, pixel_size=0.6), backend=backend)), (name, op)
        shifted = recon.ImageGrid(20, 0.45, offset=(-0.8, 1.1))
        x = torch.rand((2,) + shifted.shape, dtype=torch.float64)
        y = torch.randn((2,) + g.sino_shape, dtype=torch.float64)
        for fwd, adj in ((recon.project, recon.backproject), (weighted_backproject_adjoint, recon.weighted_backproject)):
            ax, aty = fwd(x, g, grid=shifted, backend=backend), adj(y, g, grid=shifted, backend=backend)
            defect = abs(float((ax * y).sum() - (x * aty).sum())) / float(ax.norm() * y.norm())
            assert defect <= 1e-12, (name, defect)


def test_the_grid_reaches_layers_and_the_astra_backend():
    g = small_geometries(5)["parallel"]
    grid = recon.ImageGrid(20, 0.5, offset=(0.9, -0.4))
    x = torch.rand(grid.shape, dtype=torch.float64)
    layer = recon.Projector(g, grid=grid)
    torch.testing.assert_close(layer(x), recon.project(x, g, grid=grid), rtol=0, atol=0)
    assert "centre at (0.9, -0.4) mm" in repr(layer)
    pytest.importorskip("astra")
    theirs = recon.project(x.float(), g, grid=grid, backend="astra")  # ASTRA's volume window moved by the offset
    ours = recon.project(x.float(), g, grid=grid)
    assert float((theirs - ours).norm() / ours.norm()) < 1e-4


def test_bad_grids_are_refused():
    g = small_geometries(0)["fan-flat"]  # sod 30 mm
    with pytest.raises(TypeError, match="grid must be a recon.ImageGrid"):
        recon.project(np.zeros(g.image_shape), g, grid=(24, 0.5))
    with pytest.raises(ValueError, match=r"grid ImageGrid\(24² × 0.5 mm, centre at \(25, 0\) mm\) reaches the source"):
        recon.project(np.zeros(g.image_shape), g, grid=recon.ImageGrid(24, 0.5, offset=(25.0, 0.0)))
    with pytest.raises(ValueError, match=r"\[\.\.\., 12, 12\] for ImageGrid\(12² × 1 mm\)"):
        recon.project(np.zeros(g.image_shape), g, grid=recon.ImageGrid(12, 1.0))


def test_image_grid_is_a_value():
    grid = recon.ImageGrid(64, 0.25, offset=(1.0, -2.0))
    assert recon.ImageGrid.from_dict(grid.to_dict()) == grid and hash(grid) == hash(recon.ImageGrid(**grid.to_dict()))
    np.testing.assert_allclose(grid.x[[0, -1]], [1.0 - 7.875, 1.0 + 7.875])
    np.testing.assert_allclose(grid.y[[0, -1]], [-2.0 + 7.875, -2.0 - 7.875])
    assert grid.differences(recon.ImageGrid(64, 0.25)) == ["grid centre (1.0, -2.0) mm expected, got (0.0, 0.0) mm"]
    assert recon.ParallelBeam([0.0], 8, 1.0, 64, 0.25).grid == recon.ImageGrid(64, 0.25)
    with pytest.raises(AttributeError, match="immutable"):
        grid.size = 3
    for bad, err in (({"size": 0, "pixel_size": 1.0}, ValueError), ({"size": 8, "pixel_size": -1.0}, ValueError),
                     ({"size": 8, "pixel_size": 1.0, "offset": (np.nan, 0)}, ValueError),
                     ({"size": 8, "pixel_size": 1.0, "offset": 3.0}, TypeError)):
        with pytest.raises(err):
            recon.ImageGrid(**bad)
    with pytest.raises(ValueError, match="has no \\['shape'\\]"):
        recon.ImageGrid.from_dict({"size": 8, "pixel_size": 1.0, "shape": 3})


@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc"])
def test_fbp_on_a_region_grid_is_that_region_of_the_full_reconstruction(name):
    """B_w samples at pixel centres, so FBP on a 10² grid whose centres are some of the full grid's is the full
    FBP cut to them — a region of interest reconstructed without the rest."""
    g = small_geometries(6)[name]  # 24² × 0.5 mm
    sino = recon.ray_transform([recon.Ellipse(0.02, (1.0, -0.5), (3.0, 2.0), 0.3)], g)
    full = recon.fbp(sino, g, "hann", warn=False)  # (the small parallel scan spans 143°: same bias in both)
    region = recon.ImageGrid(10, 0.5, offset=(1.5, -2.0))  # columns 10…19, rows 11…20 of the full grid
    roi = recon.fbp(sino, g, "hann", grid=region, warn=False)
    cols = np.flatnonzero(np.isin(np.round(g.grid.x, 9), np.round(region.x, 9)))
    rows = np.flatnonzero(np.isin(np.round(g.grid.y, 9), np.round(region.y, 9)))
    assert cols.size == rows.size == 10
    np.testing.assert_allclose(roi, full[np.ix_(rows, cols)], rtol=1e-9, atol=1e-12)
    layer = recon.FBP(g, "hann", grid=region, dtype=torch.float64, warn=False)
    np.testing.assert_allclose(layer(torch.from_numpy(sino)).detach().numpy(), roi, rtol=1e-9, atol=1e-12)
