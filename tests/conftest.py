"""Shared fixtures."""

from __future__ import annotations

import pytest

import recon
from recon.simulation.simulate import simulate_to_file

from .helpers import SIMULATION, TARGET, small_geometries


@pytest.fixture(params=["parallel", "fan-flat", "fan-arc"])
def small_geometry(request) -> recon.Geometry:
    return small_geometries()[request.param]


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """30 simulated fan scans (72 views, 32² images) with parallel target sinograms, shared by the training,
    evaluation and comparison tests."""
    folder = tmp_path_factory.mktemp("data")
    (folder / "sim.toml").write_text(SIMULATION.format(n=30, target=TARGET))
    return simulate_to_file(folder / "sim.toml", folder / "sim.h5", workers=1)
