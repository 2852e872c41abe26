"""Nikon XT scans (``.xtekct`` + one TIFF per view): the geometry read from the settings (angles, distances, pixel
sizes, detector and rotation-axis offsets, an angle table), raw counts turned into the line integrals they were
made from, binning and view skipping that keep the geometry exact, FDK of the scan, and one clear error for every
broken or hostile file."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import recon
from recon.io import ScanFormatError, read_nikon, read_scan
from recon.simulation.ellipsoids import Ellipsoid, exact_projections

WHITE = 60000.0
SETTINGS = dict(Name="part", InputSeparator="_", InputFolderName="", SrcToObject=60.0, SrcToDetector=90.0,
                DetectorPixelsX=31, DetectorPixelsY=21, DetectorPixelSizeX=0.4, DetectorPixelSizeY=0.5,
                DetectorOffsetX=-0.2, DetectorOffsetY=0.3, CentreOfRotationTop=0.1, CentreOfRotationBottom=0.1,
                WhiteLevel=WHITE, Projections=40, InitialAngle=10.0, AngularStep=9.0)
BALL = [Ellipsoid(0.05, (0.5, -0.3, 0.2), (3.0, 4.0, 2.5))]


def expected_geometry(s: dict, angles_deg: np.ndarray) -> recon.ConeBeam:
    """What the module docstring says the settings mean."""
    col = s["DetectorOffsetX"] - s["CentreOfRotationTop"] * s["SrcToDetector"] / s["SrcToObject"]
    return recon.ConeBeam(-np.deg2rad(angles_deg), (s["DetectorPixelsY"], s["DetectorPixelsX"]),
                          (s["DetectorPixelSizeY"], s["DetectorPixelSizeX"]), sod=s["SrcToObject"],
                          sdd=s["SrcToDetector"], det_offset=(s["DetectorOffsetY"], col))


def write_scan(folder, angles_deg=None, **changes) -> tuple:
    """A Nikon scan of :data:`BALL` in ``folder``: (the .xtekct path, the exact line integrals, the geometry)."""
    s = {**SETTINGS, **changes}
    n = int(s["Projections"])
    if angles_deg is None:
        angles_deg = s["InitialAngle"] + s["AngularStep"] * np.arange(n)
    g = expected_geometry(s, angles_deg)
    p = exact_projections(BALL, g, supersample=2)
    counts = np.round(WHITE * np.exp(-p)).astype(np.uint16)
    sub = folder / s["InputFolderName"] if s["InputFolderName"] else folder
    sub.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        tifffile.imwrite(sub / f"{s['Name']}{s['InputSeparator']}{k + 1:04d}.tif", counts[k])
    text = "[XTekCT]\n" + "".join(f"{k}={v}\n" for k, v in s.items()) + "[Xrays]\nXraykV=160\n"
    path = folder / "part.xtekct"
    path.write_text(text)
    return path, p, g


def test_geometry_and_line_integrals_of_a_scan(tmp_path):
    path, p, g = write_scan(tmp_path)
    scan = read_scan(path)
    assert isinstance(scan, recon.io.ConeScan) and scan.format == "nikon-xtekct"
    np.testing.assert_allclose(scan.geometry.cone_vectors().to_array(), g.cone_vectors().to_array(), atol=1e-12)
    assert np.abs(scan.projections - p).max() < 1e-4  # counts rounded to integers at 60000
    assert read_scan(tmp_path).geometry == scan.geometry  # the folder holding one .xtekct
    grid = recon.VolumeGrid((16, 24, 24), 0.35)
    vol = recon.fdk(scan.projections, scan.geometry, grid, "hann")
    k, i, j = (np.argmin(np.abs(c - v)) for c, v in zip((grid.z, grid.y, grid.x), (0.2, -0.3, 0.5)))
    assert abs(float(vol[k, i, j]) - 0.05) < 0.005  # the ball's μ at its centre


def test_an_angle_table_replaces_the_even_angles(tmp_path):
    angles = np.sort(np.random.default_rng(0).uniform(0, 360, 40))
    path, _, g = write_scan(tmp_path, angles_deg=angles)
    (tmp_path / "_ctdata.txt").write_text("Projection\tAngle(deg)\tTime\n" +
                                          "".join(f"{k + 1}\t{a:.12f}\t0\n" for k, a in enumerate(angles)))
    scan = read_nikon(path)
    np.testing.assert_allclose(scan.geometry.angles, g.angles, atol=1e-12)
    assert scan.info["angles_from"] == "_ctdata.txt"
    (tmp_path / "_ctdata.txt").write_text("1 0.0\n2 1.0\n")
    with pytest.raises(ScanFormatError, match="lists 2 projection angles; the .xtekct file has 40"):
        read_nikon(path)


def test_binning_and_every_keep_the_geometry_exact(tmp_path):
    path, _, g = write_scan(tmp_path)  # 21 × 31 pixels: binning by 2 crops a row and a column
    scan = read_nikon(path, binning=2, every=3)
    assert scan.projections.shape == (14, 10, 15)
    np.testing.assert_allclose(scan.geometry.angles, g.angles[::3])
    base, step = g.cone_vectors().pixel_positions()
    pix = base[::3, None, :, :] + np.arange(21)[None, :, None, None] * step[::3, None, None, :]
    merged = pix[:, :20, :30].reshape(14, 10, 2, 15, 2, 3).mean(axis=(2, 4))  # centres of the 2 × 2 bins
    b_base, b_step = scan.geometry.cone_vectors().pixel_positions()
    b_pix = b_base[:, None, :, :] + np.arange(10)[None, :, None, None] * b_step[:, None, None, :]
    np.testing.assert_allclose(b_pix, merged, atol=1e-12)


@pytest.mark.parametrize("change, message", [
    (dict(SrcToObject=95.0), "not less than SrcToDetector"),
    (dict(DetectorPixelSizeX="abc"), "DetectorPixelSizeX = 'abc' is not a number"),
    (dict(DetectorPixelsX=1e9), "DetectorPixelsX"),
    (dict(Projections=0), "Projections"),
    (dict(InputFolderName="../elsewhere"), "leaves the folder of the .xtekct file"),
])
def test_bad_settings_get_one_clear_error(tmp_path, change, message):
    path, _, _ = write_scan(tmp_path / "ok")
    text = path.read_text()
    for key, value in change.items():
        text = "\n".join(f"{key}={value}" if line.startswith(key + "=") else line for line in text.splitlines())
    bad = tmp_path / "ok" / "bad.xtekct"
    bad.write_text(text)
    with pytest.raises(ScanFormatError, match=message):
        read_scan(bad)


def test_broken_files_get_one_clear_error(tmp_path):
    path, _, _ = write_scan(tmp_path)
    (tmp_path / "part_0007.tif").unlink()
    with pytest.raises(ScanFormatError, match=r"1 of its 40 projections are missing .*part_0007.tif"):
        read_nikon(path)
    tifffile.imwrite(tmp_path / "part_0007.tif", np.zeros((21, 30), np.uint16))
    with pytest.raises(ScanFormatError, match=r"part_0007.tif.*shape \(21, 30\).*21 rows × 31 columns"):
        read_nikon(path)
    blob = (tmp_path / "part_0008.tif").read_bytes()
    (tmp_path / "part_0007.tif").write_bytes(blob[: len(blob) // 3])  # truncated
    with pytest.raises(ScanFormatError, match="part_0007.tif"):
        read_nikon(path)
    other = tmp_path / "other.xtekct"
    other.write_text("[Settings]\nA=1\n")
    with pytest.raises(ScanFormatError, match=r"no \[XTekCT\] section"):
        read_nikon(other)
    with pytest.raises(ScanFormatError, match="drop geometry="):
        read_nikon(path, geometry=recon.ConeBeam([0.0], (2, 2), 1.0, sod=10.0, sdd=20.0))
    with pytest.raises(ScanFormatError, match="binning"):
        read_nikon(path, binning=0)
