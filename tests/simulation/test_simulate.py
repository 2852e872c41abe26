"""`recon simulate`: config validation, the HDF5 layout, determinism, safe output, and the training dataset."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import recon
import recon.simulation.simulate as simulate
from recon.simulation.shapes import rasterize, ray_transform
from recon.app.cli import main
from recon.simulation.dataset import SimulatedDataset, load_samples, split_indices
from recon.simulation.phantoms import make_phantom


TINY = """\
# tiny test config
[simulation]
n = 4
seed = 3
det_supersample = 2

[phantom]
family = "disc_with_holes"
radius = 4.0
size = [0.3, 1.5]
gap = 0.2
rim = 0.2

[noise]
i0 = 1e4

[geometry]
type = "fan"
n_det = 40
det_spacing = 0.5
image_size = 32
pixel_size = 0.3
sod = 50.0
sdd = 80.0
angles = { start = 0, stop = 360, count = 20, unit = "deg" }

[target_geometry]
type = "parallel"
n_det = 30
det_spacing = 0.35
image_size = 32
pixel_size = 0.3
angles = { start = 0, stop = 180, count = 24, unit = "deg" }
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """The tiny simulation written once with one worker (shared by the read-only tests)."""
    folder = tmp_path_factory.mktemp("sim")
    (folder / "tiny.toml").write_text(TINY, encoding="utf-8")
    return simulate.simulate_to_file(folder / "tiny.toml", folder / "one.h5", workers=1)


def test_file_has_exactly_the_documented_layout(written):
    cfg = simulate.parse_config(TINY)
    with h5py.File(written, "r") as f:
        assert set(f.keys()) == {"images", "sinograms", "sinograms_clean", "target_sinograms"}
        shapes = {"images": (4, 32, 32), "sinograms": (4, 20, 40), "sinograms_clean": (4, 20, 40),
                  "target_sinograms": (4, 24, 30)}
        for name, shape in shapes.items():
            d = f[name]
            assert d.shape == shape and d.dtype == np.float32
            assert d.chunks == (1,) + shape[1:] and d.compression in ("gzip", "lzf") and d.fletcher32
        assert set(f.attrs) == {"format", "recon_version", "geometry", "target_geometry", "config", "seed",
                                "n_samples"}
        assert f.attrs["format"] == "recon-simulated-v1"
        assert f.attrs["recon_version"] == recon.__version__
        assert recon.geometry_from_json(f.attrs["geometry"]) == cfg.geometry
        assert recon.geometry_from_json(f.attrs["target_geometry"]) == cfg.target_geometry
        assert json.loads(f.attrs["geometry"])["type"] == "fan"
        assert f.attrs["config"] == TINY
        assert int(f.attrs["seed"]) == 3 and int(f.attrs["n_samples"]) == 4
        assert isinstance(f.attrs["seed"], (int, np.integer)) and isinstance(f.attrs["n_samples"], (int, np.integer))

        # contents: sample i is the phantom drawn from (seed, i), exactly projected, rasterised, then noised
        i = 2
        phantom_seq, _ = np.random.SeedSequence([3, i]).spawn(2)
        phantom = make_phantom("disc_with_holes", np.random.default_rng(phantom_seq), **cfg.phantom_params)
        np.testing.assert_array_equal(f["images"][i], rasterize(phantom, cfg.geometry, 4).astype(np.float32))
        clean = ray_transform(phantom, cfg.geometry, det_supersample=2)
        np.testing.assert_array_equal(f["sinograms_clean"][i], clean.astype(np.float32))
        np.testing.assert_array_equal(f["target_sinograms"][i],
                                      ray_transform(phantom, cfg.target_geometry, det_supersample=2).astype(np.float32))
        noise = f["sinograms"][i] - f["sinograms_clean"][i]
        assert 0 < np.std(noise) < 0.05 and np.all(np.isfinite(f["sinograms"][:]))
        images = f["images"][:]
        assert images.min() >= 0 and images.max() == pytest.approx(0.041)
        assert not np.array_equal(images[0], images[1])


_FAN, _PARALLEL = TINY.split("[target_geometry]")
# the tiny fan scan (80 views) as the acquisition, rebinned to the tiny parallel geometry
ACQUIRED = _FAN.replace("[geometry]", "[acquisition]").replace("count = 20", "count = 80") + "[geometry]" + _PARALLEL


