"""Output files: never overwritten without force, committed atomically and as a set, safe against a concurrent
writer, no temp files left by an interrupted or killed writer, outputs never written over inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from recon.io.atomic import atomic_folder, atomic_output, atomic_outputs, check_distinct


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_failed_set_leaves_nothing_and_an_existing_file_untouched(tmp_path):
    (tmp_path / "a.tif").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_outputs([tmp_path / "a.png", tmp_path / "a.tif"], force=True) as (png, tif):
            png.write_text("new preview")
            raise RuntimeError("the TIFF writer failed")
    assert (tmp_path / "a.tif").read_text() == "old" and not (tmp_path / "a.png").exists()
    assert _temps(tmp_path) == []


def test_a_set_is_committed_whole_and_a_second_writer_without_force_is_refused(tmp_path):
    with atomic_outputs([tmp_path / "a.png", tmp_path / "a.tif"]) as (png, tif):
        png.write_text("p")
        tif.write_text("t")
    assert (tmp_path / "a.png").read_text() == "p" and (tmp_path / "a.tif").read_text() == "t"
    with pytest.raises(FileExistsError, match="only with force"):
        with atomic_output(tmp_path / "a.tif") as tmp:
            tmp.write_text("x")
    assert (tmp_path / "a.tif").read_text() == "t" and _temps(tmp_path) == []


def test_of_two_concurrent_writers_without_force_exactly_one_wins(tmp_path):
    """Both pass the early existence check; the commit itself is exclusive (no check-then-rename race)."""
    barrier, outcomes = threading.Barrier(2), []

    def write(text):
        try:
            with atomic_output(tmp_path / "same.h5") as tmp:
                tmp.write_text(text)
                barrier.wait(timeout=10)  # both hold a finished temp file before either commits
            outcomes.append(text)
        except FileExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(t,)) for t in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 2 and outcomes.count("refused") == 1
    winner = next(o for o in outcomes if o != "refused")
    assert (tmp_path / "same.h5").read_text() == winner and _temps(tmp_path) == []


def test_temp_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    code = ("import os, sys\nfrom recon.io.atomic import atomic_output\n"
            f"with atomic_output({str(tmp_path / 'out.bin')!r}) as tmp:\n"
            "    tmp.write_bytes(b'partial')\n    os.kill(os.getpid(), 9)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert result.returncode == -9
    assert len(_temps(tmp_path)) == 1 and not (tmp_path / "out.bin").exists()  # SIGKILL cannot clean up ...
    with atomic_output(tmp_path / "out.bin") as tmp:  # ... the next writer of the same file does
        tmp.write_bytes(b"complete")
    assert (tmp_path / "out.bin").read_bytes() == b"complete" and _temps(tmp_path) == []


def test_sigterm_removes_the_temp_file(tmp_path):
    code = ("import os, signal, time\nfrom recon.io.atomic import atomic_output, terminate_cleanly\n"
            "terminate_cleanly()\n"
            f"with atomic_output({str(tmp_path / 'out.bin')!r}) as tmp:\n"
            "    tmp.write_bytes(b'partial')\n    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(30)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr
    assert os.listdir(tmp_path) == []


def test_a_folder_is_committed_with_its_index_last_and_rolled_back_on_failure(tmp_path):
    out = tmp_path / "report"
    with pytest.raises(RuntimeError):
        with atomic_folder(out, ["report.md"]) as stage:
            (stage / "comparison.png").write_text("figure")
            raise RuntimeError("the second figure failed")
    assert not out.exists() or list(out.iterdir()) == []
    with atomic_folder(out, ["report.md"]) as stage:
        (stage / "report.md").write_text("index")
        (stage / "a").mkdir()
        (stage / "a" / "comparison.png").write_text("figure")
    assert (out / "report.md").read_text() == "index" and (out / "a" / "comparison.png").is_file()
    assert _temps(tmp_path) == []
    with pytest.raises(FileExistsError):
        with atomic_folder(out, ["report.md"]) as stage:
            (stage / "report.md").write_text("again")
    assert (out / "report.md").read_text() == "index"


def test_outputs_over_inputs_or_over_each_other_are_refused(tmp_path):
    scan = tmp_path / "scan.tif"
    scan.write_text("data")
    with pytest.raises(ValueError, match="is the input"):
        check_distinct([tmp_path / "." / "scan.tif"], [scan])
    link = tmp_path / "alias.tif"
    link.symlink_to(scan)
    with pytest.raises(ValueError, match="is the input"):
        check_distinct([link], [scan])
    with pytest.raises(ValueError, match="same file"):
        check_distinct([tmp_path / "out" / "a.tif", tmp_path / "out" / ".." / "out" / "a.tif"])
    check_distinct([tmp_path / "b.tif"], [scan])
