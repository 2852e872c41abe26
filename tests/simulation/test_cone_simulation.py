"""Cone-beam simulations: [volume] and 3-D phantom families, exact projections of the phantom's ellipsoids,
volumes on the grid, files the dataset reader takes, and one clear error per impossible config."""

from __future__ import annotations

import numpy as np
import pytest

from recon.simulation.dataset import SimulatedDataset, load_samples
from recon.simulation.ellipsoids import exact_projections, rasterize_volume
from recon.simulation.phantoms import make_phantom
from recon.simulation.simulate import parse_config, simulate_sample, simulate_to_file

CONFIG = """
[simulation]
n = 3
seed = 4
det_supersample = 2
[phantom]
family = "random_ellipsoids"
radius = 8.0
[noise]
i0 = 1e4
[geometry]
type = "cone"
det_shape = [12, 16]
det_spacing = [1.0, 1.2]
sod = 50.0
sdd = 80.0
angles = { start = 0.0, stop = 360.0, count = 10, unit = "deg" }
[volume]
shape = [10, 16, 16]
voxel_size = 0.9
"""


def test_a_sample_is_the_exact_projection_of_its_phantom_with_noise():
    cfg = parse_config(CONFIG)
    sample = simulate_sample(cfg, 2)
    phantom = make_phantom("random_ellipsoids", np.random.default_rng(np.random.SeedSequence([4, 2]).spawn(2)[0]),
                           radius=8.0)
    assert np.allclose(sample["sinograms_clean"], exact_projections(phantom, cfg.geometry, 2), atol=1e-6)
    assert np.allclose(sample["images"], rasterize_volume(phantom, cfg.volume, 2), atol=1e-7)
    noise = sample["sinograms"] - sample["sinograms_clean"]
    assert 0 < np.std(noise) < 0.1 and abs(float(noise.mean())) < 0.01


def test_files_read_back_as_volumes_and_projections(tmp_path):
    path = simulate_to_file(parse_config(CONFIG), tmp_path / "s.h5", workers=1)
    ds = SimulatedDataset(path)
    assert ds.volume.shape == (10, 16, 16) and ds.geometry.proj_shape == (10, 12, 16)
    samples = load_samples(path, views=5)
    assert samples.inputs.shape == (3, 5, 12, 16) and samples.targets.shape == (3, 10, 16, 16)
    assert samples.geometry.n_views == 5 and samples.volume == ds.volume
    with pytest.raises(ValueError, match="full_view_fbp is for 2-D scans"):
        load_samples(path, "full_view_fbp")


@pytest.mark.parametrize("change,message", [
    (("[volume]\nshape = [10, 16, 16]\nvoxel_size = 0.9", ""), r"\[volume\] is missing"),
    (("random_ellipsoids", "disc_with_holes"), "is 2-D but the \\[geometry\\] is cone beam"),
    (("voxel_size = 0.9", "voxel_size = 9.0"), "reaches the source"),
    (("[volume]", "[acquisition]\ntype = \"parallel\"\n[volume]"), "acquisition"),
])
def test_impossible_configs_get_one_clear_error(change, message):
    with pytest.raises(ValueError, match=message):
        parse_config(CONFIG.replace(*change))
