"""A disc cut into cells: the holes of the "cells" layout of :func:`recon.simulation.phantoms.disc_with_holes`
(HTC2022-like discs whose holes are the Voronoi cells of random points, separated by walls)."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
from scipy.spatial import HalfspaceIntersection

from .checks import value_range
from .shapes import Ellipse, Polygon, Shape, _shoelace

__all__ = ["cell_parameters", "maybe_cells"]


def cell_parameters(cells: Any, n_cells: Any, wall: Any) -> tuple[float, tuple[int, int], tuple[float, float]]:
    """Validated ``(probability, (min, max) cell count, (min, max) wall thickness in mm)``."""
    probability = float(cells)
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"cells must be a probability in [0, 1], got {cells!r}")
    count, thickness = value_range("n_cells", n_cells, integer=True, low=1), value_range("wall", wall)
    if thickness[0] <= 0:
        raise ValueError(f"wall must be > 0 mm, got {wall!r}")
    return probability, count, thickness


def maybe_cells(rng: np.random.Generator, radius: float, mu: float, rim: float,
                parameters: tuple[float, tuple[int, int], tuple[float, float]]) -> Optional[list[Shape]]:
    """With the probability of ``parameters`` (:func:`cell_parameters`) the disc of ``radius`` mm and ``mu`` cut
    into cells (the disc, then its holes), else ``None``; draws nothing when the probability is 0."""
    probability, count, thickness = parameters
    if probability == 0 or rng.uniform() >= probability:
        return None
    cell_rim = rng.uniform(max(rim, 1.5), max(rim, 1.5) + 3.5)
    return [Ellipse(mu, (0.0, 0.0), (radius, radius))] + _cells(rng, radius, mu, cell_rim, count, thickness)


def _cells(rng: np.random.Generator, radius: float, mu: float, rim: float, n_cells: tuple[int, int],
           wall: tuple[float, float]) -> list[Shape]:
    """The holes of a disc cut into cells (see :func:`disc_with_holes`): the Voronoi cell of each seed within the
    disc shrunk by ``rim``, each bisector moved by half the wall towards the seed (scipy's half-space
    intersection), kept as a hole with probability ¾."""
    inner = radius - rim
    n = int(rng.integers(n_cells[0], n_cells[1] + 1))
    w = rng.uniform(*wall)
    seeds = inner * np.sqrt(rng.uniform(size=n))[:, None] * np.stack(
        [np.cos(t := rng.uniform(0, 2 * np.pi, n)), np.sin(t)], axis=1)
    k = 48  # the disc shrunk by the rim, as the half-planes of its inscribed 48-gon: n·x − inner·cos(π/k) ≤ 0
    normals = np.stack([np.cos(2 * np.pi * np.arange(k) / k), np.sin(2 * np.pi * np.arange(k) / k)], axis=1)
    disc = np.hstack([normals, np.full((k, 1), -inner * math.cos(math.pi / k))])
    holes: list[Shape] = []
    for i in range(n):
        others = np.delete(seeds, i, axis=0)
        d = others - seeds[i]
        dist = np.linalg.norm(d, axis=1)
        if np.any(dist < w + 0.5) or np.linalg.norm(seeds[i]) > inner * math.cos(math.pi / k) - 0.5:
            continue  # too close to a neighbour or the rim for a cell around it
        u = d / dist[:, None]
        bisectors = np.hstack([u, -(0.5 * dist - 0.5 * w)[:, None] - (u * seeds[i]).sum(1, keepdims=True)])
        try:
            vertices = HalfspaceIntersection(np.vstack([disc, bisectors]), seeds[i]).intersections
        except Exception:  # qhull: degenerate cell
            continue
        centre = vertices.mean(0)
        order = np.argsort(np.arctan2(vertices[:, 1] - centre[1], vertices[:, 0] - centre[0]))
        ring = vertices[order]
        keep = np.r_[True, np.linalg.norm(np.diff(ring, axis=0), axis=1) > 1e-6]  # merged duplicates
        ring = ring[keep]
        if len(ring) >= 3 and abs(_shoelace(ring)) >= 2.0 and rng.uniform() < 0.75:
            holes.append(Polygon(-mu, ring))
    return holes
