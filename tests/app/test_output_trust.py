"""Outputs stay where they belong: names made from input names never leave the output folder, no command writes
over or into anything it reads (sidecar, flats, stack folders and patterns), even with --force, and only regular
files are ever replaced (never a device, a pipe or a folder; a dangling link is named as such)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile

from recon.app.cli import main
from recon import project
from recon.io import geometry_from_table, read_scan
from recon.io.atomic import check_distinct, check_writable, output_name

from ..io.files import N_DET, N_VIEWS, parallel_table, write_sidecar


def _scan(folder, name="scan.npy", raw=False):
    """A small parallel-beam ``.npy`` scan with its sidecar (raw counts with a flat-field TIFF when ``raw``)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = parallel_table(90, 64)
    yy, xx = np.mgrid[:64, :64] - 31.5
    disc = 0.02 * (np.hypot(yy, xx) < 20) + 0.02 * (np.hypot(yy - 5, xx) < 6)  # 1/mm, pixels of 0.5 mm
    p = project(disc, geometry_from_table(table))
    path = folder / name
    if raw:
        tifffile.imwrite(folder / "flat.tif", np.full((1, 64), 1000.0, np.float32))
        np.save(path, (1000.0 * np.exp(-p)).astype(np.float32))
        write_sidecar(folder / (name + ".toml"), {"values": "raw", "flat": "flat.tif"}, table)
    else:
        np.save(path, p)
        write_sidecar(folder / (name + ".toml"), None, table)
    return path


@pytest.mark.parametrize("stem, name", [("..", "_."), ("...", "_.."), (".", "_"), ("a/b", "a_b"), ("", "scan"),
                                        ("x\0y\n", "x_y_"), (".hidden", "_hidden"), ("scan 1", "scan 1")])
def test_output_name_stays_inside_the_folder(stem, name):
    assert output_name(stem) == name
    assert os.path.dirname(os.path.join("out", output_name(stem))) == "out"


def test_a_scan_named_dots_writes_inside_out(tmp_path):
    data = tmp_path / "data"
    dots = _scan(data, "...npy")  # stem ".."
    out = tmp_path / "parent" / "out"
    out.parent.mkdir()
    assert main(["reconstruct", str(dots), str(_scan(data, "b.npy")), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["_..png", "_..tif", "b.png", "b.tif"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # nothing escaped into the parent
    (out.parent / "report.md").write_text("mine")
    report = out.parent / "compare"
    assert main(["compare", str(dots), str(data / "b.npy"), "--out", str(report)]) == 0
    assert sorted(p.name for p in report.iterdir() if p.is_dir()) == ["_.", "b"]
    assert (out.parent / "report.md").read_text() == "mine"


def test_outputs_never_write_into_or_over_inputs(tmp_path, capsys):
    scan = _scan(tmp_path / "raw", raw=True)
    flat = tmp_path / "raw" / "flat.tif"
    assert str(flat) in read_scan(scan).info["inputs"] and str(scan) + ".toml" in read_scan(scan).info["inputs"]
    before = flat.read_bytes()
    assert main(["reconstruct", str(scan), "--out", str(flat), "--force"]) != 0  # the sidecar's flat field
    assert flat.read_bytes() == before and "is the input" in capsys.readouterr().err
    # a TIFF stack read from its folder: writing into that folder would change the scan it reads
    stack = tmp_path / "stack"
    stack.mkdir()
    p = np.random.default_rng(1).uniform(0.0, 2.0, (N_VIEWS, N_DET)).astype(np.float32)
    for k in range(N_VIEWS):
        tifffile.imwrite(stack / f"proj_{k:03d}.tif", p[k:k + 1])
    write_sidecar(tmp_path / "stack.toml", {"file": "stack", "axes": "views,rows,det"}, parallel_table())
    names = sorted(os.listdir(stack))
    for out in (stack, stack / "rec.tif"):
        assert main(["reconstruct", str(tmp_path / "stack.toml"), "--out", str(out), "--force"]) != 0
        assert "would join the input" in capsys.readouterr().err
    assert sorted(os.listdir(stack)) == names
    with pytest.raises(ValueError, match="would join the input"):
        check_distinct([tmp_path / "g" / "proj_999.tif"], [tmp_path / "g" / "proj_*.tif"])
    check_distinct([tmp_path / "g" / "rec.png"], [tmp_path / "g" / "proj_*.tif"])  # another name: fine


def test_only_regular_files_are_replaced(tmp_path):
    for special in (tmp_path, "/dev/null"):
        with pytest.raises(ValueError, match="not a regular file"):
            check_writable(special, force=True)
    fifo = tmp_path / "pipe.tif"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        check_writable(fifo, force=True)
    dangling = tmp_path / "rec.tif"
    dangling.symlink_to(tmp_path / "missing.tif")
    with pytest.raises(ValueError, match="symbolic link to a missing file"):
        check_writable(dangling)
    assert main(["reconstruct", str(_scan(tmp_path / "d")), "--out", str(fifo), "--force"]) != 0
    assert fifo.is_fifo()


def test_an_output_below_a_file_is_named(tmp_path, capsys):
    data = _scan(tmp_path / "d")
    for out in (data / "rec.tif", data / "sub" / "rec.tif"):
        with pytest.raises(ValueError, match=f"{data} is a file, not a folder"):
            check_writable(out, force=True)
    other = tmp_path / "d" / "notes.nxs"  # a file whose suffix is not refused as such: taken as a folder --out
    other.write_bytes(b"kept")
    assert main(["reconstruct", str(data), "--out", str(other), "--force"]) == 2
    assert f"{other} is a file, not a folder" in capsys.readouterr().err
    assert other.read_bytes() == b"kept"


def test_a_full_disk_is_named_and_nothing_is_left(tmp_path):
    from recon.io.atomic import atomic_output

    target = tmp_path / "rec.tif"
    with pytest.raises(OSError, match=r"rec.tif: the disk is full .*nothing was written"):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError("147456 requested and 86760 written")  # numpy's message on a full disk
    assert list(tmp_path.iterdir()) == []
    import errno
    with pytest.raises(OSError, match="the disk is full"):
        with atomic_output(target):
            raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(OSError, match="Permission denied"):  # other errors pass unchanged
        with atomic_output(target):
            raise PermissionError(errno.EACCES, "Permission denied")
