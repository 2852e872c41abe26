"""recon reconstruct on the bundled real scan: FBP, a learned model, rebinning; TIFF + PNG outputs and
clear errors for bad requests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from scipy import ndimage

import recon
from recon.app.bundled import HTC_REFERENCE, HTC_SEGMENTATION, bundled_file
from recon.app.cli import main
from recon.io.references import load_reference
from recon.models import LearnedFBP, save_model

from .conftest import GRID, SCAN


def test_fbp_of_the_real_scan_is_written_as_tiff_with_its_pixel_size(tmp_path, capsys, scan):
    out = tmp_path / "ta.tif"
    assert main(["reconstruct", SCAN, "--out", str(out), "--filter", "hann", "--image-size", "128",
                 "--pixel-size", str(GRID["pixel_size"])]) == 0
    assert "wrote" in capsys.readouterr().out
    with tifffile.TiffFile(out) as tif:
        image = tif.pages[0].asarray()
        meta = json.loads(tif.pages[0].description)
    assert image.dtype == np.float32 and image.shape == (128, 128)
    assert meta["pixel_size_mm"] == pytest.approx(GRID["pixel_size"]) and meta["units"] == "1/mm"
    seg = load_reference(bundled_file(HTC_SEGMENTATION), scan.geometry)
    reference = load_reference(bundled_file(HTC_REFERENCE), scan.geometry)
    inside = ndimage.binary_erosion(seg > 0, iterations=3)
    # acrylic: the same attenuation as the organisers' reconstruction (1 %), about 0.041/mm
    assert np.median(image[inside]) == pytest.approx(np.median(reference[inside]), rel=0.01)
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    stamp = out.stat().st_mtime_ns
    assert main(["reconstruct", SCAN, "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.stat().st_mtime_ns == stamp


def test_learned_reconstruction_picks_the_model_views_and_equals_fbp_untrained(tmp_path, untrained_model, scan):
    assert main(["reconstruct", SCAN, "--method", "learned", "--model", str(untrained_model), "--out",
                 str(tmp_path / "learned.tif")]) == 0
    learned = tifffile.imread(tmp_path / "learned.tif")
    sparse = scan.select_views(count=60)
    expected = recon.fbp(sparse.sinogram, sparse.geometry, "ram-lak")
    np.testing.assert_allclose(learned, expected, rtol=0, atol=1e-6 * np.abs(expected).max())


def test_rebinning_reconstruction_runs_on_sparse_views(tmp_path):
    assert main(["reconstruct", SCAN, "--method", "rebin", "--views", "90", "--filter", "hann",
                 "--image-size", "128", "--pixel-size", str(GRID["pixel_size"]), "--out",
                 str(tmp_path / "r.tif")]) == 0
    assert np.isfinite(tifffile.imread(tmp_path / "r.tif")).all()


@pytest.mark.parametrize("args, message", [
    (["--method", "learned"], "needs --model"),
    (["--method", "learned", "--model", "missing.pt"], "missing.pt"),
    (["--method", "learned", "--views", "45"], "views are not in the data"),
])
def test_bad_reconstruct_requests_fail_clearly(tmp_path, capsys, untrained_model, args, message):
    args = [a if a != "missing.pt" else str(tmp_path / a) for a in args]
    if args[-1] == "45":
        args = args[:2] + ["--model", str(untrained_model)] + args[2:]
    assert main(["reconstruct", SCAN, "--out", str(tmp_path / "x.tif")] + args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()


def test_model_for_another_scanner_is_refused(tmp_path, capsys, scan):
    other = scan.select_views(count=60).geometry.replace(sod=400.0)
    save_model(LearnedFBP(other), tmp_path / "m.pt")
    assert main(["reconstruct", SCAN, "--method", "learned", "--model", str(tmp_path / "m.pt"), "--out",
                 str(tmp_path / "x.tif")]) == 2
    assert "sod 400 expected, got 410.66" in capsys.readouterr().err


def test_unreadable_scan_fails_with_its_name(tmp_path, capsys):
    bad = tmp_path / "broken.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    assert main(["reconstruct", str(bad), "--out", str(tmp_path / "x.tif")]) == 2
    assert "broken.mat" in capsys.readouterr().err



def _tiff_scan(path):
    """A small parallel-beam TIFF sinogram with its sidecar (``path`` may have any valid file name)."""
    from ..io.files import line_integrals, parallel_table, write_sidecar

    tifffile.imwrite(path, line_integrals(0, (12, 16)).astype(np.float32))
    write_sidecar(path.with_name(path.stem + ".toml"), {"axes": "views,det"}, parallel_table())
    return path


def test_outputs_never_overwrite_inputs_or_each_other_even_with_force(tmp_path, capsys):
    scan = _tiff_scan(tmp_path / "scan.tif")
    before = scan.read_bytes()
    assert main(["reconstruct", str(scan), "--out", str(scan), "--force"]) == 2
    assert "is the input" in capsys.readouterr().err and scan.read_bytes() == before
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    twins = [_tiff_scan(tmp_path / d / "scan.tif") for d in "ab"]
    assert main(["reconstruct", *map(str, twins), "--out", str(tmp_path / "out")]) == 2
    assert "same file" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", [b"caf\xe9 $x^2$.tif", "scan with spaces – ü.tif".encode()])
def test_file_names_are_data_in_the_preview(tmp_path, name):
    """A non-UTF-8 byte (a valid Linux file name) and TeX markup in a name neither fail nor render."""
    folder = tmp_path.as_posix().encode()
    scan = _tiff_scan(Path(os.fsdecode(folder + b"/" + name)))
    out = tmp_path / "out.tif"
    assert main(["reconstruct", str(scan), "--out", str(out)]) == 0
    assert out.is_file() and out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_a_failed_preview_leaves_no_tiff_and_a_non_finite_image_writes_nothing(tmp_path, monkeypatch, scan):
    import recon.io.outputs as outputs

    rec = outputs.Reconstruction(np.ones((8, 8), np.float32), scan.geometry.replace(image_size=8), "test")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs, "_preview", full_disk)
    with pytest.raises(OSError, match="the disk is full"):
        outputs.write_reconstruction(tmp_path / "r.tif", rec)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    bad = outputs.Reconstruction(np.full((8, 8), np.nan, np.float32), rec.geometry, "test")
    with pytest.raises(ValueError, match="64 of 64 pixels are NaN/Inf; nothing written"):
        outputs.write_reconstruction(tmp_path / "r.tif", bad)
    assert list(tmp_path.iterdir()) == []