def test_an_acquisition_geometry_draws_the_noise_there_and_rebins_it(tmp_path):
    """``[acquisition]``: the noisy sinograms are the acquisition's noisy data rebinned to ``[geometry]`` (as real
    data rebinned from another scan), the clean ones the exact line integrals in ``[geometry]``."""
    cfg = simulate.parse_config(ACQUIRED)
    assert cfg.acquisition.kind == "fan" and cfg.acquisition.n_views == 80 and cfg.geometry.kind == "parallel"
    path = simulate.simulate_to_file(cfg, tmp_path / "acq.h5", workers=1)
    i = 1
    phantom_seq, noise_seq = np.random.SeedSequence([3, i]).spawn(2)
    phantom = make_phantom("disc_with_holes", np.random.default_rng(phantom_seq), **cfg.phantom_params)
    fan = ray_transform(phantom, cfg.acquisition, det_supersample=2)
    noisy = simulate.poisson_noise(fan, 1e4, np.random.default_rng(noise_seq), 0.0, 0.5)
    with h5py.File(path, "r") as f:
        assert recon.geometry_from_json(f.attrs["acquisition_geometry"]) == cfg.acquisition
        assert f["sinograms"].shape == (4, 24, 30)
        np.testing.assert_allclose(f["sinograms"][i], recon.rebin(noisy, cfg.acquisition, cfg.geometry), rtol=1e-6,
                                   atol=1e-6)
        clean = ray_transform(phantom, cfg.geometry, det_supersample=2)
        np.testing.assert_array_equal(f["sinograms_clean"][i], clean.astype(np.float32))
        # rebinning averages neighbouring measured rays: less noise than measuring at I0 directly (√(1/I0·e^p))
        direct = np.sqrt(np.exp(clean) / 1e4)
        assert 0.2 < np.std(f["sinograms"][:] - f["sinograms_clean"][:]) / direct.mean() < 0.9
    half_arc = ACQUIRED.replace("stop = 360, count = 80", "stop = 120, count = 80")
    with pytest.raises(ValueError, match=r"\[acquisition\] scan contains only"):
        simulate.parse_config(half_arc)


@pytest.mark.slow
def test_same_bytes_for_one_and_two_workers(tiny, written, tmp_path):
    two = simulate.simulate_to_file(tiny, tmp_path / "two.h5", workers=2)
    assert two.read_bytes() == written.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml", "two.h5"]


def test_samples_depend_only_on_seed_and_index(tiny, written, tmp_path):
    out = simulate.simulate_to_file(tiny, tmp_path / "two.h5", n=2, workers=1)
    with h5py.File(out, "r") as a, h5py.File(written, "r") as b:
        assert int(a.attrs["n_samples"]) == 2
        for name in b:
            np.testing.assert_array_equal(a[name][:], b[name][:2])


def test_a_dose_range_draws_each_samples_photon_count(tmp_path):
    """``i0 = [min, max]``: each sample's noise has the variance of its own dose, drawn log-uniformly."""
    cfg = simulate.parse_config(TINY.replace("i0 = 1e4", "i0 = [1e3, 1e5]"))
    assert cfg.i0 == (1e3, 1e5)
    variances = []
    for i in range(12):
        sample = simulate.simulate_sample(cfg, i)
        air = sample["sinograms_clean"] == 0  # variance of the log data in air: 1 / I0
        variances.append(float(np.var(sample["sinograms"][air])))
    assert 1 / 1e5 / 1.5 < min(variances) and max(variances) < 1.5 / 1e3 and max(variances) / min(variances) > 5
    np.testing.assert_array_equal(simulate.simulate_sample(cfg, 3)["sinograms"], simulate.simulate_sample(cfg, 3)["sinograms"])
    for bad, message in (("[1e4]", r"\[noise\] i0 must be a number or \[min, max\]"), ("[1e4, 1e3]", "min <= max"),
                         ("[0, 1e3]", "i0")):
        with pytest.raises(ValueError, match=message):
            simulate.parse_config(TINY.replace("i0 = 1e4", f"i0 = {bad}"))


def test_beam_hardening_range_hardens_each_sample_its_own_way():
    """``beam_hardening = [min, max]``: each sample's noise-free part is p − b·p² with its own b; the clean
    sinograms stay the exact line integrals; no beam hardening keeps the samples as they were."""
    plain = simulate.parse_config(TINY.replace("i0 = 1e4", "i0 = 1e9"))
    hard = simulate.parse_config(TINY.replace("i0 = 1e4", "i0 = 1e9\nbeam_hardening = [0.05, 0.2]"))
    assert hard.beam_hardening == (0.05, 0.2) and plain.beam_hardening == (0.0, 0.0)
    ratios = []
    for i in range(6):
        a, b = simulate.simulate_sample(plain, i), simulate.simulate_sample(hard, i)
        np.testing.assert_array_equal(a["sinograms_clean"], b["sinograms_clean"])
        p = a["sinograms_clean"].astype(np.float64)
        long = p > 0.5 * p.max()
        ratios.append(np.median((p - b["sinograms"])[long] / p[long] ** 2))  # ≈ b
    assert 0.04 < min(ratios) and max(ratios) < 0.21 and max(ratios) - min(ratios) > 0.02
    with pytest.raises(ValueError, match="beam_hardening"):
        simulate.parse_config(TINY.replace("i0 = 1e4", "i0 = 1e4\nbeam_hardening = -1.0"))


