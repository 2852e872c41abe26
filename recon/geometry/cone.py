"""Cone-beam scan geometries (3-D) and their per-view vector form.

Conventions (design notes §7, extending :mod:`recon.geometry`): the rotation axis is z; a view at angle β has its
source at ``sod·(sin β, −cos β, 0)``, the detector centre at ``(sdd − sod)·(−sin β, cos β, 0)`` plus the offsets,
the detector's u axis (columns) along ``(cos β, sin β, 0)`` and its rows along z, **row 0 at +z** (as image row 0 is
+y). Projections are arrays ``[..., n_views, rows, cols]`` of line integrals, volumes ``[..., nz, ny, nx]``
(:class:`recon.VolumeGrid`). Column ``c`` sits at ``u_c = (c − (cols−1)/2)·Δu + offset_col`` and row ``r`` at
``v_r = ((rows−1)/2 − r)·Δv + offset_row`` (mm on the detector; for a cylindrical detector ``u_c`` is the arc
length at radius ``sdd``, fan angle ``γ_c = u_c / sdd``). A one-row detector through the source plane is the
2-D fan geometry :class:`recon.FanBeam` of the same numbers.

:class:`ConeVectors` is the normal form every cone kernel reads — ASTRA's ``cone_vec`` rows (source, detector
centre, u = the step from one column to the next, v = the step from one row to the next), plus, for a cylindrical
detector, the cylinder about the source on which the columns lie.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import integer, real
from .beams import FanBeam, _angles
from .cone_vectors import ConeVectors
from .values import ParameterValue
from .grid import LENGTHS
from .volume import VolumeGrid

__all__ = ["ConeVectors", "ConeGeometry", "ConeBeam", "ConeBeamVec", "cone_source_clearance"]  # (ConeVectors: .cone_vectors)


def _pair(name: str, value: Any, low: float, high: float) -> tuple[float, float]:
    vals = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(vals) != 2:
        raise ValueError(f"{name} must be one length or two (row, col) in mm, got {value!r}")
    return tuple(real(f"{name} {a}", v, low, high, unit="mm") for a, v in zip(("row", "col"), vals))  # type: ignore


def cone_source_clearance(grid: VolumeGrid, vectors: ConeVectors) -> np.ndarray:
    """How far (mm) the farthest-reaching corner of ``grid`` stays in front of each view's source, along the
    detector normal (flat) or in the plane (cylindrical), ``[n_views]``: every value must be positive."""
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
    half = 0.5 * (np.array(grid.shape[::-1]) + 1) * np.array(grid.voxel_size[::-1])
    points = np.asarray(grid.offset)[None, :] + corners * half[None, :]
    if vectors.model == "flat":
        normal = vectors.normal
    else:
        normal = vectors.cylinder()[0]
    depth = np.einsum("vk,pk->vp", normal, points) - np.einsum("vk,vk->v", normal, vectors.source)[:, None]
    return depth.min(axis=1)


class ConeGeometry(ParameterValue):
    """Common base of the cone-beam geometries (not instantiated directly)."""

    kind = ""
    ndim = 3
    point_source = True
    det_shape: tuple[int, int]

    @property
    def n_views(self) -> int:
        return int(self.cone_vectors().n_views)

    @property
    def proj_shape(self) -> tuple[int, int, int]:
        """Shape of one projection stack, ``(n_views, rows, cols)``."""
        return (self.n_views,) + self.det_shape

    @property
    def model(self) -> str:
        return self.cone_vectors().model

    def cone_vectors(self) -> ConeVectors:  # pragma: no cover - abstract
        raise NotImplementedError

    def isocentre_pitch(self) -> tuple[float, float]:
        """Detector pitch (row, col) in mm scaled to the rotation axis (divided by the magnification), the mean
        over the views: the natural voxel size."""
        vec = self.cone_vectors()
        depth = np.einsum("ij,ij->i", vec.detector - vec.source, vec.normal)
        axis = np.abs(np.einsum("ij,ij->i", vec.source, vec.normal))
        scale = axis / depth
        return (float(np.mean(np.linalg.norm(vec.v, axis=1) * scale)),
                float(np.mean(np.linalg.norm(vec.u, axis=1) * scale)))

    def unseen_fraction(self, grid: VolumeGrid, samples: int = 16) -> float:
        """The fraction of ``grid``'s volume (``samples``³ voxel centres spread over it) that no view's detector
        sees: voxels the cone never reaches, where any reconstruction is zero or guesswork."""
        axes = [np.linspace(c[0], c[-1], min(samples, c.size)) for c in (grid.x, grid.y, grid.z)]
        points = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)
        col, row = self.cone_vectors().project_points(points)
        rows, cols = self.det_shape
        seen = ((col > -0.5) & (col < cols - 0.5) & (row > -0.5) & (row < rows - 0.5)).any(axis=0)
        return float(1.0 - seen.mean())

    def check_grid(self, grid: Any, name: str = "grid") -> VolumeGrid:
        """``grid`` if it is a :class:`recon.VolumeGrid` that stays in front of every source, else ``TypeError`` /
        ``ValueError`` naming ``name``."""
        if not isinstance(grid, VolumeGrid):
            raise TypeError(f"{name} must be a recon.VolumeGrid for a cone-beam geometry, got {type(grid).__name__}")
        clearance = cone_source_clearance(grid, self.cone_vectors())
        if clearance.min() <= 0:
            raise ValueError(f"{name} {grid!r} reaches the source of view {int(np.argmin(clearance))}: the volume "
                             "must lie between every source and its detector (sod > the volume's half-diagonal)")
        return grid


class ConeBeam(ConeGeometry):
    """Circular cone-beam geometry (3-D), flat or cylindrical detector.

    Parameters
    ----------
    angles : array_like, shape (n_views,)
        View angles β in radians (any set: full, short scan, limited angle, sparse).
    det_shape : (rows, cols)
        Detector pixels.
    det_spacing : float or (row_mm, col_mm)
        Pixel pitch on the detector in mm (for a cylindrical detector the column pitch is arc length at ``sdd``).
    sod, sdd : float
        Source–rotation-axis and source–detector distances in mm, ``0 < sod < sdd``.
    detector : "flat" or "cylindrical"
        Flat panel, or columns on a cylinder about the source's axis (parallel to z).
    det_offset : (row_mm, col_mm)
        Shift of the detector centre along its rows' direction (+z) and columns' direction (u), mm.

    Examples
    --------
    >>> import numpy as np, recon
    >>> g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 8, endpoint=False), (4, 6), 1.0, sod=100.0, sdd=150.0)
    >>> g.proj_shape
    (8, 4, 6)
    """

    kind = "cone"

    def __init__(self, angles, det_shape, det_spacing, sod: float, sdd: float, detector: str = "flat",
                 det_offset: Any = (0.0, 0.0)) -> None:
        object.__setattr__(self, "angles", _angles(angles))
        try:
            rows, cols = det_shape
        except (TypeError, ValueError):
            raise TypeError(f"det_shape must be (rows, cols), got {det_shape!r}") from None
        object.__setattr__(self, "det_shape", (integer("det_shape rows", rows, low=1, integral_float=True),
                                               integer("det_shape cols", cols, low=1, integral_float=True)))
        object.__setattr__(self, "det_spacing", _pair("det_spacing", det_spacing, *LENGTHS))
        object.__setattr__(self, "det_offset", _pair("det_offset", det_offset, -LENGTHS[1], LENGTHS[1]))
        object.__setattr__(self, "sod", real("sod", sod, *LENGTHS, unit="mm"))
        object.__setattr__(self, "sdd", real("sdd", sdd, *LENGTHS, unit="mm"))
        if not self.sod < self.sdd:
            raise ValueError(f"sod must be smaller than sdd (the rotation axis lies between source and detector); "
                             f"got sod={self.sod:g} mm, sdd={self.sdd:g} mm")
        if detector not in ("flat", "cylindrical"):
            raise ValueError(f"detector must be 'flat' or 'cylindrical', got {detector!r}")
        object.__setattr__(self, "detector", detector)
        object.__setattr__(self, "_vectors", None)

    angles: np.ndarray
    det_spacing: tuple[float, float]
    det_offset: tuple[float, float]
    sod: float
    sdd: float
    detector: str

    def _params(self) -> dict[str, Any]:
        return {"angles": self.angles, "det_shape": self.det_shape, "det_spacing": self.det_spacing,
                "sod": self.sod, "sdd": self.sdd, "detector": self.detector, "det_offset": self.det_offset}

    def cone_vectors(self) -> ConeVectors:
        if self._vectors is None:
            b = self.angles
            zero = np.zeros_like(b)
            centre = np.stack([-np.sin(b), np.cos(b), zero], axis=1)
            along = np.stack([np.cos(b), np.sin(b), zero], axis=1)
            up = np.stack([zero, zero, np.ones_like(b)], axis=1)
            source = -self.sod * centre
            row_mm, col_mm = self.det_spacing
            off_row, off_col = self.det_offset
            flat = self.detector == "flat"
            detector = source + self.sdd * centre + off_row * up + (off_col * along if flat else 0.0)
            vectors = ConeVectors(source, detector, col_mm * along, -row_mm * up, self.det_shape,
                                  model=self.detector, col_offset=0.0 if flat else off_col)
            object.__setattr__(self, "_vectors", vectors)
        return self._vectors

    def central_fan(self, grid: VolumeGrid | None = None) -> FanBeam:
        """The 2-D fan geometry of the detector row through the source plane (columns, pitch, column offset,
        distances; an arc detector for a cylindrical one), on ``grid``'s x axis (default: 1 px of 1 mm)."""
        size, pixel = (grid.shape[2], grid.voxel_size[2]) if grid is not None else (1, 1.0)
        return FanBeam(self.angles, n_det=self.det_shape[1], det_spacing=self.det_spacing[1], image_size=size,
                       pixel_size=pixel, sod=self.sod, sdd=self.sdd, det_offset=self.det_offset[1],
                       detector="flat" if self.detector == "flat" else "arc")

    def supersampled(self, s: int) -> "ConeBeam":
        """The same scan with every detector pixel split into ``s × s`` (same centre, pitch / s)."""
        rows, cols = self.det_shape
        return self.replace(det_shape=(rows * s, cols * s),
                            det_spacing=(self.det_spacing[0] / s, self.det_spacing[1] / s))

    def row_coords(self) -> np.ndarray:
        """Height ``v_r`` (mm on the detector) of every row's centre, ``[rows]``, decreasing (row 0 at +z)."""
        rows = self.det_shape[0]
        return ((rows - 1) / 2.0 - np.arange(rows)) * self.det_spacing[0] + self.det_offset[0]

    def __repr__(self) -> str:
        a = np.rad2deg(self.angles)
        views = f"{a.size} views, {a.min():.4g}° … {a.max():.4g}°" if a.size > 1 else f"1 view at {a[0]:.4g}°"
        off = "" if self.det_offset == (0.0, 0.0) else f" offset ({self.det_offset[0]:g}, {self.det_offset[1]:g}) mm"
        return (f"ConeBeam({views}; {self.detector} detector {self.det_shape[0]} × {self.det_shape[1]} of "
                f"{self.det_spacing[0]:g} × {self.det_spacing[1]:g} mm{off}; sod={self.sod:g}, sdd={self.sdd:g})")


