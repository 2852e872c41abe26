"""Crafted or careless input to the CLI gets one clear line: deeply nested or huge TOML, lengths no scanner has,
a sidecar naming a missing file, a model with a method that would ignore it; a closed pipe ends quietly."""

from __future__ import annotations

import io

import numpy as np
import pytest

import recon
from recon.app.cli import main
from recon.io import load_toml, parse_toml, read_scan

from ..io.files import parallel_table, write_sidecar


@pytest.mark.parametrize("text", ["a = " + "[" * 5000 + "]" * 5000, "x = " + "{a = " * 3000 + "1" + "}" * 3000,
                                  "a = " + "[" * 40 + "]" * 40])
def test_deeply_nested_toml_is_one_line(tmp_path, capsys, text):
    with pytest.raises(ValueError, match="nested more than 16 deep"):
        parse_toml(text, "x.toml")
    (tmp_path / "deep.toml").write_text(text)
    assert main(["train", "--config", str(tmp_path / "deep.toml"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nested more than 16 deep" in err[0] and not (tmp_path / "run").exists()


def test_huge_or_binary_toml_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:
        f.truncate(17 * 2 ** 20)
    with pytest.raises(ValueError, match="too large for a TOML"):
        load_toml(big)
    (tmp_path / "bin.toml").write_bytes(b"a = 1\n\xff\xfe")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        load_toml(tmp_path / "bin.toml")


@pytest.mark.parametrize("key, value", [("pixel_size", 1e-320), ("det_spacing", 1e-9), ("pixel_size", 1e30),
                                        ("det_offset", 1e12)])
def test_lengths_no_scanner_has_are_refused(key, value):
    kwargs = {"n_det": 8, "det_spacing": 1.0, "image_size": 8, "pixel_size": 1.0, key: value}
    with pytest.raises(ValueError, match=rf"{key} must lie in \[.*\] mm"):
        recon.ParallelBeam(np.linspace(0, np.pi, 4, endpoint=False), **kwargs)
    with pytest.raises(ValueError, match=key):
        recon.FanBeam(np.linspace(0, 2 * np.pi, 4, endpoint=False), sod=100.0, sdd=150.0, **kwargs)


def _scan(tmp_path):
    path = tmp_path / "scan.npy"
    np.save(path, np.zeros((12, 16)))
    write_sidecar(tmp_path / "scan.npy.toml", None, parallel_table(12, 16))
    return path


def test_a_sidecar_naming_a_missing_file_says_so(tmp_path):
    path = _scan(tmp_path)
    write_sidecar(tmp_path / "scan.npy.toml", {"file": "other.npy"}, parallel_table(12, 16))
    with pytest.raises(ValueError, match="names the data file .*other.npy, which does not exist"):
        read_scan(path)


def test_a_model_is_never_ignored(tmp_path, capsys):
    path = _scan(tmp_path)
    assert main(["reconstruct", str(path), "--method", "fbp", "--model", "run", "--out", str(tmp_path / "o")]) == 2
    assert "--model is used by --method learned only" in capsys.readouterr().err
    assert main(["reconstruct", str(path), "--model", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "no such model file" in capsys.readouterr().err  # --model alone means --method learned
    assert not (tmp_path / "o").exists()


class _ClosedPipe(io.TextIOWrapper):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_quietly(tmp_path, monkeypatch, capsys):
    path = _scan(tmp_path)
    with open(tmp_path / "stdout", "wb") as raw:
        monkeypatch.setattr("sys.stdout", _ClosedPipe(raw))
        assert main(["info", str(path)]) == 141
    assert capsys.readouterr().err == ""


def test_reconstruct_options_that_would_mislead(tmp_path, capsys):
    path = _scan(tmp_path)
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "x.png")]) == 2
    assert "give such a file or a folder" in capsys.readouterr().err and not (tmp_path / "x.png").exists()
    for arc in ("0:400", "90:90", "10:-20", "0:nan"):
        with pytest.raises(SystemExit):
            main(["reconstruct", str(path), "--out", str(tmp_path / "o"), "--angles", arc])
        assert "at most 360° (one turn)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reconstruct", "--help"])
    assert "ram-lak, shepp-logan, cosine, hamming, hann" in " ".join(capsys.readouterr().out.split())


def test_a_scan_without_a_pixel_size_is_written_in_pixels_unless_det_spacing_is_given(tmp_path, capsys):
    """A DataExchange scan that records no pixel size: the TIFF says 1/px (and claims no physical resolution),
    the preview's axes are in px; with --det-spacing the same scan is in mm and μ scales by 1/pitch."""
    import json

    import tifffile

    from ..io.files import line_integrals, write_dxchange

    path = write_dxchange(tmp_path / "scan.h5", line_integrals())
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "px")]) == 0
    assert "no pixel size recorded: lengths in detector pixels, μ per pixel" in capsys.readouterr().out
    with tifffile.TiffFile(tmp_path / "px" / "scan.tif") as tif:  # a volume of the scan's rows
        meta = json.loads(tif.pages[0].description)
        assert meta["units"] == "1/px" and meta["length_unit"] == "px" and meta["voxel_size_px"][1:] == [1.0, 1.0]
        assert tif.pages[0].tags.get("ResolutionUnit") is None or tif.pages[0].tags["ResolutionUnit"].value != 3  # no cm
        pixels = tif.asarray()
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "mm"), "--det-spacing", "0.5"]) == 0
    with tifffile.TiffFile(tmp_path / "mm" / "scan.tif") as tif:
        meta = json.loads(tif.pages[0].description)
        assert meta["units"] == "1/mm" and meta["voxel_size_mm"] == [0.5, 0.5, 0.5]
        millimetres = tif.asarray()
    np.testing.assert_allclose(millimetres, pixels / 0.5, rtol=1e-4, atol=1e-5 * float(np.abs(pixels).max()))


def test_a_misspelled_option_gets_the_subcommands_usage_and_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["reconstruct", "scan.mat", "--fitler", "hann", "--out", "x.tif"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "usage: recon reconstruct" in err and "unrecognized arguments: --fitler hann (did you mean --filter?)" in err
    with pytest.raises(SystemExit):
        main(["--bogus"])
    assert "recon: error: unrecognized arguments: --bogus" in capsys.readouterr().err
