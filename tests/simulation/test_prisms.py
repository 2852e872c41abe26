"""Prisms (2-D shapes extruded along z) and the 3-D families built of them: chords against a brute-force march
along each ray, the FDK of an extruded disc with holes reproducing its plate, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import recon
from recon.simulation.ellipsoids import exact_projections, rasterize_volume
from recon.simulation.phantoms import FAMILIES_3D, make_phantom
from recon.simulation.prisms import Prism
from recon.simulation.shapes import Ellipse, Polygon

STAR = Polygon(1.0, [(np.cos(a) * r, np.sin(a) * r) for a, r in
                     zip(np.linspace(0, 2 * np.pi, 10, endpoint=False), [6.0, 2.5] * 5)])


def _marched(prism: Prism, p: np.ndarray, d: np.ndarray, step: float = 2e-3) -> np.ndarray:
    """Chord lengths by sampling ``contains`` every ``step`` mm over t in [0, 60] (the rays start 30 mm out)."""
    t = np.arange(0.0, 60.0, step) + step / 2
    pts = p[:, None, :] + t[None, :, None] * d[:, None, :]
    return prism.contains(pts[..., 0], pts[..., 1], pts[..., 2]).sum(axis=1) * step


@pytest.mark.parametrize("prism", [Prism(Ellipse(1.0, (0.5, -0.3), (5.0, 3.0), 0.4), -2.0, 3.0),
                                   Prism(STAR, -1.5, 2.5)], ids=["cylinder", "star plate"])
def test_chords_match_a_march_along_the_rays(prism):
    rng = np.random.default_rng(0)
    n = 300
    direction = rng.normal(size=(n, 3)) * [1.0, 1.0, 0.4]
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    through = rng.uniform(-4, 4, (n, 3)) * [1.0, 1.0, 0.8]  # points the rays pass near the prism
    start = through - 30.0 * direction
    exact = prism.chords(start, direction)
    assert np.count_nonzero(exact) > n // 3  # most rays hit it, some miss
    np.testing.assert_allclose(exact, _marched(prism, start, direction), atol=5e-3)


def test_every_3d_family_projects_close_to_its_voxelisation():
    g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 24, endpoint=False), (24, 32), 2.0, sod=150.0, sdd=250.0)
    grid = recon.VolumeGrid((20, 48, 48), 1.6)
    for family in FAMILIES_3D:
        phantom = make_phantom(family, np.random.default_rng(5), **({"radius": 30.0} if family != "shepp_logan_3d"
                                                                    else {"size": 30.0}))
        exact = exact_projections(phantom, g, supersample=2)
        voxels = recon.project(rasterize_volume(phantom, grid, 3), g, grid=grid)
        assert np.linalg.norm(voxels - exact) <= 0.06 * np.linalg.norm(exact), family


def test_fdk_of_an_extruded_disc_is_its_plate():
    plate = make_phantom("extruded_discs", np.random.default_rng(1), thickness=20.0, n_holes=3)
    assert all(isinstance(p, Prism) and (p.z_min, p.z_max) == (-10.0, 10.0) for p in plate)
    g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 180, endpoint=False), (40, 96), 1.2, sod=200.0, sdd=300.0)
    grid = recon.VolumeGrid((12, 96, 96), 0.8)
    vol = recon.fdk(exact_projections(plate, g, supersample=2), g, grid, "hann")
    truth = rasterize_volume(plate, grid, 2)
    mid = grid.shape[0] // 2
    r = np.hypot(*np.meshgrid(grid.x, grid.y))
    acrylic, holes, air = truth[mid] > 0.04, (truth[mid] == 0) & (r < 33), (truth[mid] == 0) & (r > 36) & (r < 38)
    assert holes.sum() > 50 and air.sum() > 50  # (the grid's corners lie outside the field of view)
    assert abs(float(np.median(vol[mid][acrylic])) - 0.041) < 0.002
    assert abs(float(np.median(vol[mid][holes]))) < 0.005 and abs(float(np.median(vol[mid][air]))) < 0.003


def test_bad_prisms_get_one_clear_error():
    with pytest.raises(ValueError, match="z_min < z_max"):
        Prism(Ellipse(1.0), 2.0, 1.0)
    with pytest.raises(TypeError, match="Ellipse or recon.Polygon"):
        Prism("disc", 0.0, 1.0)
    with pytest.raises(ValueError, match="thickness"):
        make_phantom("extruded_discs", np.random.default_rng(0), thickness=-1.0)