def test_refuses_to_overwrite_without_force(tiny, tmp_path):
    out = tmp_path / "data.h5"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="force"):
        simulate.simulate_to_file(tiny, out, n=1, workers=1)
    assert out.read_bytes() == b"precious"
    simulate.simulate_to_file(tiny, out, n=1, workers=1, force=True)
    with h5py.File(out, "r") as f:
        assert f["images"].shape == (1, 32, 32)


def test_a_changed_byte_in_a_stored_chunk_is_detected_by_its_checksum(written, tmp_path, capsys):
    """Fletcher-32 per chunk: HDF5 refuses a chunk whose bytes changed (a bit flip on disk, a bad copy)."""
    with h5py.File(written, "r") as f:
        offset = f["sinograms"].id.get_chunk_info(1).byte_offset
        intact = f["sinograms"][:]
    data = bytearray(written.read_bytes())
    data[offset + 10] ^= 0x01
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(bytes(data))
    with h5py.File(corrupt, "r") as f:
        np.testing.assert_array_equal(f["sinograms"][0], intact[0])  # the other chunks read as before
        with pytest.raises(OSError):
            f["sinograms"][1]
    with pytest.raises(ValueError, match=r"corrupt.*(filter returned failure|Fletcher32 checksum)"):  # HDF5 of h5py 3.16 | of 3.11
        load_samples(corrupt)


