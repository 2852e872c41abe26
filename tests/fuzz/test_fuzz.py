"""pytest entry of the fuzz suite: at least 300 cases and no failing command run.

The full run takes about two minutes (``RECON_FUZZ_LONG=1``: five rounds with other seeds, ~5× longer) and
is marked ``slow``; the checks of the generator and the classification below are quick.
"""

from __future__ import annotations

import numpy as np
import pytest

from .cases import Case, generate, long_mode
from .classify import Reference, Run, classify
from .corruptions import CORRUPTIONS
from .harness import run_suite
from .layouts import LAYOUTS

MIN_CASES = 300


@pytest.mark.slow
def test_fuzz_readers_info_and_reconstruct(tmp_path_factory, capsys):
    report = run_suite(tmp_path_factory.mktemp("fuzz"), seed=0, long=long_mode())
    with capsys.disabled():
        print("\n" + report.render())
    assert len(report.cases) >= MIN_CASES, f"only {len(report.cases)} fuzz cases"
    assert not report.failures, report.assertion_message()


def test_generator_is_deterministic_and_large_enough(tmp_path):
    first = generate(tmp_path / "a", seed=3, layouts=["dxchange", "npy"])
    again = generate(tmp_path / "b", seed=3, layouts=["dxchange", "npy"])
    assert [(c.label, c.seed, c.detail) for c in first] == [(c.label, c.seed, c.detail) for c in again]
    for a, b in zip(first, again):
        for path in a.folder.rglob("*"):
            twin = b.folder / path.relative_to(a.folder)
            if path.is_file() and not path.is_symlink():
                assert path.read_bytes() == twin.read_bytes(), path
    counts = {name: sum(len(c.variants) for c in CORRUPTIONS if c.applies(lay)) for name, lay in LAYOUTS.items()}
    assert sum(counts.values()) >= MIN_CASES, counts
    other = generate(tmp_path / "c", seed=4, layouts=["dxchange"])
    assert [c.seed for c in other] != [c.seed for c in first if c.layout == "dxchange"]


def _case(tmp_path, subprocess: bool = False) -> Case:
    return Case("npy", "pristine", "pristine", None, 0, 0, tmp_path, tmp_path / "f.npy", None,
                tmp_path / "out.tif", False, subprocess)


@pytest.mark.parametrize("run, outcome", [
    (Run(2, "recon info: error: bad file\n"), "error"),
    (Run(2, "recon info: warning: odd\nrecon info: error: bad file\n"), "error"),
    (Run(2, "recon info: error: bad\nmore text\n"), "traceback"),
    (Run(1, "Traceback (most recent call last):\nMemoryError\n"), "traceback"),
    (Run(None, exception="MemoryError: (at x.py:1)"), "traceback"),
    (Run(None, hang=True, seconds=20), "hang"),
    (Run(0, "", ("UserWarning: odd",)), "warning"),
    (Run(0, "x.py:3: UserWarning: odd\n  warnings.warn(x)\n"), "warning"),
    (Run(0, "stray output\n"), "traceback"),
])
def test_classification_of_exit_status_and_stderr(tmp_path, run, outcome):
    assert classify(_case(tmp_path), "info", run, Reference(), lambda case: None)[0] == outcome


def test_silent_success_is_checked_against_the_pristine_scan(tmp_path):
    class Scan:
        def __init__(self, sinogram, geometry):
            self.sinogram, self.geometry = sinogram, geometry

    import recon

    g = recon.ParallelBeam(np.linspace(0, np.pi, 4, endpoint=False), 5, 1.0, 5, 1.0)
    ref = Reference(np.ones((4, 5), np.float32), g)
    same = lambda case: Scan(np.ones((4, 5), np.float32), g)  # noqa: E731
    shifted = lambda case: Scan(np.ones((4, 5), np.float32), g.replace(det_offset=1.0))  # noqa: E731
    assert classify(_case(tmp_path), "info", Run(0), ref, same) == ("correct", "")
    assert classify(_case(tmp_path), "info", Run(0), ref, shifted)[0] == "wrong"
    assert classify(_case(tmp_path, subprocess=True), "info", Run(0), ref, same)[0] == "wrong"
    assert classify(_case(tmp_path), "reconstruct", Run(0), ref, same)[0] == "wrong"  # no TIFF written


def test_a_run_that_touches_what_it_did_not_write_is_wrong(tmp_path):
    from .outputs import OutTarget, breach, snapshot

    (tmp_path / "out").mkdir()
    data = tmp_path / "sino.npy"
    data.write_bytes(b"data")
    link = tmp_path / "out" / "recon.tif"
    link.symlink_to(data)
    before = snapshot(tmp_path)
    plain, dir_out = OutTarget(tmp_path / "out" / "recon.tif"), OutTarget(tmp_path / "out", is_dir=True)
    assert breach(before, snapshot(tmp_path), plain) is None
    (tmp_path / "out" / "recon.png").write_bytes(b"png")  # the preview beside --out, or anything in a folder --out
    assert breach(before, snapshot(tmp_path), plain) is None
    assert breach(before, snapshot(tmp_path), dir_out) is None
    (tmp_path / "out" / ".recon.tif.1.x.tmp.tif").write_bytes(b"left over")
    assert "written outside --out" in breach(before, snapshot(tmp_path), plain)
    assert breach(before, snapshot(tmp_path), dir_out) is None
    (tmp_path / "out" / ".recon.tif.1.x.tmp.tif").unlink()
    link.unlink()
    link.write_bytes(b"image")  # the symbolic link --out replaced by a file: allowed only where replaceable
    assert "recon.tif was changed (link → file)" in breach(before, snapshot(tmp_path), plain)
    assert breach(before, snapshot(tmp_path), OutTarget(link, replaceable=True)) is None
    data.write_bytes(b"other")
    assert "sino.npy was changed" in breach(before, snapshot(tmp_path), dir_out)
    data.unlink()
    assert "sino.npy was removed" in breach(before, snapshot(tmp_path), dir_out)
    (tmp_path / "report.md").write_text("escaped")
    data.write_bytes(b"data")
    link.unlink()
    link.symlink_to(data)
    assert "report.md was written outside --out" in breach(before, snapshot(tmp_path), dir_out)
