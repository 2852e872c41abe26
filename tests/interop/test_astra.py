"""recon.interop ↔ ASTRA: round trips of every form, and ASTRA's projector on the converted geometry agrees with
recon's (the same tolerance as tests/operators/test_accuracy.py)."""

from __future__ import annotations

import numpy as np
import pytest

import recon
from recon.interop import from_astra, to_astra

astra = pytest.importorskip("astra")

ANGLES = np.linspace(0, 2 * np.pi, 120, endpoint=False)
GEOMETRIES = {
    "parallel": recon.ParallelBeam(ANGLES[:60], 192, 0.7, 128, 0.9),
    "parallel, offset": recon.ParallelBeam(ANGLES[:60] + 0.2, 192, 0.7, 128, 0.9, det_offset=1.3),
    "fan flat": recon.FanBeam(ANGLES, 192, 1.1, 128, 0.9, sod=200.0, sdd=350.0),
    "fan flat, offset": recon.FanBeam(ANGLES + 5.0, 192, 1.1, 128, 0.9, sod=200.0, sdd=350.0, det_offset=-2.1),
}


def _astra_projection(image: np.ndarray, vol, proj) -> np.ndarray:
    kind = "linear" if proj["type"].startswith("parallel") else "line_fanflat"
    pid = astra.create_projector(kind, proj, vol)
    try:
        sid, sino = astra.create_sino(image, pid)
        astra.data2d.delete(sid)
    finally:
        astra.projector.delete(pid)
    return sino


@pytest.mark.parametrize("name", list(GEOMETRIES))
@pytest.mark.parametrize("vectors", [None, True])
def test_round_trip(name, vectors):
    geometry = GEOMETRIES[name]
    vol, proj = to_astra(geometry, vectors=vectors)
    assert proj["type"].endswith("_vec") == bool(vectors or geometry.det_offset)
    back = from_astra(vol, proj)
    if proj["type"].endswith("_vec"):  # angles, distances and offsets recovered from vectors: to rounding
        assert recon.geometry_differences(geometry, back, rtol=1e-12) == []
        np.testing.assert_allclose(back.angles, geometry.angles, rtol=0, atol=1e-12)  # same turn, not mod 2π
    else:  # the plain forms store recon's numbers as they are
        assert back == geometry


@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_astra_projects_the_converted_geometry_like_recon(name):
    """ASTRA's projection of the converted geometry (mm units, so no rescaling) is recon's to 2 % — recon's
    parallel projector is ASTRA's linear kernel to float precision — and a mirrored detector would be far off."""
    geometry = GEOMETRIES[name]
    image = recon.rasterize(recon.shepp_logan(radius=50.0), geometry, supersample=2).astype(np.float32)
    ours = recon.project(image, geometry)
    for vectors in (None, True):
        ref = _astra_projection(image, *to_astra(geometry, vectors=vectors))
        rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
        assert rel <= (1e-4 if isinstance(geometry, recon.ParallelBeam) else 0.02), rel
        assert np.linalg.norm(ours[:, ::-1] - ref) / np.linalg.norm(ref) > 0.1


def test_pixel_unit_geometries_come_back_in_mm():
    """ASTRA's habitual pixel units (default window ±N/2): ``unit_mm`` = the pixel size gives the mm geometry."""
    px = 0.25
    vol = astra.create_vol_geom(64, 64)
    proj = astra.create_proj_geom("fanflat", 1.5, 100, ANGLES, 800.0, 400.0)  # pixels
    geometry = from_astra(vol, proj, unit_mm=px)
    assert geometry == recon.FanBeam(ANGLES, 100, 1.5 * px, 64, px, sod=800.0 * px, sdd=1200.0 * px)
    vec = astra.geom_2vec(proj)  # ASTRA's own vector form of the same scan
    assert recon.geometry_differences(geometry, from_astra(vol, vec, unit_mm=px), rtol=1e-12) == []
    for vectors in (False, True):  # and to_astra writes the same pixel-unit geometry
        vol_px, proj_px = to_astra(geometry, vectors=vectors, unit_mm=px)
        assert vol_px["option"]["WindowMaxX"] == pytest.approx(32.0)
        assert recon.geometry_differences(geometry, from_astra(vol_px, proj_px, unit_mm=px), rtol=1e-12) == []
    np.testing.assert_allclose(to_astra(geometry, vectors=True, unit_mm=px)[1]["Vectors"], vec["Vectors"],
                               atol=1e-9)


