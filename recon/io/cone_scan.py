"""A measured cone-beam scan: projections of line integrals plus the 3-D geometry they were measured in.

What the readers return for a file whose geometry is cone beam (a sidecar with ``[geometry] type = "cone"``):
``recon.fdk(scan.projections, scan.geometry, grid)`` reconstructs it. Its methods derive sparse-view and short-scan
experiments without modifying the original, keeping the geometry exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .._checks import integer, real
from ..geometry import ConeGeometry, VolumeGrid, arc_views, evenly_spaced_views
from .scan import Scan, measured_values

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

    def _take_views(self, indices: np.ndarray, step: str, angles: Optional[np.ndarray] = None) -> "ConeScan":
        """The views ``indices`` (their angles, or ``angles``), ``step`` noted in the history."""
        info = dict(self.info)
        info["history"] = list(info.get("history", [])) + [step]
        angles = self.geometry.angles[indices] if angles is None else angles
        return ConeScan(self.projections[indices], self.geometry.replace(angles=angles), self.path, self.format, info)

    def select_views(self, count: int) -> "ConeScan":
        """``count`` evenly spaced views (sparse view)."""
        n = integer("count (--views on the command line)", count, low=1, high=self.n_views)
        return self._take_views(evenly_spaced_views(self.n_views, n), f"select_views(count={n})")

    def select_angles(self, start: float, stop: float) -> "ConeScan":
        """The views on the arc from ``start`` to ``stop`` (radians, both included) in their order along it, their
        angles continued from ``start`` — the arcs of :meth:`recon.io.Scan.select_angles`."""
        start, stop = real("start", start), real("stop", stop)
        keep, angles = arc_views(self.geometry.angles, start, stop)
        return self._take_views(keep, f"select_angles({start:.6g}, {stop:.6g})", angles)

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

    def central_scan(self, half_rows: int = 2) -> Scan:
        """The detector rows through the source plane (the central row ± ``half_rows``) as a 2-D multi-slice
        :class:`recon.io.Scan` of the central fan (:meth:`recon.ConeBeam.central_fan`): what the rotation centre of
        a circular scan is estimated from (the central row is a fan scan; its neighbours nearly so)."""
        if self.geometry.kind != "cone":  # (ConeBeamVec: a trajectory given view by view)
            raise ValueError("the rotation centre of a cone-beam scan given by vectors is part of its vectors "
                             "(calibrate them); --center and --det-offset need a circular scan")
        centre = int(np.argmin(np.abs(self.geometry.row_coords())))
        rows = slice(max(centre - half_rows, 0), centre + half_rows + 1)
        sinograms = np.ascontiguousarray(np.moveaxis(self.projections[:, rows], 1, 0))
        return Scan(sinograms, self.geometry.central_fan(), self.path, self.format,
                    {**self.info, "rows": list(range(*rows.indices(self.geometry.det_shape[0])))})

    def with_column_offset(self, det_offset: float) -> "ConeScan":
        """The same projections with the detector's column offset (mm) set to ``det_offset`` (the rotation axis
        moved; the row offset kept)."""
        info = dict(self.info)
        info["history"] = list(info.get("history", [])) + [f"with_column_offset({det_offset:.6g})"]
        geometry = self.geometry.replace(det_offset=(self.geometry.det_offset[0], real("det_offset", det_offset)))
        return ConeScan(self.projections, geometry, self.path, self.format, info)
