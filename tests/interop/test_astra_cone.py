"""recon.interop ↔ ASTRA for cone beam: geometry and volume round trips, ASTRA's own ``cone`` form read back
with the same rays (ASTRA's ``geom_2vec``), and — where ASTRA finds a GPU — ASTRA's cone projector on the
converted geometry against recon's."""

from __future__ import annotations

import numpy as np
import pytest

import recon
from recon.geometry import geometry_differences
from recon.interop import from_astra, grid_from_astra, projections_from_astra, projections_to_astra, to_astra

astra = pytest.importorskip("astra")

ANGLES = np.sort(np.random.default_rng(0).uniform(0.3, 2 * np.pi + 0.3, 40))
SCAN = recon.ConeBeam(ANGLES, (24, 40), (1.1, 0.9), sod=90.0, sdd=150.0, det_offset=(1.3, -2.2))
GRID = recon.VolumeGrid((12, 20, 18), (0.8, 0.7, 0.75), offset=(0.6, -1.1, 0.9))


def _rays(g) -> np.ndarray:
    """Every detector pixel's centre and its source, ``[n_views, rows, cols, 6]`` (mm)."""
    vec = g.cone_vectors()
    base, step = vec.pixel_positions()
    rows = np.arange(g.det_shape[0])
    pix = base[:, None, :, :] + rows[None, :, None, None] * step[:, None, None, :]
    return np.concatenate([pix, np.broadcast_to(vec.source[:, None, None, :], pix.shape)], axis=-1)


def test_cone_scans_and_volumes_round_trip():
    vol, proj = to_astra(SCAN, grid=GRID)
    assert proj["type"] == "cone_vec" and vol["GridSliceCount"] == 12 and vol["GridRowCount"] == 20
    back = from_astra(vol, proj)
    assert isinstance(back, recon.ConeBeam) and not geometry_differences(back, SCAN)
    np.testing.assert_allclose(back.cone_vectors().to_array(), SCAN.cone_vectors().to_array(), atol=1e-9)
    grid = grid_from_astra(vol)
    assert grid.shape == GRID.shape
    np.testing.assert_allclose(grid.voxel_size, GRID.voxel_size, rtol=1e-12)
    np.testing.assert_allclose(grid.offset, GRID.offset, atol=1e-12)
    vec = SCAN.cone_vectors().to_array()
    vec[:, 0:3] += np.random.default_rng(1).normal(0, 0.5, (len(vec), 3))  # a wobbling source
    wobble = recon.ConeBeamVec(vec, SCAN.det_shape)
    back = from_astra(*to_astra(wobble, grid=GRID))
    assert isinstance(back, recon.ConeBeamVec)
    np.testing.assert_allclose(back.vectors, vec, atol=1e-9)
    p = np.random.default_rng(2).random(SCAN.proj_shape)
    assert projections_to_astra(p).shape == (24, 40, 40)
    np.testing.assert_array_equal(projections_from_astra(projections_to_astra(p)), p.astype(np.float32))
    vol_mm, proj_mm = to_astra(SCAN, grid=GRID, unit_mm=0.5)  # ASTRA in units of 0.5 mm
    assert not geometry_differences(from_astra(vol_mm, proj_mm, unit_mm=0.5), SCAN)


def test_astra_cone_geometries_come_back_with_the_same_rays():
    proj = astra.create_proj_geom("cone", 0.9, 1.1, 24, 40, ANGLES, 90.0, 60.0)
    g = from_astra(None, proj)
    ref = astra.functions.geom_2vec(proj)["Vectors"]  # ASTRA's own vector form of its cone geometry
    rays = _rays(g)  # recon's frame: ASTRA's turned by 180° about x
    turn = np.array([1.0, -1.0, -1.0])
    src, det, u, v = (ref[:, 3 * k:3 * k + 3] * turn for k in range(4))
    c = np.arange(40) - 19.5
    r = np.arange(24) - 11.5
    astra_pix = det[:, None, None, :] + c[None, None, :, None] * u[:, None, None, :] + \
        r[None, :, None, None] * v[:, None, None, :]
    np.testing.assert_allclose(rays[..., :3], astra_pix, atol=1e-9)
    np.testing.assert_allclose(rays[..., 3:], np.broadcast_to(src[:, None, None, :], astra_pix.shape), atol=1e-9)


def test_bad_input_gets_one_clear_error():
    with pytest.raises(ValueError, match="needs grid=recon.VolumeGrid"):
        to_astra(SCAN)
    with pytest.raises(ValueError, match="cylindrical"):
        to_astra(recon.ConeBeam(ANGLES, (24, 40), 1.0, sod=90.0, sdd=150.0, detector="cylindrical"), grid=GRID)
    with pytest.raises(ValueError, match="cone_vec only"):
        to_astra(SCAN, vectors=False, grid=GRID)
    with pytest.raises(ValueError, match="not a complete ASTRA cone_vec"):
        from_astra(None, {"type": "cone_vec", "DetectorRowCount": 4})
    with pytest.raises(ValueError, match="finite"):
        from_astra(None, {"type": "cone_vec", "DetectorRowCount": 4, "DetectorColCount": 4,
                          "Vectors": np.full((3, 12), np.nan)})
    with pytest.raises(ValueError, match="3-D volume"):
        grid_from_astra({"GridRowCount": 4})


def _astra_has_cuda() -> bool:
    try:
        return bool(astra.use_cuda())
    except Exception:  # noqa: BLE001 - any failure means no usable GPU
        return False


@pytest.mark.skipif(not _astra_has_cuda(), reason="ASTRA's cone-beam projector needs CUDA")
def test_astra_cone_projector_agrees_with_recon():
    grid = recon.VolumeGrid((24, 32, 32), 1.0, offset=(1.0, -2.0, 1.5))
    g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 60, endpoint=False), (40, 64), 1.0, sod=120.0, sdd=200.0,
                       det_offset=(2.0, -3.0))
    x = np.zeros(grid.shape, dtype=np.float32)
    x[4:14, 6:20, 10:28] = 0.02  # an off-centre brick: any flip of an axis moves its shadow
    vol, proj = to_astra(g, grid=grid)
    sid, data = astra.create_sino3d_gpu(x, proj, vol)
    astra.data3d.delete(sid)
    ours = recon.project(x, g, grid=grid)
    theirs = projections_from_astra(data)
    assert np.linalg.norm(theirs - ours) <= 0.05 * np.linalg.norm(ours)