def test_geometries_recon_cannot_hold_are_refused():
    arc = recon.FanBeam(ANGLES, 96, 1.0, 64, 0.9, sod=200.0, sdd=350.0, detector="arc")
    with pytest.raises(ValueError, match="no arc"):
        to_astra(arc)
    with pytest.raises(ValueError, match="no arc"):
        to_astra(recon.as_vectors(arc))
    with pytest.raises(ValueError, match="vectors=True"):
        to_astra(GEOMETRIES["parallel, offset"], vectors=False)
    with pytest.raises(ValueError, match="vectors=True"):
        to_astra(recon.as_vectors(GEOMETRIES["parallel"]), vectors=False)
    vol, proj = to_astra(GEOMETRIES["fan flat"], vectors=True)
    with pytest.raises(ValueError, match="square"):
        from_astra(astra.create_vol_geom(64, 32), proj)
    with pytest.raises(ValueError, match="centred"):
        from_astra(astra.create_vol_geom(64, 64, -10, 20, -15, 15), proj)
    with pytest.raises(ValueError, match="type"):
        from_astra(vol, astra.create_proj_geom("parallel3d", 1, 1, 10, 10, ANGLES))


def _perturbed(name: str, view: int, change) -> tuple[dict, dict]:
    vol, proj = to_astra(GEOMETRIES[name], vectors=True)
    proj = dict(proj, Vectors=proj["Vectors"].copy())
    change(proj["Vectors"][view])
    return vol, proj


def _tilt(row):
    c, s = np.cos(0.05), np.sin(0.05)
    row[4:6] = np.array([[c, -s], [s, c]]) @ row[4:6]


@pytest.mark.parametrize("name, change, kind", [
    ("fan flat", lambda row: row.__setitem__(slice(0, 2), row[0:2] * 1.01), recon.FanBeamVec),  # source 1 % out
    ("fan flat, offset", _tilt, recon.FanBeamVec),  # a detector tilted by 2.9°
    ("fan flat", lambda row: row.__setitem__(slice(4, 6), -row[4:6]), recon.FanBeamVec),  # a mirrored detector
    ("parallel, offset", _tilt, recon.ParallelBeamVec),
])
def test_vector_scans_that_are_not_circular_come_back_view_by_view(name, change, kind):
    """A non-circular ASTRA vector scan becomes a per-view geometry with the same rows, and ASTRA's own projector
    on those rows agrees with recon's as closely as on a circular scan (parallel: to float precision)."""
    vol, proj = _perturbed(name, 7, change)
    geometry = from_astra(vol, proj)
    assert type(geometry) is kind
    np.testing.assert_array_equal(geometry.vectors, proj["Vectors"])
    assert to_astra(geometry)[1]["type"] == proj["type"]
    np.testing.assert_array_equal(to_astra(geometry)[1]["Vectors"], proj["Vectors"])
    image = recon.rasterize(recon.shepp_logan(radius=50.0), geometry, supersample=2).astype(np.float32)
    ours, ref = recon.project(image, geometry), _astra_projection(image, vol, proj)
    rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
    assert rel <= (1e-4 if kind is recon.ParallelBeamVec else 0.02), rel
    rel7 = np.linalg.norm(ours[7] - ref[7]) / np.linalg.norm(ref[7])  # the changed view itself
    assert rel7 <= (1e-4 if kind is recon.ParallelBeamVec else 0.02), rel7
    circular = recon.project(image, GEOMETRIES[name])
    assert np.linalg.norm(circular[7] - ref[7]) / np.linalg.norm(ref[7]) > 2 * rel7  # the change is seen