def test_two_concurrent_runs_to_one_file_lose_nothing(tiny, tmp_path):
    """Both start before either finishes; one writes the file, the other is refused (no silent loss)."""
    import subprocess
    import sys

    out = tmp_path / "same.h5"
    cmd = [sys.executable, "-m", "recon", "simulate", "--config", str(tiny), "--out", str(out), "--workers", "1"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    assert "already exists" in [err for code, err in results if code == 2][0] or \
        "another process" in [err for code, err in results if code == 2][0]
    assert len(SimulatedDataset(out)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.h5", "tiny.toml"]


def test_failure_leaves_no_file(tiny, tmp_path, monkeypatch):
    real = simulate.simulate_sample

    def failing(config, index, seed=None):
        if index == 2:
            raise RuntimeError("simulated crash")
        return real(config, index, seed)

    monkeypatch.setattr(simulate, "simulate_sample", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        simulate.simulate_to_file(tiny, tmp_path / "out.h5", workers=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def test_cli_exit_codes(tiny, tmp_path, capsys):
    out = tmp_path / "cli.h5"
    args = ["simulate", "--config", str(tiny), "--out", str(out), "--n", "2", "--seed", "11", "--workers", "1"]
    assert main(args) == 0
    with h5py.File(out, "r") as f:
        assert int(f.attrs["n_samples"]) == 2 and int(f.attrs["seed"]) == 11
    before = out.read_bytes()
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(args + ["--force"]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("n = 4", "n = 'four'"), encoding="utf-8")
    assert main(["simulate", "--config", str(bad), "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "[simulation] n" in err
    assert main(["simulate", "--config", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "x.h5")]) == 2
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("change, message", [
    (("[noise]", "[noize]"), r"unknown section\(s\) \['\[noize\]'\]"),
    (("det_supersample = 2", "det_supersample = 2\nworkers = 3"), r"\[simulation\] has unknown key\(s\) \['workers'\]"),
    (("n = 4\n", ""), r"\[simulation\] is missing key\(s\) \['n'\]"),
    (("seed = 3", "seed = -1"), r"\[simulation\] seed must be a non-negative integer"),
    (("det_supersample = 2", "det_supersample = 1.5"), r"\[simulation\] det_supersample must be a positive integer"),
    (("i0 = 1e4", "i0 = 'many'"), r"\[noise\] i0 must be a real number"),
    (('family = "disc_with_holes"', 'family = "discs"'), r"\[phantom\] family must be one of"),
    (("radius = 4.0", "radius = 4.0\nholes = 3"), r"\[phantom\] has unknown key\(s\) \['holes'\]"),
    (("radius = 4.0", "radius = -4.0"), r"\[phantom\] radius must be > 0"),
    (("sod = 50.0", "sod = 50.0\nfoo = 1"), r"\[geometry\] has unknown key\(s\) \['foo'\]"),
    (("[target_geometry]\ntype = \"parallel\"", "[target_geometry]\ntype = \"helix\""), r"\[target_geometry\] type"),
    (("[geometry]\ntype = \"fan\"\n", "[geometry]\ntype = \"fan\"\n[geometry.x]\n"), r"\[geometry\]"),
    (("n = 4", "n = 4 4"), "not valid TOML"),
])
def test_bad_configs_name_file_section_and_key(tmp_path, change, message):
    path = tmp_path / "bad.toml"
    assert change[0] in TINY
    path.write_text(TINY.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises((ValueError, TypeError), match=message) as info:  # TypeError: a value of the wrong type
        simulate.load_config(path)
    assert str(path) in str(info.value)


def test_missing_sections_and_truncation_warning(tmp_path):
    with pytest.raises(ValueError, match=r"missing section\(s\) \['\[phantom\]'\]"):
        simulate.parse_config("[simulation]\nn = 1\nseed = 0\n" + TINY[TINY.index("[geometry]"):], "x.toml")
    with pytest.warns(UserWarning) as record:
        simulate.parse_config(TINY.replace("radius = 4.0", "radius = 12.0").replace("size = [0.3, 1.5]", "size = 1.0"))
    messages = " ".join(str(w.message) for w in record)
    assert "images are cut off" in messages and "[geometry] detector" in messages and "truncated" in messages


def test_shipped_configs_are_valid():
    """Every config in configs/ is valid (simulation configs without warnings: the phantoms fit the images and
    detectors) and described in configs/README.md."""
    from recon.training.config import load_train_config

    folder = Path(__file__).resolve().parents[2] / "configs"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    names = sorted(p.name for p in folder.glob("*.toml"))
    assert {"fan_htc.toml", "fan_htc_real.toml", "train_limited_90.toml", "train_upsampled_htc60.toml"} <= set(names)
    for name in names:
        if name.startswith("train_"):
            load_train_config(folder / name)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                simulate.load_config(folder / name)
        assert name in readme, f"{name} is not described in configs/README.md"
    htc = simulate.load_config(folder / "fan_htc_to_parallel.toml")
    assert htc.geometry.n_views == 180 and htc.target_geometry.n_views == 360
    assert htc.target_geometry.det_spacing == pytest.approx(htc.geometry.det_spacing / htc.geometry.magnification,
                                                            rel=1e-6)


# ---- the training dataset -----------------------------------------------------------------------------------

def test_dataset_round_trip_through_a_dataloader_with_workers(written):
    train, val = split_indices(4, 0.25, seed=1)
    ds = SimulatedDataset(written, keys=("sinograms", "images", "target_sinograms"), indices=train)
    assert len(ds) == 3 and ds.geometry == simulate.parse_config(TINY).geometry
    assert ds.target_geometry.kind == "parallel" and ds.config == TINY
    ds = pickle.loads(pickle.dumps(ds))
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, shuffle=False)
    batches = list(loader)
    sino = torch.cat([b[0] for b in batches])
    images = torch.cat([b[1] for b in batches])
    target = torch.cat([b[2] for b in batches])
    assert sino.dtype == torch.float32 and sino.shape == (3, 20, 40)
    with h5py.File(written, "r") as f:
        np.testing.assert_array_equal(sino.numpy(), f["sinograms"][:][train])
        np.testing.assert_array_equal(images.numpy(), f["images"][:][train])
        np.testing.assert_array_equal(target.numpy(), f["target_sinograms"][:][train])
    item = SimulatedDataset(written, keys=("sinograms_clean",))[-1]
    assert isinstance(item, tuple) and item[0].shape == (20, 40)


def test_dataset_validates_the_file(written, tmp_path):
    with pytest.raises(ValueError, match="no dataset"):
        SimulatedDataset(written, keys=("labels",))
    with pytest.raises(ValueError, match="indices"):
        SimulatedDataset(written, indices=[0, 4])
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["images"] = np.zeros((1, 2, 2), np.float32)
    with pytest.raises(ValueError, match=f"{plain}.*missing attribute"):
        SimulatedDataset(plain)
    other = tmp_path / "other.h5"
    other.write_bytes(written.read_bytes())
    with h5py.File(other, "a") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(ValueError, match="unsupported format"):
        SimulatedDataset(other)
    with h5py.File(other, "a") as f:
        f.attrs["format"] = "recon-simulated-v1"
        del f["sinograms_clean"]
    with pytest.raises(ValueError, match=r"missing dataset\(s\) \['sinograms_clean'\]"):
        SimulatedDataset(other)
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        SimulatedDataset(text)


def test_split_indices():
    train, val = split_indices(10, 0.2, seed=4)
    assert len(val) == 2 and len(train) == 8
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(10))
    again = split_indices(10, 0.2, seed=4)
    np.testing.assert_array_equal(again[0], train)
    assert len(split_indices(3, 0.01)[1]) == 1 and len(split_indices(3, 0.0)[1]) == 0
    with pytest.raises(ValueError, match="val_fraction"):
        split_indices(10, 1.0)
