"""recon calibrate --params offset,tilt,sdd on a simulated fan scan with a shifted, tilted detector: the sidecar
holds what the data decide, and reconstructing with it gives the true scan's image; what cannot be calibrated is
refused before anything is written."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

import recon
from recon.app.cli import main
from recon.io import load_toml, read_scan
from recon.operators.geometric import project_geometry

from ..io.files import write_sidecar

FILE = recon.FanBeam(np.linspace(0, 2 * np.pi, 360, endpoint=False), n_det=160, det_spacing=0.5, image_size=96,
                     pixel_size=0.5, sod=200.0, sdd=260.0)
PHANTOM = [recon.Ellipse(0.02, (0, 0), (20, 16), 0.3), recon.Ellipse(0.03, (7, -4), (5, 3), 1.0),
           recon.Ellipse(-0.015, (-8, 5), (4, 6), 0.0)]


def _table(g: recon.FanBeam) -> dict:
    return {"type": "fan", "n_det": g.n_det, "det_spacing": g.det_spacing, "image_size": g.image_size,
            "pixel_size": g.pixel_size, "sod": g.sod, "sdd": g.sdd,
            "angles": {"start": 0.0, "stop": 360.0, "count": 360, "unit": "deg"}}


def test_calibrated_sidecar_reconstructs_the_true_scan(tmp_path, capsys):
    fine = FILE.replace(image_size=192, pixel_size=0.25)
    image = torch.as_tensor(recon.rasterize(PHANTOM, fine))
    true = {"det_offset": 1.3, "tilt": 0.05, "sdd": 264.0}
    with torch.no_grad():
        sino = project_geometry(image, fine, {k: torch.tensor(v, dtype=torch.float64) for k, v in true.items()})
    np.save(tmp_path / "scan.npy", sino.numpy().astype(np.float32))
    write_sidecar(tmp_path / "scan.npy.toml", None, _table(FILE))
    assert main(["calibrate", str(tmp_path / "scan.npy"), "--params", "offset,tilt,sdd", "--out",
                 str(tmp_path / "cal.toml")]) == 0
    assert "tilt +2.7" in capsys.readouterr().out  # 0.05 rad = 2.865°
    table = load_toml(tmp_path / "cal.toml")["geometry"]
    assert table["detector_tilt_deg"] == pytest.approx(np.degrees(0.05), abs=0.15)
    assert table["det_offset"] == pytest.approx(1.3, abs=0.02) and table["sdd"] == pytest.approx(264.0, rel=3e-3)
    scan = read_scan(tmp_path / "scan.npy", geometry=str(tmp_path / "cal.toml"))  # resampled: a FanBeam again
    assert isinstance(scan.geometry, recon.FanBeam) and "resampled onto the untilted detector" in " ".join(
        scan.info["notes"])
    assert main(["reconstruct", str(tmp_path / "scan.npy"), "--geometry", str(tmp_path / "cal.toml"),
                 "--filter", "hann", "--cutoff", "0.8", "--out", str(tmp_path / "cal.tif"), "--center", "keep"]) == 0
    assert main(["reconstruct", str(tmp_path / "scan.npy"), "--filter", "hann", "--cutoff", "0.8", "--out",
                 str(tmp_path / "file.tif"), "--center", "keep"]) == 0
    true_g = FILE.replace(det_offset=1.3, sdd=264.0)
    with torch.no_grad():
        clean = project_geometry(image, fine, {"det_offset": torch.tensor(1.3, dtype=torch.float64),
                                               "sdd": torch.tensor(264.0, dtype=torch.float64)}).numpy()
    reference = np.asarray(recon.fbp(clean, true_g, "hann", 0.8))
    rmse = lambda name: float(np.sqrt(np.mean((tifffile.imread(tmp_path / name) - reference) ** 2)))  # noqa: E731
    assert rmse("cal.tif") < 0.1 * rmse("file.tif")


def test_what_cannot_be_calibrated_is_refused(tmp_path, capsys):
    g = recon.ParallelBeam(np.linspace(0, np.pi, 90, endpoint=False), 64, 1.0, 64, 1.0)
    np.save(tmp_path / "par.npy", recon.ray_transform(recon.shepp_logan(radius=20.0), g).astype(np.float32))
    write_sidecar(tmp_path / "par.npy.toml", None, {"type": "parallel", "n_det": 64, "det_spacing": 1.0,
                                                    "image_size": 64, "pixel_size": 1.0,
                                                    "angles": {"start": 0.0, "stop": 180.0, "count": 90,
                                                               "unit": "deg"}})
    for params, message in (("offset,tilt", "tilt and sdd are calibrated for fan-beam scans with a flat detector"),
                            ("offset,sod", "--params takes a comma-separated list of offset, tilt, sdd")):
        assert main(["calibrate", str(tmp_path / "par.npy"), "--params", params, "--out",
                     str(tmp_path / "c.toml")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "c.toml").exists()
