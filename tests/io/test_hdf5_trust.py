"""An HDF5 file may make recon read only itself: external raw storage, external links and virtual datasets that
point to other files are refused in one line (a crafted 1 kB scan once reconstructed the password file), unless
``RECON_HDF5_EXTERNAL=beside`` allows regular files in the same folder; a FIFO is never opened (no hang), and a
virtual dataset inside the file reads correctly."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from recon.app.cli import main
from recon.io import ScanFormatError, read_scan
from recon.io.formats.h5trust import ENV
from recon.simulation.dataset import SimulatedDataset

from .files import line_integrals, write_dxchange


@pytest.fixture
def scan(tmp_path):
    """A valid Data Exchange scan and its raw ``exchange/data`` array."""
    path = write_dxchange(tmp_path / "good.h5", line_integrals())
    with h5py.File(path, "r") as f:
        raw = f["exchange/data"][()]
    return path, raw


def _with_data(scan, out, make):
    """A copy of ``scan`` whose ``exchange/data`` is made by ``make(f, raw)``."""
    path, raw = scan
    with h5py.File(path, "r") as src, h5py.File(out, "w") as f:
        for name in ("exchange/data_white", "exchange/data_dark", "exchange/theta"):
            if name in src:
                f[name] = src[name][()]
        make(f, raw)
    return out


def _external_storage(target, raw):
    def make(f, _):
        f.create_dataset("exchange/data", shape=raw.shape, dtype=raw.dtype,
                         external=[(str(target), 0, h5py.h5f.UNLIMITED)])
    return make


def test_external_raw_storage_is_refused_and_never_read(tmp_path, scan, monkeypatch, capsys):
    monkeypatch.delenv(ENV, raising=False)
    secret = tmp_path / "elsewhere" / "secret.bin"
    secret.parent.mkdir()
    secret.write_bytes(np.arange(10 ** 5, dtype=np.float32).tobytes())
    (tmp_path / "in").mkdir()
    bad = _with_data(scan, tmp_path / "in" / "bad.h5", _external_storage(secret, scan[1]))
    with pytest.raises(ScanFormatError, match=r"stored in the external file .*secret\.bin.* RECON_HDF5_EXTERNAL"):
        read_scan(bad)
    out = tmp_path / "out"
    assert main(["reconstruct", str(bad), "--out", str(out)]) != 0
    assert not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "external file" in err[0]
    # opting in allows the folder of the file only: an absolute path elsewhere stays refused
    monkeypatch.setenv(ENV, "beside")
    with pytest.raises(ScanFormatError, match="plain file name"):
        read_scan(bad)


def test_external_storage_on_a_fifo_is_refused_without_opening_it(tmp_path, scan, monkeypatch):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    bad = _with_data(scan, tmp_path / "bad.h5", _external_storage("pipe", scan[1]))
    monkeypatch.setenv(ENV, "beside")  # even opted in: only regular files
    with pytest.raises(ScanFormatError, match="no regular file"):
        read_scan(bad)
    assert main(["info", str(bad)]) != 0
    assert main(["info", str(fifo)]) != 0


def test_external_storage_beside_the_file_reads_when_opted_in(tmp_path, scan, monkeypatch):
    (tmp_path / "raw.bin").write_bytes(np.ascontiguousarray(scan[1]).tobytes())
    path = _with_data(scan, tmp_path / "split.h5", _external_storage("raw.bin", scan[1]))
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ScanFormatError, match="external file 'raw.bin'"):
        read_scan(path)
    monkeypatch.setenv(ENV, "beside")
    monkeypatch.chdir(tmp_path.parent)  # resolved beside the file, not against the current folder
    np.testing.assert_array_equal(read_scan(path).sinogram, read_scan(scan[0]).sinogram)
    monkeypatch.setenv(ENV, "yes please")
    with pytest.raises(ValueError, match="RECON_HDF5_EXTERNAL='yes please'"):
        read_scan(path)


def test_external_link_is_refused_unless_opted_in_and_beside(tmp_path, scan, monkeypatch):
    with h5py.File(tmp_path / "frames.h5", "w") as f:
        f["data"] = scan[1]
    path = _with_data(scan, tmp_path / "linked.h5",
                      lambda f, raw: f.__setitem__("exchange/data", h5py.ExternalLink("frames.h5", "/data")))
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ScanFormatError, match=r"/exchange/data is an external link to the file 'frames.h5'"):
        read_scan(path)
    monkeypatch.setenv(ENV, "beside")
    np.testing.assert_array_equal(read_scan(path).sinogram, read_scan(scan[0]).sinogram)
    os.mkfifo(tmp_path / "fifo.h5")
    hang = _with_data(scan, tmp_path / "hang.h5",
                      lambda f, raw: f.__setitem__("exchange/data", h5py.ExternalLink("fifo.h5", "/data")))
    with pytest.raises(ScanFormatError, match="no regular file"):
        read_scan(hang)


def _virtual(source_file, shape, dtype):
    def make(f, raw):
        if source_file == ".":
            f["raw"] = raw
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[:] = h5py.VirtualSource(source_file, "raw" if source_file == "." else "/data", shape=shape)
        f["exchange"].create_virtual_dataset("data", layout) if "exchange" in f else \
            f.create_group("exchange").create_virtual_dataset("data", layout)
    return make


def test_virtual_dataset_in_the_file_reads_and_one_elsewhere_is_refused(tmp_path, scan, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    raw = scan[1]
    inside = _with_data(scan, tmp_path / "vds.h5", _virtual(".", raw.shape, raw.dtype))
    np.testing.assert_array_equal(read_scan(inside).sinogram, read_scan(scan[0]).sinogram)
    with h5py.File(tmp_path / "frames.h5", "w") as f:
        f["data"] = raw
    outside = _with_data(scan, tmp_path / "vds_out.h5", _virtual("frames.h5", raw.shape, raw.dtype))
    with pytest.raises(ScanFormatError, match=r"virtual dataset /exchange/data is mapped from the file 'frames.h5'"):
        read_scan(outside)
    monkeypatch.setenv(ENV, "beside")
    np.testing.assert_array_equal(read_scan(outside).sinogram, read_scan(scan[0]).sinogram)


def test_simulated_dataset_with_an_external_link_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    (tmp_path / "secret.h5").touch()
    path = tmp_path / "sim.h5"
    with h5py.File(path, "w") as f:
        f["sinograms"] = h5py.ExternalLink("secret.h5", "/x")
    with pytest.raises(ValueError, match="external link"):
        SimulatedDataset(path)
