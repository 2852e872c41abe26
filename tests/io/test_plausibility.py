"""Physically impossible scans are refused with the fraction found; implausible ones (angles in the wrong unit,
views at one angle, a rotation axis off the detector, a few impossible values) are read with a warning that
``recon info`` and ``recon reconstruct`` both show."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io

from recon.app.cli import main
from recon.io import ScanFormatError, ScanWarning, read_scan
from recon.io.plausibility import MAX_IMPOSSIBLE, geometry_problems, value_problems
from recon.geometry import ParallelBeam

from .files import N_DET, N_VIEWS, angles_deg, line_integrals, parallel_table, raw_counts, write_dxchange, write_sidecar


def _npy_scan(tmp_path, values, geometry=None, data=None):
    np.save(tmp_path / "sino.npy", np.asarray(values))
    write_sidecar(tmp_path / "sino.toml", {"axes": "views,det", **(data or {})}, geometry or parallel_table())
    return tmp_path / "sino.npy"


def test_value_thresholds():
    p = line_integrals(0, (N_VIEWS, N_DET))
    assert value_problems(p) == (None, [])
    refusal, _ = value_problems(np.full_like(p, -5.0))
    assert refusal.startswith("100.0% of the values are physically impossible")
    refusal, _ = value_problems(p, n_clipped=p.size * 5 // 8)
    assert "62.5%" in refusal and "dark level" in refusal
    q = p.copy()
    q[0, 0] = 1e30
    refusal, warned = value_problems(q)
    assert refusal is None and "1 of" in warned[0]
    q = p.copy()  # just under the refusal fraction: warned, not refused
    q.reshape(-1)[: int(MAX_IMPOSSIBLE * q.size)] = -5.0
    assert value_problems(q)[0] is None and value_problems(q)[1]


@pytest.mark.parametrize("values, fragment", [
    (np.full((N_VIEWS, N_DET), -5.0), "below -0.1"),
    (np.full((N_VIEWS, N_DET), 1e30), "above 30"),
    (np.full((N_VIEWS, N_DET), 4.0e4), "raw counts read as line integrals"),
])
def test_impossible_line_integrals_are_refused(tmp_path, capsys, values, fragment):
    path = _npy_scan(tmp_path, values)
    with pytest.raises(ScanFormatError, match=fragment):
        read_scan(path)
    for command in (["info", str(path)], ["reconstruct", str(path), "--out", str(tmp_path / "o.tif")]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "100.0% of the values are physically impossible" in err
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("case", ["below_dark", "above_flat", "zero"])
def test_impossible_raw_counts_are_refused(tmp_path, case):
    raw, flats, darks = raw_counts(line_integrals(0, (N_VIEWS, 1, N_DET)))
    raw = {"below_dark": darks.min() - 10.0 + 0 * raw, "above_flat": 2.0 * flats.max() + 0 * raw,
           "zero": 0 * raw}[case]
    with h5py.File(tmp_path / "scan.h5", "w") as f:
        f["exchange/data"], f["exchange/data_white"], f["exchange/data_dark"] = raw, flats, darks
        f["exchange/theta"] = angles_deg()
        f["exchange/theta"].attrs["units"] = "degrees"
    with pytest.raises(ScanFormatError, match=r"100.0% of the values are physically impossible"):
        read_scan(tmp_path / "scan.h5")


@pytest.mark.parametrize("dtype", [np.complex64, np.bool_, np.int32])
def test_htc_sinograms_must_be_floating_point(tmp_path, dtype):
    sino = (line_integrals(3, (9, 16)) * 10).astype(dtype)
    params = {"angles": np.linspace(0.0, 360.0, 9), "distanceSourceOrigin": 100.0, "distanceSourceDetector": 150.0,
              "numDetectorsPost": 16, "pixelSizePost": 0.5, "effectivePixelSizePost": 1 / 3}
    scipy.io.savemat(tmp_path / "htc.mat", {"CtDataFull": {"sinogram": sino, "parameters": params}})
    with pytest.raises(ScanFormatError, match="floating-point line integrals"):
        read_scan(tmp_path / "htc.mat")


def _warned(recorder) -> list[str]:
    return [str(w.message) for w in recorder if issubclass(w.category, ScanWarning)]


@pytest.mark.parametrize("table, fragment", [
    # a sidecar labelled degrees holding radians: 720 views over 3.14°
    (parallel_table(720, angles={"start": 0.0, "stop": np.pi, "count": 720, "unit": "deg"}),
     "radians stored where degrees are expected"),
    (parallel_table(angles=[10.0] * N_VIEWS), f"all {N_VIEWS} views are at one angle"),
    (parallel_table(det_offset=1e6), "rotation axis projects to detector column"),
    (parallel_table(720, angles={"start": 0.0, "stop": 360.0, "count": 720, "unit": "rad"}), "degrees read as radians"),
])
def test_implausible_geometry_is_warned_by_info_and_reconstruct(tmp_path, capsys, table, fragment):
    path = _npy_scan(tmp_path, line_integrals(0, (table["angles"]["count"] if isinstance(table["angles"], dict)
                                                  else len(table["angles"]), N_DET)), table)
    with pytest.warns(ScanWarning, match=fragment):
        scan = read_scan(path)
    assert any(fragment in w for w in scan.info["warnings"])
    assert main(["info", str(path)]) == 0
    captured = capsys.readouterr()
    assert fragment in captured.out and f"recon info: warning: {path}" in captured.err
    assert main(["reconstruct", str(path), "--out", str(tmp_path / "o.tif")]) == 0
    assert fragment in capsys.readouterr().err


def test_radians_in_a_dataexchange_theta_without_units_are_warned(tmp_path):
    path = write_dxchange(tmp_path / "dx.h5", line_integrals(0, (90, 1, N_DET)))
    with h5py.File(path, "a") as f:
        theta = np.deg2rad(f["exchange/theta"][()])
        del f["exchange/theta"]
        f["exchange/theta"] = theta
    with pytest.warns(ScanWarning, match=r"90 views span only 3.11° \(read as degrees\): angles in radians stored where degrees"):
        read_scan(path)


def test_a_plausible_scan_gives_no_warning(tmp_path, recwarn):
    read_scan(_npy_scan(tmp_path, line_integrals(0, (N_VIEWS, N_DET))))
    assert _warned(recwarn) == []
    g = ParallelBeam(np.deg2rad(np.arange(30) * 1.0), n_det=16, det_spacing=1.0, image_size=16, pixel_size=1.0)
    assert geometry_problems(g) == []  # a 29° limited-angle scan is legitimate


def test_a_dataset_declaring_more_than_the_file_holds_is_refused_before_reading(tmp_path):
    with h5py.File(tmp_path / "bomb.h5", "w") as f:
        f.create_dataset("exchange/data", shape=(720, 4000, 4000), dtype="f4", chunks=(1, 100, 100))
        f["exchange/theta"] = np.arange(720) * 0.25
    assert (tmp_path / "bomb.h5").stat().st_size < 100_000
    with pytest.raises(ScanFormatError, match=r"declares \(720, 4000, 4000\) float32 .* but the file stores 0 MiB"):
        read_scan(tmp_path / "bomb.h5")
