"""Scan geometries: plain data describing where the rays of a 2D CT scan go.

Conventions (shared with ASTRA, so that HTC2022 data and ASTRA results compare without flips):

* Lengths in mm, angles in radians.
* Image: array ``[row, col]`` of ``image_size`` x ``image_size`` pixels of ``pixel_size`` mm, centred on
  the rotation axis. Pixel centre: ``x = (col - (N-1)/2) * pixel_size``, ``y = ((N-1)/2 - row) * pixel_size``
  (row 0 is the +y edge).
* Detector: ``n_det`` elements; element ``j`` sits at ``u_j = (j - (n_det-1)/2) * det_spacing + det_offset``
  along the detector axis ``(cos θ, sin θ)``.
* Parallel beam: ray direction ``(sin θ, -cos θ)``; point ``(x, y)`` falls on ``u = x cos θ + y sin θ``.
* Fan beam: source at ``sod * (sin θ, -cos θ)``, detector centre at ``(sdd - sod) * (-sin θ, cos θ)``.
  Flat detector: ``u_j`` is a position in mm on the detector line (at distance ``sdd`` from the source).
  Arc (equiangular) detector: ``u_j`` is an arc length at radius ``sdd``, i.e. fan angle ``γ_j = u_j / sdd``.
* Sinograms: ``[..., n_views, n_det]``; images ``[..., N, N]``.

Geometries are immutable, validate their arguments, print readably and round-trip through
``to_dict``/``from_dict`` (and JSON), so that datasets and trained models can record the geometry they
were made for.
"""

from .beams import FanBeam, Geometry, ParallelBeam
from .cone import ConeBeam, ConeBeamVec, ConeGeometry, ConeVectors
from .grid import ImageGrid, check_grid
from .volume import VolumeGrid
from .vector_beams import FanBeamVec, ParallelBeamVec, as_circular, as_vectors
from .vectors import DetectorMap, ViewVectors
from .tilt import tilted_circle, tilted_fan, untilt_sinogram
from .relations import (arc_views, check_geometry, evenly_spaced_views, geometry_differences, geometry_from_dict,
                        geometry_from_json, view_indices)

__all__ = ["ConeBeam", "ConeBeamVec", "ConeGeometry", "ConeVectors", "VolumeGrid", "ImageGrid", "check_grid", "arc_views", "Geometry", "ParallelBeam", "FanBeam", "ParallelBeamVec", "FanBeamVec",
           "as_vectors", "as_circular", "ViewVectors", "DetectorMap", "check_geometry", "geometry_from_dict", "geometry_from_json",
           "geometry_differences", "view_indices", "evenly_spaced_views", "tilted_fan", "tilted_circle",
           "untilt_sinogram"]
