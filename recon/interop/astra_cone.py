"""recon's cone-beam geometries and volume grids as ASTRA Toolbox 3-D geometries, and back.

ASTRA's 3-D volumes are arrays ``[slices, rows, cols]`` whose indices grow with z, y and x (its CUDA kernels map
voxel ``(k, i, j)`` to ``WindowMin + (index + ½)·voxel`` on every axis), while recon's volume row 0 is +y and slice
0 is +z (:mod:`recon.geometry.cone`). Instead of flipping data, :func:`cone_to_astra` hands ASTRA the scan turned by
180° about the x axis — ``(x, y, z) → (x, −y, −z)``, a rotation, so every line integral is unchanged — with its
volume window turned alike. Then

* a recon volume ``[nz, ny, nx]`` *is* ASTRA's volume array, unchanged;
* recon projections ``[n_views, rows, cols]`` are ASTRA's ``[rows, n_views, cols]`` transposed
  (:func:`projections_to_astra` / :func:`projections_from_astra`), row ``r`` being row ``r`` in both.

The projection geometry is always ``cone_vec`` (source, detector centre, u = column step, v = row step, per view).
:func:`cone_from_astra` reads ``cone`` and ``cone_vec`` (turning them back), recognising a circular orbit as
:class:`recon.ConeBeam` and any other trajectory as :class:`recon.ConeBeamVec`; :func:`grid_from_astra` reads the
volume. ASTRA's cylindrical ``cyl_cone_vec`` is not converted. Lengths are in mm (ASTRA has no unit: the window
fixes it); ``unit_mm`` is the length of ASTRA's unit where geometries were made in other units.

ASTRA's cone-beam projectors need CUDA: the conventions above are taken from ASTRA's ``geom_2vec`` and its CUDA
kernels (``cuda/3d/cone_fp.cu``), and ``tests/interop/test_astra_cone.py`` compares projections with ASTRA's
where ASTRA finds a GPU.

Reference: W. van Aarle et al., *Opt. Express* 24(22), 25129 (2016).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..geometry import ConeBeam, ConeBeamVec, VolumeGrid
from ..geometry.cone import ConeGeometry
from .astra_common import _check_unit, _import_astra

__all__ = ["CONE_TYPES", "cone_to_astra", "cone_from_astra", "grid_from_astra", "projections_to_astra", "projections_from_astra"]

#: The ASTRA projection geometries :func:`cone_from_astra` reads.
CONE_TYPES = ("cone", "cone_vec")

#: recon's frame → the frame handed to ASTRA (its own inverse): 180° about x.
_TURN = np.array([1.0, -1.0, -1.0])


def _turned(vectors: np.ndarray) -> np.ndarray:
    """``[n, 12]`` cone_vec rows with every vector turned by :data:`_TURN`."""
    return vectors * np.tile(_TURN, 4)[None, :]


def cone_to_astra(geometry: ConeGeometry, grid: VolumeGrid, unit_mm: float = 1.0) -> tuple[dict, dict]:
    """ASTRA's ``(vol_geom, proj_geom)`` (``cone_vec``) of a flat-detector cone-beam ``geometry`` and the volume
    ``grid``, lengths in units of ``unit_mm`` mm (see the module docstring for the data layout)."""
    astra = _import_astra()
    _check_unit(unit_mm)
    if not isinstance(geometry, (ConeBeam, ConeBeamVec)):
        raise TypeError(f"cone_to_astra needs a recon.ConeBeam or ConeBeamVec, got {type(geometry).__name__}")
    grid = geometry.check_grid(grid)
    vec = geometry.cone_vectors()
    if vec.model != "flat":
        raise ValueError("recon converts flat cone-beam detectors to ASTRA (cone_vec); this scan's detector is "
                         "cylindrical (ASTRA's cyl_cone_vec is not converted)")
    rows, cols = geometry.det_shape
    centre = np.asarray(grid.offset) * _TURN
    half = np.array([n * s for n, s in zip(grid.shape[::-1], grid.voxel_size[::-1])]) / 2.0
    lo, hi = (centre - half) / unit_mm, (centre + half) / unit_mm
    nz, ny, nx = grid.shape
    vol = astra.create_vol_geom(ny, nx, nz, lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])
    return vol, astra.create_proj_geom("cone_vec", rows, cols, _turned(vec.to_array()) / unit_mm)


def _cone_rows(proj_geom: dict) -> np.ndarray:
    """The ``[n_views, 12]`` cone_vec rows (ASTRA's frame and unit) of a ``cone`` or ``cone_vec`` geometry."""
    if proj_geom["type"] == "cone_vec":
        return np.array(proj_geom["Vectors"], dtype=np.float64)
    b = np.asarray(proj_geom["ProjectionAngles"], dtype=np.float64).ravel()
    sod, odd = float(proj_geom["DistanceOriginSource"]), float(proj_geom["DistanceOriginDetector"])
    du, dv = float(proj_geom["DetectorSpacingX"]), float(proj_geom["DetectorSpacingY"])
    s, c, z = np.sin(b), np.cos(b), np.zeros_like(b)
    return np.stack([sod * s, -sod * c, z, -odd * s, odd * c, z, du * c, du * s, z, z, z, dv + z], axis=1)


def _circular(vectors: np.ndarray, det_shape: tuple[int, int]) -> Any:
    """The :class:`ConeBeam` whose vectors these are (to 1e-9 of the scan's size), else ``None``."""
    src, det, u, v = vectors[:, 0:3], vectors[:, 3:6], vectors[:, 6:9], vectors[:, 9:12]
    sod = np.hypot(src[:, 0], src[:, 1])
    if np.any(sod <= 0):
        return None
    centre = -src / sod[:, None]
    centre[:, 2] = 0.0
    along = np.stack([centre[:, 1], -centre[:, 0], np.zeros(len(src))], axis=1)  # (cos β, sin β, 0)
    sdd = np.einsum("ij,ij->i", det - src, centre)
    try:
        angles = np.unwrap(np.arctan2(src[:, 0], -src[:, 1]))
        g = ConeBeam(angles - 2 * np.pi * np.floor(angles[0] / (2 * np.pi)), det_shape,
                     (float(np.mean(np.linalg.norm(v, axis=1))), float(np.mean(np.linalg.norm(u, axis=1)))),
                     sod=float(np.mean(sod)), sdd=float(np.mean(sdd)),
                     det_offset=(float(np.mean(det[:, 2])), float(np.mean(np.einsum("ij,ij->i", det - src, along)))))
    except (TypeError, ValueError):
        return None
    scale = float(np.abs(vectors).max())
    return g if np.allclose(g.cone_vectors().to_array(), vectors, rtol=0, atol=1e-9 * scale) else None


def cone_from_astra(proj_geom: dict, unit_mm: float = 1.0) -> ConeGeometry:
    """The recon geometry of ASTRA's ``cone`` or ``cone_vec`` ``proj_geom`` (lengths × ``unit_mm`` mm): a
    :class:`recon.ConeBeam` where the vectors describe a circular orbit with a flat detector, else a
    :class:`recon.ConeBeamVec`."""
    _check_unit(unit_mm)
    kind = proj_geom.get("type") if isinstance(proj_geom, dict) else None
    if kind not in CONE_TYPES:
        raise ValueError(f"cone_from_astra reads ASTRA projection geometries of type cone or cone_vec, got {kind!r}")
    try:
        shape = (int(proj_geom["DetectorRowCount"]), int(proj_geom["DetectorColCount"]))
        rows = _cone_rows(proj_geom)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"not a complete ASTRA {kind} geometry ({type(err).__name__}: {err})") from None
    if rows.ndim != 2 or rows.shape[1] != 12 or len(rows) == 0 or not np.all(np.isfinite(rows)):
        raise ValueError(f"ASTRA cone vectors must be finite [n_views, 12], got shape {rows.shape}")
    vectors = _turned(rows) * unit_mm
    return _circular(vectors, shape) or ConeBeamVec(vectors, shape)


