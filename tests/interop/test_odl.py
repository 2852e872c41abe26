"""recon.interop → ODL: every ray of the ODL geometry is recon's (arc detector included), and ODL's own ray
transform (its ASTRA backend) of the converted geometry agrees with recon.project. Runs where ``odl`` is
installed (it is not a test dependency: ODL 1.0 needs numpy ≥ 2.3 and its ASTRA backend)."""

from __future__ import annotations

import numpy as np
import pytest

import recon
from recon.interop import image_from_odl, image_to_odl, to_odl

odl = pytest.importorskip("odl")

ANGLES = np.linspace(0, 2 * np.pi, 90, endpoint=False)
GEOMETRIES = {
    "parallel": recon.ParallelBeam(ANGLES[:45], 96, 0.7, 64, 0.9),
    "parallel, offset": recon.ParallelBeam(ANGLES[:45], 96, 0.7, 64, 0.9, det_offset=1.3),
    "fan flat, offset": recon.FanBeam(ANGLES, 96, 1.1, 64, 0.9, sod=200.0, sdd=350.0, det_offset=-2.1),
    "fan arc, offset": recon.FanBeam(ANGLES, 96, 1.1, 64, 0.9, sod=200.0, sdd=350.0, detector="arc",
                                     det_offset=0.7),
}


@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_odl_rays_are_recons(name):
    geometry = GEOMETRIES[name]
    space, g = to_odl(geometry)
    assert space.shape == geometry.image_shape and np.allclose(space.cell_sides, geometry.pixel_size)
    np.testing.assert_array_equal(g.angles, geometry.angles)
    points, directions = geometry.rays()
    params = g.det_partition.coord_vectors[0][None, :]
    on_detector = g.det_point_position(g.angles[:, None], params)  # [views, det, 2]
    if isinstance(geometry, recon.FanBeam):
        source = g.src_position(g.angles)[:, None, :]
        ray = (on_detector - source) / np.linalg.norm(on_detector - source, axis=-1, keepdims=True)
        np.testing.assert_allclose(source + 0 * ray, points, atol=1e-9)
        np.testing.assert_allclose(ray, directions, atol=1e-12)
    else:  # the same line: same direction (up to sign), the same foot on the u axis through the origin
        ray = g.det_to_src(g.angles[:, None], params)
        np.testing.assert_allclose(np.abs((ray * directions).sum(-1)), 1.0, atol=1e-12)
        foot = on_detector - (on_detector * directions).sum(-1, keepdims=True) * directions
        np.testing.assert_allclose(foot, points, atol=1e-9)


@pytest.mark.parametrize("name", ["parallel", "fan flat, offset"])
def test_odl_ray_transform_agrees_with_recon(name):
    """ODL's ``astra_cpu`` ray transform on the converted geometry and image layout. (ODL 1.0's ASTRA backend
    drops a 2-D parallel detector's offset, so the offset parallel geometry is checked by its rays above.)"""
    pytest.importorskip("astra")
    from odl.applications import tomo

    geometry = GEOMETRIES[name]
    space, g = to_odl(geometry)
    image = recon.rasterize(recon.shepp_logan(radius=25.0), geometry, supersample=2).astype(np.float32)
    ref = tomo.RayTransform(space, g, impl="astra_cpu")(image_to_odl(image)).asarray()
    ours = recon.project(image, geometry)
    rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
    assert rel <= (1e-4 if name == "parallel" else 0.03), rel
    assert np.linalg.norm(ours[:, ::-1] - ref) / np.linalg.norm(ref) > 0.1


def test_image_layout_and_angle_order():
    x = np.arange(12.0).reshape(3, 4)
    assert np.array_equal(image_from_odl(image_to_odl(x)), x)
    assert image_to_odl(x)[0, 0] == x[-1, 0]  # ODL [x, y] starts at the bottom-left, recon [row, col] at the top
    with pytest.raises(ValueError, match="increasing"):
        to_odl(GEOMETRIES["parallel"].replace(angles=ANGLES[:45][::-1]))
