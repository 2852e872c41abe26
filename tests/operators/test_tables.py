"""The operators' geometry-derived tables: computed once per geometry, shared by equal geometries, kept in a
table of the operators (the geometry stays an immutable value) and released with the geometry."""

from __future__ import annotations

import gc

import numpy as np

import recon
from recon.operators import rays


def _geometry() -> recon.ParallelBeam:
    return recon.ParallelBeam(np.linspace(0, np.pi, 30, endpoint=False), 40, 1.0, 32, 1.0)


def test_tables_are_shared_by_equal_geometries_and_not_stored_on_them():
    g, twin = _geometry(), _geometry()
    assert rays.joseph_rays(g, g.grid) is rays.joseph_rays(twin, twin.grid)
    assert rays.joseph_rays(g, recon.ImageGrid(16, 2.0)) is not rays.joseph_rays(g, g.grid)  # one table per grid
    assert not hasattr(g, "_cache") and "_cache" not in vars(g)
    recon.project(np.ones(g.image_shape), g)
    assert g in rays._TABLES


def test_tables_go_with_their_geometry():
    g = _geometry().replace(n_det=41)
    rays.joseph_rays(g, g.grid)
    before = len(rays._TABLES)
    del g
    gc.collect()
    assert len(rays._TABLES) == before - 1
