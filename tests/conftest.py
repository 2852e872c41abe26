"""Shared fixtures."""

from __future__ import annotations

import pytest

import recon

from .helpers import small_geometries


@pytest.fixture(params=["parallel", "fan-flat", "fan-arc"])
def small_geometry(request) -> recon.Geometry:
    return small_geometries()[request.param]
