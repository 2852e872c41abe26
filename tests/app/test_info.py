"""recon info: a readable summary of a scan file, one clean error line for a bad one."""

from __future__ import annotations

import numpy as np

from recon.app.cli import main

from ..io.files import (HTC, N_DET, N_ROWS, N_VIEWS, line_integrals, needs_htc, write_dxchange, write_sidecar)


def test_cli_info_prints_the_scan_and_fails_cleanly(tmp_path, capsys):
    path = write_dxchange(tmp_path / "scan.h5", line_integrals())
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"({N_ROWS}, {N_VIEWS}, {N_DET})" in out and "dxchange-hdf5" in out and "raw counts" in out
    assert "full scan" in out and "rotation centre" in out and "ParallelBeam" in out
    np.save(tmp_path / "sino.npy", np.zeros((N_VIEWS, N_DET), np.float32))
    sidecar = write_sidecar(tmp_path / "g.toml")
    assert main(["info", str(tmp_path / "sino.npy"), "--geometry", str(sidecar)]) == 0
    assert "already log-transformed" in capsys.readouterr().out
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"not an hdf5 file")
    assert main(["info", str(corrupt)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"recon info: error: {corrupt}: ") and "\n" not in err


@needs_htc
def test_cli_info_on_htc(capsys):
    assert main(["info", str(HTC / "htc2022_ta_full.mat")]) == 0
    out = capsys.readouterr().out
    assert "(720, 560)" in out and "FanBeam" in out and "dropped the last view" in out