class ConeBeamVec(ConeGeometry):
    """Cone-beam geometry from per-view vectors (ASTRA's ``cone_vec``): helical, wobbling, tilted or calibrated
    trajectories with a flat detector.

    Parameters
    ----------
    vectors : array_like, shape (n_views, 12)
        Per view: source (x, y, z), detector centre, u (the step from one column to the next, mm) and v (the step
        from one row to the next, mm); the conventions of :mod:`recon.geometry.cone`.
    det_shape : (rows, cols)
    """

    kind = "cone_vec"

    def __init__(self, vectors, det_shape) -> None:
        arr = np.array(vectors, dtype=np.float64, copy=True)
        if arr.ndim != 2 or arr.shape[1] != 12:
            raise ValueError(f"vectors must be [n_views, 12] (source, detector, u, v), got shape {arr.shape}")
        rows, cols = det_shape
        shape = (integer("det_shape rows", rows, low=1, integral_float=True),
                 integer("det_shape cols", cols, low=1, integral_float=True))
        vec = ConeVectors(arr[:, 0:3], arr[:, 3:6], arr[:, 6:9], arr[:, 9:12], shape)
        arr.flags.writeable = False
        object.__setattr__(self, "vectors", arr)
        object.__setattr__(self, "det_shape", shape)
        object.__setattr__(self, "_vectors", vec)

    vectors: np.ndarray

    def _params(self) -> dict[str, Any]:
        return {"vectors": self.vectors, "det_shape": self.det_shape}

    def cone_vectors(self) -> ConeVectors:
        return self._vectors

    def supersampled(self, s: int) -> "ConeBeamVec":
        """The same scan with every detector pixel split into ``s × s`` (same centre, pitch / s)."""
        vec = np.array(self.vectors)
        vec[:, 6:12] /= s
        return ConeBeamVec(vec, (self.det_shape[0] * s, self.det_shape[1] * s))

    def __repr__(self) -> str:
        return f"ConeBeamVec({self.n_views} views; flat detector {self.det_shape[0]} × {self.det_shape[1]})"
