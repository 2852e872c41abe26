"""Multi-slice 2-D scans (one parallel slice per detector row) reconstructed into one volume (recon.app.stack):
every slice of the volume is the reconstruction of that row alone, --slices A:B reads only those rows, and the
volume carries its voxel size, unit and method in a multi-page TIFF or HDF5 file."""

from __future__ import annotations

import numpy as np
import pytest

import recon
from recon.app.cli import main
from recon.app.stack import parse_slices, row_pitch
from recon.io.volumes import read_volume

from ..io.files import N_ROWS, line_integrals, write_dxchange


def test_parse_slices():
    assert parse_slices(None) is None and parse_slices("8") == 8
    assert parse_slices("2:5") == slice(2, 5) and parse_slices(":3") == slice(0, 3) and parse_slices("1:") == slice(1, None)
    for bad in ("0", "-2", "5:5", "3:1", "a:b", "1.5", "-1:2"):
        with pytest.raises(ValueError, match="--slices"):
            parse_slices(bad)


def test_row_pitch_is_the_detector_pitch_at_the_axis():
    angles = np.linspace(0, np.pi, 8, endpoint=False)
    assert row_pitch(recon.ParallelBeam(angles, 16, 0.5, 16, 0.5)) == 0.5
    fan = recon.FanBeam(angles, 16, 0.5, 16, 0.5, sod=100.0, sdd=400.0)
    assert row_pitch(fan) == pytest.approx(0.125)


@pytest.fixture
def scan_file(tmp_path):
    return write_dxchange(tmp_path / "scan.h5", line_integrals(shape=(12, N_ROWS, 16)))


def _alone(path, row):
    scan = recon.read_scan(path, rows=row, det_spacing=0.5)
    return recon.fbp(scan.sinogram, scan.geometry)


def test_every_row_becomes_one_slice_of_one_volume(scan_file, tmp_path):
    out = tmp_path / "vol.tif"
    assert main(["reconstruct", str(scan_file), "--out", str(out), "--det-spacing", "0.5"]) == 0
    volume, meta = read_volume(out)
    assert volume.shape == (N_ROWS, 16, 16) and volume.dtype == np.float32
    for row in range(N_ROWS):
        np.testing.assert_allclose(volume[row], _alone(scan_file, row), rtol=1e-5, atol=1e-6)
    assert meta["units"] == "1/mm" and meta["voxel_size_mm"] == [0.5, 0.5, 0.5]
    assert "slice by slice; detector rows 0–2" in meta["method"]
    assert (tmp_path / "vol.png").stat().st_size > 5_000


def test_slices_reads_only_those_rows_into_an_hdf5_volume(scan_file, tmp_path):
    out = tmp_path / "vol.h5"
    assert main(["reconstruct", str(scan_file), "--out", str(out), "--det-spacing", "0.5", "--slices", "1:3"]) == 0
    volume, meta = read_volume(out)
    assert volume.shape == (2, 16, 16)
    for k, row in enumerate((1, 2)):
        np.testing.assert_allclose(volume[k], _alone(scan_file, row), rtol=1e-5, atol=1e-6)
    assert "detector rows 1–2" in meta["method"]


def test_a_scan_without_pixel_size_gives_a_volume_in_pixels(scan_file, tmp_path):
    assert main(["reconstruct", str(scan_file), "--out", str(tmp_path / "o")]) == 0
    volume, meta = read_volume(tmp_path / "o" / "scan.tif")
    assert meta["units"] == "1/px" and meta["length_unit"] == "px" and volume.shape[0] == N_ROWS


def test_a_count_of_slices_is_for_cone_beam_and_bad_ranges_name_the_flag(scan_file, tmp_path, capsys):
    assert main(["reconstruct", str(scan_file), "--out", str(tmp_path / "o"), "--slices", "2"]) != 0
    assert "--slices K sets the volume of cone-beam scans" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reconstruct", str(scan_file), "--out", str(tmp_path / "o"), "--slices", "3:1"])
    assert "argument --slices: the row range A:B needs 0 <= A < B" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
