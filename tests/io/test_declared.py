"""Compression bombs: a small file that declares far more data than it stores is refused from its header —
declared shape against the geometry, and the memory the read needs — before anything is decoded."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
import tifffile

from recon.io import ScanFormatError, read_scan
from recon.io.formats.declared import check_declared, declared_shape

from .files import N_DET, N_VIEWS, parallel_table

BIG = (3000, 3000)  # 9 MB of zeros, a few kB compressed


def _no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the data were decoded")
    monkeypatch.setattr(tifffile, "imread", refuse)
    monkeypatch.setattr(scipy.io, "loadmat", refuse)
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", refuse)
    monkeypatch.setattr(h5py.Dataset, "__getitem__", refuse)


def _bombs(tmp_path):
    zeros = np.zeros(BIG, np.uint8)
    tifffile.imwrite(tmp_path / "bomb.tif", zeros, compression="zlib")
    np.savez_compressed(tmp_path / "bomb.npz", sino=zeros)
    scipy.io.savemat(tmp_path / "bomb.mat", {"sino": zeros}, do_compression=True)
    with h5py.File(tmp_path / "bomb.h5", "w") as f:
        f.create_dataset("sino", data=zeros, compression="gzip", chunks=(500, 500))
    return [tmp_path / "bomb.tif", tmp_path / "bomb.npz", tmp_path / "bomb.mat", tmp_path / "bomb.h5"]


def test_declared_shapes_are_read_from_the_headers(tmp_path):
    for path in _bombs(tmp_path):
        assert path.stat().st_size < 200_000
        assert declared_shape(path, None) == (BIG, 1)
    np.save(tmp_path / "a.npy", np.zeros((5, 7), np.float32))
    assert declared_shape(tmp_path / "a.npy", None) == ((5, 7), 4)


def test_a_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    bombs = _bombs(tmp_path)
    _no_decoding(monkeypatch)
    for path in bombs:
        with pytest.raises(ScanFormatError, match=f"the data give 3000 views × 3000 detector elements but the "
                                                  f"geometry has {N_VIEWS} views × {N_DET} elements"):
            read_scan(path, geometry=parallel_table())


def test_a_read_larger_than_memory_is_refused_from_the_header(monkeypatch):
    monkeypatch.setattr("recon._checks.available_memory", lambda: 2 ** 30)
    geometry = pytest.importorskip("recon").ParallelBeam(np.linspace(0, np.pi, 100, endpoint=False), n_det=1000,
                                                          det_spacing=1.0, image_size=8, pixel_size=1.0)
    with pytest.raises(Exception, match=r"declared shape \(100, 2000, 1000\) needs 2.98 GiB of memory, 1 GiB"):
        check_declared("x.tif", ((100, 2000, 1000), 2), geometry, lambda ndim: ("views", "rows", "det"))
    check_declared("x.tif", ((100, 20, 1000), 2), geometry, lambda ndim: ("views", "rows", "det"))


def test_what_tifffile_logs_becomes_one_warning_or_part_of_the_error(tmp_path, capsys):
    """tifffile logs (rather than raises) on some damaged files: never a stray stderr line; a warning naming the
    file where the read succeeds anyway, nothing extra where it fails (the error says it)."""
    import logging
    import warnings

    from recon.io.formats.common import reading
    from recon.io.plausibility import ScanWarning

    with pytest.warns(ScanWarning, match=r"x\.tif: the TIFF file looks damaged \(read anyway\): invalid page offset 7"):
        with reading(tmp_path / "x.tif", "TIFF file"):
            logging.getLogger("tifffile").warning("invalid page offset 7")
            logging.getLogger("tifffile").warning("invalid page offset 7")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ScanFormatError, match="cannot read TIFF file: ValueError: truncated"):
            with reading(tmp_path / "x.tif", "TIFF file"):
                logging.getLogger("tifffile").warning("invalid page offset 7")
                raise ValueError("truncated")
    assert capsys.readouterr().err == ""