def grid_from_astra(vol_geom: dict, unit_mm: float = 1.0) -> VolumeGrid:
    """The :class:`recon.VolumeGrid` of ASTRA's 3-D ``vol_geom`` (its window turned as in the module docstring)."""
    _check_unit(unit_mm)
    try:
        shape = tuple(int(vol_geom[k]) for k in ("GridSliceCount", "GridRowCount", "GridColCount"))
        o = vol_geom["option"]
        window = [(float(o[f"WindowMin{a}"]), float(o[f"WindowMax{a}"])) for a in "XYZ"]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"not an ASTRA 3-D volume geometry (missing or bad {err})") from None
    n_xyz = shape[::-1]
    voxel = [(hi - lo) / n * unit_mm for (lo, hi), n in zip(window, n_xyz)]
    centre = [(lo + hi) / 2.0 * unit_mm * t for (lo, hi), t in zip(window, _TURN)]
    return VolumeGrid(shape, tuple(voxel[::-1]), offset=tuple(centre))


def projections_to_astra(projections: Any) -> np.ndarray:
    """recon projections ``[n_views, rows, cols]`` → ASTRA's ``[rows, n_views, cols]`` (contiguous float32)."""
    p = np.asarray(projections)
    if p.ndim != 3:
        raise ValueError(f"projections must be [n_views, rows, cols], got shape {p.shape}")
    return np.ascontiguousarray(p.transpose(1, 0, 2), dtype=np.float32)


def projections_from_astra(data: Any) -> np.ndarray:
    """ASTRA projections ``[rows, n_views, cols]`` → recon's ``[n_views, rows, cols]``."""
    d = np.asarray(data)
    if d.ndim != 3:
        raise ValueError(f"ASTRA projections must be [rows, n_views, cols], got shape {d.shape}")
    return np.ascontiguousarray(d.transpose(1, 0, 2))
