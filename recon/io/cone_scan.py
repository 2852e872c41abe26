"""A measured cone-beam scan: projections of line integrals plus the 3-D geometry they were measured in.

What the readers return for a file whose geometry is cone beam (a sidecar with ``[geometry] type = "cone"``):
``recon.fdk(scan.projections, scan.geometry, grid)`` reconstructs it. Its methods derive sparse-view and short-scan
experiments without modifying the original, keeping the geometry exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .._checks import integer
from ..geometry import ConeGeometry, VolumeGrid, evenly_spaced_views
from .scan import measured_values

__all__ = ["ConeScan"]


@dataclass(frozen=True, eq=False)
class ConeScan:
    """Projections ``[n_views, rows, cols]`` (float32 line integrals) with their cone-beam ``geometry``; ``path``,
    ``format`` and ``info`` as :class:`recon.io.Scan` has them."""

    projections: np.ndarray
    geometry: ConeGeometry
    path: str = ""
    format: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.geometry, ConeGeometry):
            raise TypeError(f"a ConeScan needs a cone-beam geometry, got {type(self.geometry).__name__}")
        p = np.asarray(self.projections)
        if p.shape != self.geometry.proj_shape:
            raise ValueError(f"projections of shape {p.shape} do not match the geometry: (n_views, rows, cols) = "
                             f"{self.geometry.proj_shape}")
        object.__setattr__(self, "projections", measured_values(p, "projections", "have"))
        object.__setattr__(self, "info", dict(self.info))

    @property
    def n_views(self) -> int:
        return int(self.projections.shape[0])

    def __repr__(self) -> str:
        return (f"ConeScan({self.format or 'array'}, projections {tuple(self.projections.shape)}, {self.geometry!r}"
                f"{', path=' + repr(self.path) if self.path else ''})")

    def _take_views(self, indices: np.ndarray, step: str) -> "ConeScan":
        info = dict(self.info)
        info["history"] = list(info.get("history", [])) + [step]
        return ConeScan(self.projections[indices], self.geometry.replace(angles=self.geometry.angles[indices]),
                        self.path, self.format, info)

    def select_views(self, count: int) -> "ConeScan":
        """``count`` evenly spaced views (sparse view)."""
        n = integer("count", count, low=1, high=self.n_views)
        return self._take_views(evenly_spaced_views(self.n_views, n), f"select_views(count={n})")

    def select_angles(self, start: float, stop: float) -> "ConeScan":
        """The views with angles (mod 2π) in ``[start, stop)`` radians, measured from ``start``."""
        rel = np.mod(self.geometry.angles - start, 2 * np.pi)
        span = stop - start
        keep = np.flatnonzero(rel < (span if span >= 2 * np.pi else np.mod(span, 2 * np.pi)))
        if keep.size == 0:
            raise ValueError(f"no view lies in [{np.degrees(start):g}°, {np.degrees(stop):g}°)")
        return self._take_views(keep[np.argsort(rel[keep])], f"select_angles({start:.6g}, {stop:.6g})")

    def default_grid(self, size: Optional[int] = None, voxel_size: Optional[float] = None,
                     slices: Optional[int] = None) -> VolumeGrid:
        """The volume a reconstruction uses by default: ``cols × cols`` voxels in-plane and ``rows`` slices of the
        detector pitch at the isocentre (column pitch × sod/sdd) — the field of view the detector sees — or the
        ``size``, ``voxel_size`` and ``slices`` given."""
        rows, cols = self.geometry.det_shape
        if voxel_size is None:
            voxel_size = self.geometry.isocentre_pitch()[1]
        n = cols if size is None else size
        return VolumeGrid((rows if slices is None else slices, n, n), voxel_size)
