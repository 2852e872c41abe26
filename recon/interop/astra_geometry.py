"""recon geometries as ASTRA Toolbox 2-D geometries and back.

ASTRA's 2-D conventions are recon's (:class:`recon.ParallelBeam`, :class:`recon.FanBeam`): for view θ a parallel
ray runs along ``(sin θ, −cos θ)``, a fan source sits at ``sod · (sin θ, −cos θ)``, the detector's ``u`` axis
points along ``(cos θ, sin θ)``, and image row 0 is the top (largest y). ASTRA has no length unit: the volume
window sets it. :func:`to_astra` writes the window in mm, so every length is in mm and an ASTRA projection of a
μ image (1/mm) is in line integrals, as :func:`recon.project`'s. Geometries made in ASTRA's habitual pixel units
(default window ``±N/2``) come back with ``unit_mm`` = the pixel size in mm.

Vector forms (ASTRA's documentation, "2D geometries"): ``parallel_vec`` rows ``(rayX, rayY, dX, dY, uX, uY)`` —
ray direction, detector centre, vector from detector element 0 to 1; ``fanflat_vec`` rows
``(srcX, srcY, dX, dY, uX, uY)`` with the source instead of the ray. ASTRA's 2-D geometries have no arc
(equiangular) detector.

Reference: W. van Aarle et al., "Fast and flexible X-ray tomography using the ASTRA toolbox", *Opt. Express*
24(22), 25129 (2016).
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from ..geometry import (FanBeam, FanBeamVec, Geometry, ImageGrid, ParallelBeam, ParallelBeamVec, VolumeGrid,
                        as_circular, check_grid)
from .astra_common import _check_unit, _import_astra
from .astra_cone import CONE_TYPES, cone_from_astra, cone_to_astra

__all__ = ["to_astra", "from_astra", "astra_vectors"]

PROJECTION_TYPES = ("parallel", "fanflat", "parallel_vec", "fanflat_vec")


def astra_vectors(geometry: Geometry, unit_mm: float = 1.0) -> np.ndarray:
    """The ``[n_views, 6]`` rows of ASTRA's ``parallel_vec`` (ray, detector centre, u) or ``fanflat_vec``
    (source, detector centre, u) for ``geometry``, lengths in units of ``unit_mm`` mm."""
    _no_arc(geometry)
    v = geometry.view_vectors()
    first = v.source if v.model == "parallel" else v.source / unit_mm
    return np.concatenate([first, v.detector / unit_mm, v.u / unit_mm], axis=1)


def _no_arc(geometry: Geometry) -> None:
    if not isinstance(geometry, Geometry):
        raise TypeError(f"to_astra needs a recon geometry, got {type(geometry).__name__}")
    if geometry.model == "arc":
        raise ValueError("ASTRA's 2-D geometries have no arc (equiangular) detector; use recon's operators for "
                         "this geometry, or rebin it to a flat detector first (recon.rebin)")


def to_astra(geometry: Geometry, vectors: Optional[bool] = None, unit_mm: float = 1.0,
             grid: Optional[Union[ImageGrid, VolumeGrid]] = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """ASTRA's ``(vol_geom, proj_geom)`` of a parallel or flat-fan ``geometry``, lengths in units of ``unit_mm``
    mm: 1 (default) for mm, so that ASTRA's projections are line integrals and its FBP is μ in 1/mm;
    ``geometry.pixel_size`` for ASTRA's habitual pixel units (then projections are in pixel lengths).

    ``vectors``: ``True`` for ``parallel_vec``/``fanflat_vec``, ``False`` for the plain ``parallel``/``fanflat``
    form; by default the plain form unless the detector is offset (the plain forms cannot hold an offset).
    An arc detector raises ``ValueError``. ``grid`` (:class:`recon.ImageGrid`, default the geometry's) sets the
    volume window, its centre included.

    A cone-beam geometry (:class:`recon.ConeBeam`, :class:`recon.ConeBeamVec`, flat detector) needs ``grid`` (a
    :class:`recon.VolumeGrid`) and becomes ``cone_vec`` (:func:`recon.interop.astra_cone.cone_to_astra`: recon's
    volumes are ASTRA's arrays unchanged, projections transposed to ASTRA's ``[rows, n_views, cols]``).
    """
    if getattr(geometry, "ndim", 2) == 3:
        if vectors is False:
            raise ValueError("recon writes cone-beam scans to ASTRA as cone_vec only (vectors=True or None)")
        if grid is None:
            raise ValueError("to_astra of a cone-beam geometry needs grid=recon.VolumeGrid(...)")
        return cone_to_astra(geometry, grid, unit_mm)
    astra = _import_astra()
    _no_arc(geometry)
    _check_unit(unit_mm)
    fan = geometry.point_source
    if isinstance(geometry, (ParallelBeamVec, FanBeamVec)):
        if vectors is False:
            raise ValueError(f"a {type(geometry).__name__} is given view by view: ASTRA holds it only as "
                             f"{'fanflat_vec' if fan else 'parallel_vec'} (vectors=True)")
        vectors = True
    if vectors is None:
        vectors = geometry.det_offset != 0.0
    if not vectors and geometry.det_offset != 0.0:
        raise ValueError(f"ASTRA's plain {'fanflat' if fan else 'parallel'} geometry has "
                         f"no detector offset (this one is {geometry.det_offset:g} mm): use vectors=True")
    grid = check_grid(grid, geometry)
    half = grid.size * grid.pixel_size / 2.0 / unit_mm
    (ox, oy) = (o / unit_mm for o in grid.offset)
    vol = astra.create_vol_geom(grid.size, grid.size, ox - half, ox + half, oy - half, oy + half)
    if vectors:
        return vol, astra.create_proj_geom("fanflat_vec" if fan else "parallel_vec", geometry.n_det,
                                           astra_vectors(geometry, unit_mm))
    spacing = geometry.det_spacing / unit_mm
    if fan:
        proj = astra.create_proj_geom("fanflat", spacing, geometry.n_det, np.array(geometry.angles),
                                      geometry.sod / unit_mm, (geometry.sdd - geometry.sod) / unit_mm)
    else:
        proj = astra.create_proj_geom("parallel", spacing, geometry.n_det, np.array(geometry.angles))
    return vol, proj


def _grid(vol_geom: dict[str, Any], unit_mm: float) -> tuple[int, float]:
    """Image size and pixel size (mm) of a square, centred ASTRA volume geometry."""
    try:
        rows, cols = int(vol_geom["GridRowCount"]), int(vol_geom["GridColCount"])
        o = vol_geom["option"]
        x0, x1, y0, y1 = (float(o[k]) for k in ("WindowMinX", "WindowMaxX", "WindowMinY", "WindowMaxY"))
    except (KeyError, TypeError) as err:
        raise ValueError(f"not an ASTRA 2-D volume geometry (missing {err})") from None
    px, py = (x1 - x0) / cols, (y1 - y0) / rows
    scale = max(abs(x0), abs(x1), abs(y0), abs(y1))
    if rows != cols or not np.isclose(px, py, rtol=1e-9):
        raise ValueError(f"recon's image grid is square with square pixels; this volume is {rows} × {cols} pixels "
                         f"of {px:g} × {py:g}")
    if abs(x0 + x1) > 1e-9 * scale or abs(y0 + y1) > 1e-9 * scale:
        raise ValueError(f"recon's image grid is centred on the rotation axis; this volume's window is "
                         f"x {x0:g}…{x1:g}, y {y0:g}…{y1:g}")
    return rows, px * unit_mm


def from_astra(vol_geom: dict[str, Any], proj_geom: dict[str, Any], unit_mm: float = 1.0) -> Geometry:
    """The recon geometry of ASTRA's ``(vol_geom, proj_geom)`` (``parallel``, ``fanflat``, ``parallel_vec``,
    ``fanflat_vec``); ``unit_mm`` is the length of ASTRA's unit in mm (1 for :func:`to_astra`'s geometries, the
    pixel size in mm for geometries in pixel units). Vector geometries of one circular scan come back as
    :class:`~recon.ParallelBeam`/:class:`~recon.FanBeam`, any other (a tilted detector, a wobbling source) as
    :class:`~recon.ParallelBeamVec`/:class:`~recon.FanBeamVec`. A volume recon cannot hold (non-square or
    off-centre) raises ``ValueError``.

    ASTRA's ``cone`` and ``cone_vec`` come back as :class:`recon.ConeBeam` (a circular orbit) or
    :class:`recon.ConeBeamVec` (:func:`recon.interop.astra_cone.cone_from_astra`); their volume is
    :func:`recon.interop.astra_cone.grid_from_astra` of ``vol_geom``."""
    _check_unit(unit_mm)
    kind = proj_geom.get("type") if isinstance(proj_geom, dict) else None
    if kind in CONE_TYPES:
        return cone_from_astra(proj_geom, unit_mm)
    if kind not in PROJECTION_TYPES:
        raise ValueError(f"recon reads ASTRA projection geometries of type {', '.join(PROJECTION_TYPES + CONE_TYPES)}; "
                         f"got {kind!r}")
    size, px = _grid(vol_geom, unit_mm)
    n_det = int(proj_geom["DetectorCount"])
    common = {"n_det": n_det, "image_size": size, "pixel_size": px}
    if kind.endswith("_vec"):
        return _from_vectors(proj_geom["Vectors"], kind == "fanflat_vec", common, unit_mm)
    angles = np.asarray(proj_geom["ProjectionAngles"], dtype=np.float64)
    spacing = float(proj_geom["DetectorWidth"]) * unit_mm
    if kind == "fanflat":
        sod = float(proj_geom["DistanceOriginSource"]) * unit_mm
        return FanBeam(angles, det_spacing=spacing, sod=sod,
                       sdd=sod + float(proj_geom["DistanceOriginDetector"]) * unit_mm, **common)
    return ParallelBeam(angles, det_spacing=spacing, **common)


def _from_vectors(rows, fan: bool, common: dict[str, Any], unit_mm: float) -> Geometry:
    """A circular geometry where the vectors describe one, else the per-view geometry of the same rows."""
    arr = np.array(rows, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 6 or len(arr) == 0:
        raise ValueError(f"ASTRA 2-D vectors must be [n_views, 6], got shape {arr.shape}")
    arr[:, 2:] *= unit_mm
    if fan:
        arr[:, :2] *= unit_mm
    geometry = FanBeamVec(arr, **common) if fan else ParallelBeamVec(arr, **common)
    try:
        return as_circular(geometry)
    except ValueError:
        return geometry
