"""The command line: --help, --version, demo and its overwrite protection."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import recon
from recon.app.cli import main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert recon.__version__ in capsys.readouterr().out
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


@pytest.mark.slow
def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "recon", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"recon {recon.__version__}"


@pytest.mark.slow
def test_demo_runs_end_to_end_on_the_bundled_scan_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--views", "30", "--n-train", "32", "--epochs", "4"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "estimated photon count" in text and "FBP ram-lak" in text and "learned LearnedFBP (filter)" in text
    report = out / "report"
    assert (report / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scores = json.loads((report / "metrics.json").read_text())["scores"]
    oracle = scores["fbp_tuned_oracle"]
    assert oracle["segmentation_mcc"] > 0.95  # a well-filtered FBP finds the holes of the real disc from 30 views
    learned = scores["model_1"]
    assert learned["psnr"] > scores["fbp_ram_lak"]["psnr"] + 1.0  # trained on simulations, better on the real scan
    stamp = (report / "report.md").stat().st_mtime_ns
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert (report / "report.md").stat().st_mtime_ns == stamp
    assert not [p for p in out.rglob(".*.tmp*")]  # no temporary files left behind


@pytest.mark.parametrize("command", [["compare", "scan.mat"], ["evaluate", "--model", "run", "--data", "test.h5"]])
def test_an_unknown_region_is_one_error_line_naming_the_flag(command, tmp_path, capsys):
    """``--region`` is checked before anything is read or computed: one ``recon <command>: error:`` line that
    names the flag and the regions there are, exit status 2, nothing written."""
    out = tmp_path / "out"
    assert main(command + ["--region", "bogus", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"recon {command[0]}: error: --region must be one of fov, square, got 'bogus'\n"
    assert not out.exists()
    with pytest.raises(SystemExit):
        main([command[0], "--help"])
    assert "--region {fov,square}" in capsys.readouterr().out


def test_quiet_and_verbose_set_what_a_command_says(tmp_path, capsys):
    """Notes (what was chosen, what was written) on stdout by default; --quiet: none, but a warning about the data
    still on stderr; --verbose: details too (the format and geometry read). The library itself prints nothing."""
    import logging

    from .test_centre_cli import _scan

    path, _, _ = _scan(tmp_path)  # its geometry puts the rotation centre off the data's: a warning
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "default.tif")]) == 0
    default = capsys.readouterr()
    assert "wrote" in default.out and "warning:" in default.err
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "quiet.tif"), "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert quiet.out == "" and "warning:" in quiet.err and (tmp_path / "quiet.tif").is_file()
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "loud.tif"), "-v"]) == 0
    loud = capsys.readouterr().out
    assert "wrote" in loud and "120 views × 96 elements" in loud and "ParallelBeam(" in loud
    assert logging.getLogger("recon").handlers == []  # the command line's handler is gone after the command
    with pytest.raises(SystemExit):
        main(["reconstruct", str(path), "--out", str(tmp_path / "x.tif"), "-q", "-v"])
    assert "not allowed with argument" in capsys.readouterr().err
