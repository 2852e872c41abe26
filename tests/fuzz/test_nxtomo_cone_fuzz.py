"""The cone-beam NXtomo reader under corruption: every geometry field (source and detector distances, pixel
sizes) removed, without or with foreign units, or set to an impossible value; the file's bytes truncated, flipped,
zeroed and extended. Every case either reads — projections of the pristine shape, finite, a cone-beam geometry
with positive distances and pitches — or raises one :class:`recon.io.ScanFormatError` whose single line starts
with the file; nothing else. ``RECON_FUZZ_LONG=1`` runs five seeds."""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest

from recon.io import ConeScan, read_scan

from ..io.files import N_DET, N_VIEWS, line_integrals, write_nxtomo
from ..io.test_readers import CONE_NX
from .bytelevel import append_garbage, flip_bit, truncate, zero_block
from .one_line import read_or_refuse

FIELDS = tuple(CONE_NX)
VALUES = (float("nan"), float("inf"), -1.0, 0.0, 1e300, 1e-300, "abc", [1.0, 2.0], np.zeros((0,)))
UNITS = (None, "", "furlong", "mm", "m", "nm", b"um", 3)
SEEDS = range(5) if os.environ.get("RECON_FUZZ_LONG") else range(1)


def _set(path, field, value=..., units=...) -> None:
    with h5py.File(path, "r+") as f:
        name = f"entry/instrument/{field}"
        old_units = f[name].attrs.get("units") if name in f else None
        if value is not ... or units is not ...:
            old = f[name][()] if name in f else 1.0
            if name in f:
                del f[name]
            f[name] = old if value is ... else value
            u = old_units if units is ... else units
            if u is not None:
                f[name].attrs["units"] = u
        elif name in f:
            del f[name]


def _cases(rng: np.random.Generator):
    for field in FIELDS:
        yield f"{field} removed", lambda p, fd=field: _set(p, fd)
        for value in VALUES:
            yield f"{field}={value!r}", lambda p, fd=field, v=value: _set(p, fd, value=v)
        for units in UNITS:
            yield f"{field} units={units!r}", lambda p, fd=field, u=units: _set(p, fd, units=u)
    for fraction in (0.0, 0.2, 0.5, 0.9, 0.99):
        yield f"truncated to {fraction}", lambda p, fr=fraction: truncate(p, fr)
    for k in range(6):
        yield f"header bit {k}", lambda p: flip_bit(p, rng, "header", None)
        yield f"payload bit {k}", lambda p: flip_bit(p, rng, "payload", None)
        yield f"zeroed block {k}", lambda p: zero_block(p, rng, "header", None)
    yield "garbage appended", lambda p: append_garbage(p, rng)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_corruption_reads_or_fails_in_one_line(tmp_path, seed):
    pristine_path = write_nxtomo(tmp_path / "pristine.nxs", line_integrals(shape=(N_VIEWS, 6, N_DET)), cone=CONE_NX)
    pristine = read_scan(pristine_path)
    assert isinstance(pristine, ConeScan)
    rng = np.random.default_rng(seed)
    outcomes = {"read": 0, "refused": 0}
    cases = list(_cases(rng))
    assert len(cases) >= 90
    for i, (label, corrupt) in enumerate(cases):
        path = tmp_path / f"case{i}.nxs"
        shutil.copyfile(pristine_path, path)
        corrupt(path)
        scan = read_or_refuse(lambda: read_scan(path), path, label)
        if scan is None:
            outcomes["refused"] += 1
            continue
        outcomes["read"] += 1
        data = scan.projections if isinstance(scan, ConeScan) else scan.sinogram
        assert np.isfinite(data).all(), label
        if isinstance(scan, ConeScan):
            g = scan.geometry
            assert scan.projections.shape == pristine.projections.shape, label
            assert 0 < g.sod < g.sdd < 1e7 and min(g.det_spacing) > 0, (label, g)
    assert outcomes["refused"] > 40 and outcomes["read"] > 5, outcomes
