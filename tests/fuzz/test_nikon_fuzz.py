"""The Nikon XT reader (``.xtekct`` + TIFF projections) under corruption: byte-level damage of the settings file and
of a projection (truncation, bit flips, zeroed blocks, garbage), every geometry key removed or set to an impossible
value, hostile folder names and memory bombs. Every case either reads — projections of the declared shape, finite,
and equal to the pristine scan where only the settings' text changed harmlessly — or raises one
:class:`recon.io.ScanFormatError` (or, for a memory bomb, ``NotEnoughMemory``) whose single line starts with the
file; nothing else (no other exception type, no
hang, no traceback from the command line). ``RECON_FUZZ_LONG=1`` runs five seeds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from recon.io import read_nikon

from ..io.test_nikon import SETTINGS, write_scan
from .bytelevel import append_garbage, flip_bit, flip_structural_bit, truncate, zero_block
from .one_line import read_or_refuse

KEYS = ("SrcToObject", "SrcToDetector", "DetectorPixelsX", "DetectorPixelsY", "DetectorPixelSizeX",
        "DetectorPixelSizeY", "Projections", "AngularStep", "WhiteLevel", "DetectorOffsetX", "CentreOfRotationTop",
        "InitialAngle", "Name")
VALUES = ("", "nan", "inf", "-1", "0", "1e300", "abc", "3.5", "99999999")
SEEDS = range(5) if os.environ.get("RECON_FUZZ_LONG") else range(1)


def _settings_edit(path, key, value) -> None:
    """Remove ``key`` from the [XTekCT] section, or set it to ``value`` (right under the section's header)."""
    lines = [line for line in path.read_text().splitlines() if not line.startswith(key + "=")]
    at = lines.index("[XTekCT]") + 1
    path.write_text("\n".join(lines[:at] + ([] if value is None else [f"{key}={value}"]) + lines[at:]) + "\n")


def _cases(rng: np.random.Generator):
    """(label, corruption(folder, settings path)) pairs."""
    for key in KEYS:
        yield f"{key} removed", lambda d, p, k=key: _settings_edit(p, k, None)
        for value in VALUES:
            yield f"{key}={value!r}", lambda d, p, k=key, v=value: _settings_edit(p, k, v)
    for fraction in (0.0, 0.3, 0.7, 0.99):
        yield f"settings truncated to {fraction}", lambda d, p, f=fraction: truncate(p, f)
        yield f"projection truncated to {fraction}", lambda d, p, f=fraction: truncate(d / "part_0003.tif", f)
    for k in range(6):
        yield f"settings structural bit {k}", lambda d, p: flip_structural_bit(p, rng)
        yield f"projection header bit {k}", lambda d, p: flip_bit(d / "part_0005.tif", rng, "header", None)
        yield f"projection payload bit {k}", lambda d, p: flip_bit(d / "part_0005.tif", rng, "payload", None)
        yield f"projection zeroed header {k}", lambda d, p: zero_block(d / "part_0002.tif", rng, "header", None)
    yield "settings garbage", lambda d, p: append_garbage(p, rng)
    yield "projection garbage", lambda d, p: append_garbage(d / "part_0001.tif", rng)
    yield "projection is a folder", lambda d, p: ((d / "part_0004.tif").unlink(), (d / "part_0004.tif").mkdir())
    yield "projection is a FIFO", lambda d, p: ((d / "part_0004.tif").unlink(), os.mkfifo(d / "part_0004.tif"))
    yield "projection missing", lambda d, p: (d / "part_0040.tif").unlink()
    yield "settings is binary", lambda d, p: p.write_bytes(bytes(range(256)) * 4)
    yield "settings huge", lambda d, p: p.write_bytes(b"[XTekCT]\n" + b"x" * (2 << 20))
    for folder in ("../elsewhere", "/etc", "sub/../../x", "nonexistent"):
        yield f"InputFolderName={folder}", lambda d, p, f=folder: _settings_edit(p, "InputFolderName", f)
    yield "memory bomb", lambda d, p: (_settings_edit(p, "DetectorPixelsX", 30000),
                                       _settings_edit(p, "DetectorPixelsY", 30000))
    yield "angle table short", lambda d, p: (d / "_ctdata.txt").write_text("1 0\n2 1\n")
    yield "angle table nan", lambda d, p: (d / "_ctdata.txt").write_text(
        "".join(f"{k + 1} {'nan' if k == 7 else k}\n" for k in range(40)))
    yield "angle table constant", lambda d, p: (d / "_ctdata.txt").write_text("".join(f"{k + 1} 5.0\n" for k in range(40)))


@pytest.mark.parametrize("seed", SEEDS)
def test_every_corruption_reads_or_fails_in_one_line(tmp_path, seed):
    pristine_dir = tmp_path / "pristine"
    path, _, _ = write_scan(pristine_dir)
    pristine = read_nikon(path).projections
    rng = np.random.default_rng(seed)
    outcomes = {"read": 0, "refused": 0}
    cases = list(_cases(rng))
    assert len(cases) >= 150
    for i, (label, corrupt) in enumerate(cases):
        d = tmp_path / f"case{i}"
        shutil.copytree(pristine_dir, d)
        p = d / "part.xtekct"
        corrupt(d, p)
        scan = read_or_refuse(lambda: read_nikon(p), d, label)
        if scan is None:
            outcomes["refused"] += 1
            continue
        outcomes["read"] += 1
        assert scan.projections.shape[1:] == pristine.shape[1:] and np.isfinite(scan.projections).all(), label
        if label.startswith(("InitialAngle", "DetectorOffsetX", "CentreOfRotationTop", "settings garbage")):
            assert np.array_equal(scan.projections, pristine), label  # the geometry changed, not the data
        assert np.ptp(scan.geometry.angles) > 0 and np.abs(scan.geometry.angles).max() < 2e3, label
    assert outcomes["refused"] > 50 and outcomes["read"] > 5, outcomes


def test_the_command_line_gives_one_line_and_no_traceback(tmp_path):
    path, _, _ = write_scan(tmp_path)
    truncate(tmp_path / "part_0003.tif", 0.5)
    for command in (["info", str(path)], ["reconstruct", str(path), "--out", str(tmp_path / "v.tif")]):
        r = subprocess.run([sys.executable, "-m", "recon", *command], capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and "part_0003.tif" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / "v.tif").exists()
    assert SETTINGS["Projections"] == 40
