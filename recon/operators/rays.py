"""Geometry → the numbers the projection kernels consume (computed once per geometry, in float64).

Ray-driven (Joseph) discretisation of the ray transform ``A``. Each ray ``point + t * direction`` is
*row-driven* when it is closer to vertical (``|d_y| >= |d_x|``) and *column-driven* otherwise. A row-driven
ray is sampled once on every image row ``r``, at the fractional column ``c(r) = a + b * r``, with linear
interpolation between the two neighbouring pixels of that row; its samples are summed and multiplied by the
path length per row, ``w = pixel_size / |d_y|`` (mm). Column-driven rays are the same with rows and columns
swapped (``r(c) = a + b * c``, ``w = pixel_size / |d_x|``). This makes ``A`` map attenuation (1/mm) to line
integrals, and its transpose ``Aᵀ`` uses exactly the same coefficients, so the adjoint is exact.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..geometry import Geometry, ImageGrid

__all__ = ["JosephRays", "joseph_rays", "PixelDrivenParams", "pixel_driven_params", "cached", "MODEL_CODES"]

# geometry -> {key: derived tables}; an entry lives as long as its geometry (geometries are immutable values)
_TABLES: "weakref.WeakKeyDictionary[Geometry, dict[Any, Any]]" = weakref.WeakKeyDictionary()


def cached(geometry: Geometry, key: Any, make: Callable[[], Any]) -> Any:
    """The table ``key`` derived from ``geometry``, computed by ``make()`` on first use and kept while the
    geometry lives (equal geometries share their tables)."""
    tables = _TABLES.setdefault(geometry, {})
    if key not in tables:
        tables[key] = make()
    return tables[key]


@dataclass(frozen=True)
class JosephRays:
    """Per-ray coefficients of the Joseph projector, each ``[n_views, n_det]`` float64 unless noted.

    ``a``, ``b``: fractional index of the interpolated axis as ``a + b * k`` for driving index ``k``;
    ``w``: path length per driving step (mm); ``row_driven``: bool.
    ``row_ptr``/``row_ray`` (and ``col_ptr``/``col_ray``): CSR lists of the row- (column-) driven rays of
    each view, ``ptr`` int64 ``[n_views + 1]``, ``ray`` int64 detector indices.
    """

    a: np.ndarray
    b: np.ndarray
    w: np.ndarray
    row_driven: np.ndarray
    row_ptr: np.ndarray
    row_ray: np.ndarray
    col_ptr: np.ndarray
    col_ray: np.ndarray


def _csr(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    counts = mask.sum(axis=1)
    ptr = np.zeros(mask.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    ray = np.nonzero(mask)[1].astype(np.int64)  # row-major order: grouped by view, ascending detector
    return ptr, ray


def joseph_rays(geometry: Geometry, grid: ImageGrid) -> JosephRays:
    """Joseph coefficients of ``geometry`` on ``grid`` (computed once per geometry and grid, see :func:`cached`)."""
    return cached(geometry, ("joseph", grid), lambda: _joseph_rays(geometry, grid))


def _joseph_rays(geometry: Geometry, grid: ImageGrid) -> JosephRays:
    point, direction = geometry.rays()
    px = grid.pixel_size
    half = (grid.size - 1) / 2.0
    # in pixel units about the grid's centre
    sx, sy = (point[..., 0] - grid.offset[0]) / px, (point[..., 1] - grid.offset[1]) / px
    dx, dy = direction[..., 0], direction[..., 1]
    row_driven = np.abs(dy) >= np.abs(dx)
    with np.errstate(divide="ignore", invalid="ignore"):
        # row-driven: y_r = half - r (pixel units); x = sx + (y_r - sy) * dx/dy; c = x + half
        slope_r = dx / dy
        a_row = sx + (half - sy) * slope_r + half
        b_row = -slope_r
        # column-driven: x_c = c - half; y = sy + (x_c - sx) * dy/dx; r = half - y
        slope_c = dy / dx
        a_col = half - sy + (half + sx) * slope_c
        b_col = -slope_c
        w = np.where(row_driven, px / np.abs(dy), px / np.abs(dx))
    a = np.where(row_driven, a_row, a_col)
    b = np.where(row_driven, b_row, b_col)
    row_ptr, row_ray = _csr(row_driven)
    col_ptr, col_ray = _csr(~row_driven)
    return JosephRays(a=np.ascontiguousarray(a), b=np.ascontiguousarray(b), w=np.ascontiguousarray(w),
                      row_driven=row_driven, row_ptr=row_ptr, row_ray=row_ray, col_ptr=col_ptr, col_ray=col_ray)


# ---- pixel-driven (FBP) backprojector ---------------------------------------------------------------------

#: The kernels' code for each detector model of the vector form (:data:`recon.geometry.vectors.MODELS`).
MODEL_CODES = {"parallel": 0, "flat": 1, "arc": 2}


@dataclass(frozen=True)
class PixelDrivenParams:
    """What the weighted (FBP) backprojector needs, from the geometry's detector map
    (:class:`recon.geometry.DetectorMap`) in coordinates about the grid's centre: ``coef`` ``[n_views, 10]``
    float64 (``tx, ty, t0, lx, ly, l0, R``, the position of detector element -1, one over the pitch, and ``D``,
    the origin's distance along the normal in the flat weight ``(D / L)²``), the ``model`` code
    (:data:`MODEL_CODES`), the view pairs that share coordinates (``primary``, ``opposite``, int64) and
    ``n_det``."""

    coef: np.ndarray
    model: int
    primary: np.ndarray
    opposite: np.ndarray
    n_det: int


def pixel_driven_params(geometry: Geometry, grid: ImageGrid) -> PixelDrivenParams:
    """Parameters of the weighted backprojector for ``geometry`` on ``grid`` (computed once per geometry and
    grid)."""
    return cached(geometry, ("pixel", grid), lambda: _pixel_driven_params(geometry, grid))


def _pixel_driven_params(geometry: Geometry, grid: ImageGrid) -> PixelDrivenParams:
    m = geometry.view_vectors().detector_map()
    ox, oy = grid.offset  # x = ox + x' about the grid's centre: fold the offset into t0 and l0
    t0 = m.t0 if grid.centred else m.t0 + m.tx * ox + m.ty * oy
    l0 = m.l0 if grid.centred else m.l0 + m.lx * ox + m.ly * oy
    coef = np.stack([m.tx, m.ty, t0, m.lx, m.ly, l0, m.radius, m.s0 - m.pitch, 1.0 / m.pitch, m.l0], axis=1)
    if grid.centred:
        primary, opposite = m.opposite_views()
    else:  # a point and its mirror about the grid's centre do not meet the detector alike in opposite views
        primary, opposite = np.arange(m.n_views, dtype=np.int64), np.full(m.n_views, -1, dtype=np.int64)
    return PixelDrivenParams(coef=np.ascontiguousarray(coef), model=MODEL_CODES[m.model], primary=primary,
                             opposite=opposite, n_det=m.n_det)

