"""The rotation centre on the command line: reconstruct, compare and info warn when the data put the axis more
than half an element from the file's geometry; --center auto/COLUMN and --det-offset set it, and the outputs
name it; a scan that cannot tell is refused for --center auto."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tifffile

import recon
from recon.app.cli import main

from ..io.files import parallel_table, write_sidecar

N_VIEWS, N_DET, TRUE_SHIFT = 120, 96, 6.0  # the axis 6 elements left of the detector's middle
PHANTOM = [recon.Ellipse(0.02, (1.0, 2.0), (8.0, 6.0), 0.3), recon.Ellipse(-0.01, (-2.0, 0.0), (2.0, 3.0))]


def _scan(tmp_path, stop: float = 180.0):
    table = parallel_table(N_VIEWS, N_DET, angles={"start": 0.0, "stop": stop, "count": N_VIEWS, "unit": "deg"})
    g = recon.io.config.geometry_from_table(table)
    true = g.replace(det_offset=TRUE_SHIFT * g.det_spacing)
    path = tmp_path / "scan.npy"
    np.save(path, recon.ray_transform(PHANTOM, true).astype(np.float32))
    write_sidecar(tmp_path / "scan.npy.toml", None, table)
    return path, g, true


def test_a_misplaced_centre_is_warned_about_and_auto_fixes_it(tmp_path, capsys):
    path, g, true = _scan(tmp_path)
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "plain.tif")]) == 0
    err = capsys.readouterr().err
    found = re.search(r"data put the rotation centre at detector column ([0-9.]+), the geometry at 47.50", err)
    assert found and float(found.group(1)) == pytest.approx((N_DET - 1) / 2 - TRUE_SHIFT, abs=0.15)
    assert "--center auto" in err
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "auto.tif"), "--center", "auto"]) == 0
    out = capsys.readouterr()
    found = re.search(r"rotation centre at column ([0-9.]+) \(estimated, Fourier double wedge", out.out)
    assert found and float(found.group(1)) == pytest.approx(41.5, abs=0.15) and "warning" not in out.err
    with tifffile.TiffFile(tmp_path / "auto.tif") as tif:
        assert f"rotation centre at column {found.group(1)} (estimated" in tif.pages[0].description
    truth = recon.fbp(np.load(path).astype(np.float64), true)
    plain, auto = tifffile.imread(tmp_path / "plain.tif"), tifffile.imread(tmp_path / "auto.tif")
    assert np.abs(auto - truth).max() < 0.1 * np.abs(plain - truth).max()


def test_the_centre_can_be_given_and_the_check_skipped(tmp_path, capsys):
    path, g, true = _scan(tmp_path)
    column = (N_DET - 1) / 2 - TRUE_SHIFT
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "c.tif"), "--center", str(column)]) == 0
    assert f"rotation centre at column {column:g} (given)" in capsys.readouterr().out
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "d.tif"), "--det-offset",
                 str(true.det_offset)]) == 0
    assert f"det_offset {true.det_offset:g} mm (given)" in capsys.readouterr().out
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "c.tif"), tifffile.imread(tmp_path / "d.tif"))
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "k.tif"), "--center", "keep"]) == 0
    assert "warning" not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reconstruct", str(path), "--out", str(tmp_path / "x.tif"), "--center", "auto", "--det-offset", "1"])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reconstruct", str(path), "--out", str(tmp_path / "x.tif"), "--center", "middle"])
    assert "--center must be auto, keep or a detector column" in capsys.readouterr().err


def test_info_and_compare_report_the_estimate(tmp_path, capsys):
    path, g, true = _scan(tmp_path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"estimated centre: detector column 41\.[3-6]", out) and "WARNING" in out and "--center auto" in out
    assert main(["compare", str(path), "--out", str(tmp_path / "cmp")]) == 0
    assert re.search(r"data put the rotation centre at detector column 41\.[3-6]", capsys.readouterr().err)


def test_auto_on_a_scan_that_cannot_tell_is_refused(tmp_path, capsys):
    path, g, true = _scan(tmp_path, stop=100.0)
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "a.tif"), "--center", "auto"]) == 2
    assert "--center auto: the views span 100.0°" in capsys.readouterr().err
    assert not (tmp_path / "a.tif").exists()
    assert main(["info", str(path)]) == 0
    assert "estimated centre: not estimated: the views span 100.0°" in capsys.readouterr().out


def test_calibrate_writes_a_sidecar_that_reconstruct_reads(tmp_path, capsys):
    path, g, true = _scan(tmp_path)
    side = tmp_path / "calibrated.toml"
    assert main(["calibrate", str(path), "--out", str(side)]) == 0
    out = capsys.readouterr().out
    assert "rotation centre at column 41." in out and f"wrote {side}" in out
    text = side.read_text()
    assert text.startswith("# recon calibrate: the rotation centre of scan.npy estimated from its data by Fourier")
    calibrated = recon.io.config.geometry_from_table(recon.io.config.parse_toml(text)["geometry"])
    assert abs(calibrated.det_offset - true.det_offset) <= 0.15 * g.det_spacing
    assert main(["reconstruct", str(path), "--geometry", str(side), "--out", str(tmp_path / "c.tif")]) == 0
    assert "warning" not in capsys.readouterr().err
    stamp = side.stat().st_mtime_ns
    assert main(["calibrate", str(path), "--out", str(side)]) == 2
    assert "--force" in capsys.readouterr().err and side.stat().st_mtime_ns == stamp
    assert main(["calibrate", str(path), "--out", str(tmp_path / "g.png")]) == 2
    assert "give a .toml file" in capsys.readouterr().err
    limited, _, _ = _scan(tmp_path / "limited" if (tmp_path / "limited").mkdir() is None else tmp_path, stop=100.0)
    assert main(["calibrate", str(limited), "--out", str(tmp_path / "l.toml")]) == 2
    assert "the views span 100.0°" in capsys.readouterr().err and not (tmp_path / "l.toml").exists()


@pytest.mark.parametrize("method, extra", [("sirt", []), ("cgls", ["--iterations", "15"]),
                                           ("tv", ["--tv-lambda", "0.002", "--iterations", "150"])])
def test_iterative_methods_reconstruct_from_the_command_line(tmp_path, capsys, method, extra):
    path, g, true = _scan(tmp_path)
    out = tmp_path / f"{method}.tif"
    assert main(["reconstruct", str(path), "--det-offset", str(true.det_offset), "--method", method, "--out",
                 str(out)] + extra) == 0
    image = tifffile.imread(out)
    truth = recon.rasterize(PHANTOM, true)
    inside = np.hypot(*np.meshgrid(true.pixel_coords, true.pixel_coords)) < 18.0
    fbp = recon.fbp(np.load(path).astype(np.float64), true)
    error = np.sqrt(np.mean((image - truth)[inside] ** 2))
    assert error <= 3 * np.sqrt(np.mean((fbp - truth)[inside] ** 2)), error  # near FBP on these exact data
    assert error <= 0.1 * truth.max() < np.sqrt(np.mean(truth[inside] ** 2))  # a blank image would fail
    with tifffile.TiffFile(out) as tif:
        assert f'"method": "{method} (' in tif.pages[0].description


def test_iterative_options_are_checked(tmp_path, capsys):
    path, g, true = _scan(tmp_path)
    assert main(["reconstruct", str(path), "--method", "tv", "--out", str(tmp_path / "t.tif")]) == 2
    assert "method 'tv' needs its regularisation weight: --tv-lambda" in capsys.readouterr().err
    assert main(["reconstruct", str(path), "--iterations", "5", "--out", str(tmp_path / "f.tif")]) == 2
    assert "method 'fbp' would ignore them" in capsys.readouterr().err
    assert main(["reconstruct", str(path), "--method", "sirt", "--iterations", "0", "--out",
                 str(tmp_path / "s.tif")]) == 2
    assert "--iterations must be a whole number from 1" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.tif"))


def test_a_scan_in_pixel_units_says_px():
    from recon.app.centring import apply_centre, length_unit
    g = recon.ParallelBeam(np.linspace(0, np.pi, 60, endpoint=False), 48, 1.0, 48, 1.0)
    sino = recon.ray_transform(PHANTOM, g.replace(det_offset=3.0)).astype(np.float32)
    scan = recon.Scan(sino, g, info={"pixel_units": True})
    assert length_unit(scan) == "px" and length_unit(recon.Scan(sino, g)) == "mm"
    moved, note = apply_centre(scan, "scan", det_offset=3.0)
    assert note == "det_offset 3 px (given)" and moved.geometry.det_offset == 3.0
    est = recon.analytic.centre.estimate_centre(sino, g)
    text = est.describe(g, "px")
    found = re.search(r"\(det_offset \+([0-9.]+) px; .*\(det_offset \+0 px\)$", text)
    assert found and float(found.group(1)) == pytest.approx(3.0, abs=0.1), text
