"""The command line: --help, --version, demo and its overwrite protection."""

from __future__ import annotations

import subprocess
import sys

import pytest

import recon
from recon.cli import main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert recon.__version__ in capsys.readouterr().out
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "recon.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"recon {recon.__version__}"


def test_demo_writes_a_figure_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size", "64"]) == 0
    figure = out / "projection.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "fan, arc" in text and "rel. L2 vs exact line integrals" in text
    stamp = figure.stat().st_mtime_ns
    assert main(["demo", "--out", str(out), "--size", "64"]) == 2
    assert "--force" in capsys.readouterr().err
    assert figure.stat().st_mtime_ns == stamp
    assert main(["demo", "--out", str(out), "--size", "64", "--force"]) == 0
    assert list(out.iterdir()) == [figure]  # no temporary files left behind
