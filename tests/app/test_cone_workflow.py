"""Cone beam through the command line at test sizes: simulate → train (learned FDK) → reconstruct (FDK, SIRT,
learned) → volume files that read back with their units and grid; raw TIFF stacks with a sidecar; one clear error
for what does not apply."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

import recon
from recon.io.config import geometry_toml
from recon.io.volumes import read_volume
from recon.simulation.ellipsoids import Ellipsoid, exact_projections

SIM = """
[simulation]
n = 8
seed = 0
[phantom]
family = "random_ellipsoids"
radius = 10.0
[noise]
i0 = 1e5
[geometry]
type = "cone"
det_shape = [20, 28]
det_spacing = 1.0
sod = 60.0
sdd = 90.0
angles = { start = 0.0, stop = 230.0, count = 40, unit = "deg" }
[volume]
shape = [14, 24, 24]
voxel_size = 0.8
"""

TRAIN = """
[data]
val_fraction = 0.25
[model]
type = "learned_fdk"
learn = "filter+weights"
weight_basis = [6, 3, 8]
[training]
epochs = 2
batch_size = 2
lr = 0.01
"""


def recon_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recon", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cone")
    (d / "sim.toml").write_text(SIM)
    (d / "train.toml").write_text(TRAIN)
    for args in (("simulate", "--config", "sim.toml", "--out", "sim.h5", "--workers", "1"),
                 ("train", "--config", "train.toml", "--data", "sim.h5", "--out", "run")):
        r = recon_cli(*args, cwd=d)
        assert r.returncode == 0, r.stderr
    import h5py

    with h5py.File(d / "sim.h5") as f:  # the first sample as a scan file with its sidecar
        np.save(d / "scan.npy", f["sinograms"][0])
        (d / "scan.toml").write_text(geometry_toml(recon.geometry.geometry_from_json(f.attrs["geometry"])))
    return d


def test_simulate_train_reconstruct_end_to_end(trained):
    d = trained
    metrics = json.loads((d / "run" / "metrics.json").read_text())
    assert metrics["model"] == "LearnedFDK" and metrics["history"][-1]["val_loss"] < 1e-4
    import h5py

    with h5py.File(d / "sim.h5") as f:
        p, truth = f["sinograms"][0], f["images"][0]
        g = recon.geometry.geometry_from_json(f.attrs["geometry"])
    assert p.shape == (40, 20, 28) and truth.shape == (14, 24, 24) and truth.max() > 0.005
    assert np.array_equal(np.load(d / "scan.npy"), p) and g.n_views == 40
    for args, name in (((), "fdk.tif"), (("--method", "sirt", "--iterations", "5"), "sirt.h5"),
                       (("--model", "run"), "learned.tif")):
        volume_args = () if "--model" in args else ("--image-size", "24", "--slices", "14", "--pixel-size", "0.8")
        r = recon_cli("reconstruct", "scan.npy", "--out", f"out/{name}", *args, *volume_args, cwd=d)
        assert r.returncode == 0, r.stderr
        volume, meta = read_volume(d / "out" / name)
        assert volume.shape == (14, 24, 24) and meta["units"] == "1/mm"
        assert recon.VolumeGrid.from_dict(meta["grid"]) == recon.VolumeGrid((14, 24, 24), 0.8)
        assert (d / "out" / name).with_suffix(".png").is_file()
        error = np.sqrt(np.mean((volume - truth) ** 2))
        assert error < 0.5 * np.sqrt(np.mean(truth ** 2)), (name, error)


def test_an_untrained_learned_fdk_is_fdk(trained):
    import h5py

    with h5py.File(trained / "sim.h5") as f:
        p = f["sinograms"][1]
        g = recon.geometry.geometry_from_json(f.attrs["geometry"])
    grid = recon.VolumeGrid((14, 24, 24), 0.8)
    model = recon.models.LearnedFDK(g, grid, "hann", 0.7)
    assert np.array_equal(model(p).detach().numpy(), recon.fdk(p, g, grid, "hann", 0.7))


def test_raw_tiff_stack_with_a_sidecar_reconstructs_a_ball(tmp_path):
    g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 36, endpoint=False), (16, 24), 1.0, sod=80.0, sdd=120.0)
    p = exact_projections([Ellipsoid(0.02, (0.0, 0.0, 0.0), (6.0, 6.0, 6.0))], g, 2)
    (tmp_path / "proj").mkdir()
    for k, view in enumerate(np.round(4e4 * np.exp(-p)).astype(np.uint16)):
        tifffile.imwrite(tmp_path / "proj" / f"p_{k:03d}.tif", view)
    sidecar = geometry_toml(g).replace("[geometry]", '[data]\nfile = "proj"\nvalues = "raw"\ni0 = 40000.0\n\n[geometry]')
    (tmp_path / "scan.toml").write_text(sidecar)
    scan = recon.read_scan(tmp_path / "scan.toml")
    assert isinstance(scan, recon.io.ConeScan) and scan.projections.shape == (36, 16, 24)
    assert np.allclose(scan.projections, p, atol=2e-3)
    r = recon_cli("reconstruct", "scan.toml", "--out", "v.tif", "--filter", "hann", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    volume, meta = read_volume(tmp_path / "v.tif")
    assert volume.shape == (16, 24, 24) and abs(float(volume[8, 12, 12]) - 0.02) < 1e-3
    assert meta["geometry"]["type"] == "cone"


def test_a_cone_scans_rotation_centre_is_checked_and_found(tmp_path, capsys):
    """A full-turn cone scan whose axis projects 1.5 columns off the file's: reconstruct warns (estimated on the
    rows through the source plane), --center auto finds the offset and names it in the volume's metadata, and the
    volume then equals FDK in the true geometry."""
    from recon.app.cli import main

    true = recon.ConeBeam(np.linspace(0, 2 * np.pi, 72, endpoint=False), (12, 40), 1.0, sod=80.0, sdd=120.0,
                          det_offset=(0.0, 1.5))
    p = exact_projections([Ellipsoid(0.02, (2.0, -1.0, 0.0), (8.0, 5.0, 4.0)), Ellipsoid(0.01, (-5.0, 3.0, 1.0),
                                                                                        (2.0, 2.0, 2.0))], true, 2)
    np.save(tmp_path / "scan.npy", p.astype(np.float32))
    (tmp_path / "scan.npy.toml").write_text(geometry_toml(true.replace(det_offset=(0.0, 0.0))))
    assert main(["info", str(tmp_path / "scan.npy")]) == 0
    described = capsys.readouterr().out
    assert "estimated centre: detector column 18.0" in described and "WARNING:" in described
    assert main(["reconstruct", str(tmp_path / "scan.npy"), "--out", str(tmp_path / "plain.tif")]) == 0
    assert "data put the rotation centre at detector column" in capsys.readouterr().err
    assert main(["reconstruct", str(tmp_path / "scan.npy"), "--out", str(tmp_path / "auto.tif"), "--center",
                 "auto"]) == 0
    column = float(re.search(r"rotation centre at column ([0-9.]+) \(estimated", capsys.readouterr().out).group(1))
    assert column == pytest.approx(19.5 - 1.5, abs=0.1)
    volume, meta = read_volume(tmp_path / "auto.tif")
    assert "rotation centre at column" in meta["method"]
    grid = recon.io.ConeScan(p.astype(np.float32), true).default_grid()
    right = recon.fdk(p, true, grid)
    assert np.linalg.norm(volume - right) / np.linalg.norm(right) < 0.05


def test_what_does_not_apply_gets_one_clear_error(trained):
    d = trained
    for args, message in ((("--out", "x.png"), "is written as .tif/.tiff/.h5/.hdf5"),
                          (("--out", "t.tif", "--method", "tv", "--tv-lambda", "0.1"), "applies to 2-D scans"),
                          (("--out", "r.tif", "--method", "rebin"), "not available for cone-beam"),
                          (("--out", "m.tif", "--model", "run", "--slices", "3"), "trained for")):
        r = recon_cli("reconstruct", "scan.npy", *args, cwd=d)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    bad = d / "bad.npy"
    np.save(bad, np.zeros((40, 20, 27), dtype=np.float32))
    (d / "bad.toml").write_text((d / "scan.toml").read_text())
    r = recon_cli("reconstruct", "bad.npy", "--out", "bad.tif", cwd=d)
    assert r.returncode != 0 and "do not match the sidecar's cone-beam geometry" in r.stderr


def test_info_describes_a_cone_beam_scan(trained):
    r = recon_cli("info", "scan.npy", cwd=trained)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())  # (the columns' width follows the longest key)
    for expected in ("projections: (40, 20, 28)", "ConeBeam(40 views", "short scan", "cone angle:",
                     "default volume: VolumeGrid(20 × 28 × 28", "rotation centre: detector column 13.5"):
        assert expected in text, (expected, r.stdout)


def test_evaluate_scores_a_cone_model_against_fdk(trained):
    r = recon_cli("evaluate", "--model", "run", "--data", "sim.h5", "--out", "ev", "--tune-fraction", "0.5", cwd=trained)
    assert r.returncode == 0, r.stderr
    report = json.loads((trained / "ev" / "evaluation.json").read_text())
    assert set(report["results"]) == {"fdk", "fdk_tuned", "model_1"} and report["n_test"] == 4
    for scores in report["results"].values():
        assert 0 < scores["rmse"] < 0.01 and scores["seconds_per_volume"] > 0
    tuned = report["results"]["fdk_tuned"]["rmse"]
    assert tuned <= report["results"]["fdk"]["rmse"] * 1.5  # tuned on other volumes of the same kind
    assert (trained / "ev" / "evaluation.png").is_file()


def test_compare_scores_volumes_against_a_reference(trained):
    import h5py

    d = trained
    with h5py.File(d / "sim.h5") as f:
        truth = f["images"][0]
        g = recon.geometry.geometry_from_json(f.attrs["geometry"])
    grid = recon.VolumeGrid((14, 24, 24), 0.8)
    recon.io.volumes.write_volume(d / "truth.tif", recon.io.volumes.VolumeReconstruction(truth, grid, g, "phantom"),
                                  "sim.h5", "phantom")
    r = recon_cli("compare", "scan.npy", "--model", "run", "--reference", "truth.tif", "--out", "cmp", cwd=d)
    assert r.returncode == 0, r.stderr
    metrics = json.loads((d / "cmp" / "metrics.json").read_text())
    assert set(metrics["scores"]) == {"fdk", "fdk_oracle", "cgls", "model_1"} and metrics["views"] == 40
    scores = {k: v["rmse"] for k, v in metrics["scores"].items()}
    assert all(0 < v < 0.01 for v in scores.values())
    assert scores["fdk_oracle"] <= scores["fdk"]  # Ram-Lak is among the windows it tunes over
    assert (d / "cmp" / "comparison.png").is_file() and "learned FDK 1" in (d / "cmp" / "report.md").read_text()
    r = recon_cli("compare", "scan.npy", "--views", "20", "--out", "cmp20", cwd=d)  # reference: FDK of all 40 views
    assert r.returncode == 0, r.stderr
    metrics = json.loads((d / "cmp20" / "metrics.json").read_text())
    assert metrics["views"] == 20 and metrics["views_full"] == 40 and metrics["scores"]["fdk"]["rmse"] > 0
    for args, message in ((("--views", "20", "--model", "run"), "40 views expected, got 20"), (("--tv",), "without --segmentation or --tv")):
        r = recon_cli("compare", "scan.npy", "--out", "bad", *args, cwd=d)
        assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
