"""Interoperability with the field's other tools, each imported lazily (none is a dependency of ``recon``).

* ASTRA (:func:`to_astra`, :func:`from_astra`): ``(vol_geom, proj_geom)`` in the plain ``parallel``/``fanflat``
  and the vector ``parallel_vec``/``fanflat_vec`` forms, lengths in mm (ASTRA has no unit of its own: the
  volume window fixes it), and back from any of the four forms, pixel-unit geometries included; cone-beam scans as
  ``cone_vec`` and back from ``cone``/``cone_vec`` (:mod:`recon.interop.astra_cone`: :func:`grid_from_astra`,
  :func:`projections_to_astra`, :func:`projections_from_astra`).
* ASTRA as an operator back-end: ``recon.project(x, g, backend="astra")`` (and ``backproject``) run ASTRA's
  projectors (:mod:`recon.interop.astra_backend`); registered when ``recon`` is imported.
* ODL (:func:`to_odl`, :func:`image_to_odl`, :func:`image_from_odl`): the reconstruction space and a
  ``Parallel2dGeometry`` or ``FanBeamGeometry``, the arc detector as ODL's circular detector.
* deepinv (:func:`to_deepinv`): a ``deepinv.physics.LinearPhysics`` whose ``A`` is :func:`recon.project` and
  ``A_adjoint`` the exact adjoint :func:`recon.backproject`, on any device, batched ``[B, C, N, N]``.
"""

from ..operators import register_backend
from .astra_backend import make_astra_backend
from .astra_cone import grid_from_astra, projections_from_astra, projections_to_astra
from .astra_geometry import from_astra, to_astra
from .deepinv_physics import to_deepinv
from .odl_geometry import image_from_odl, image_to_odl, to_odl

__all__ = ["to_astra", "from_astra", "grid_from_astra", "projections_to_astra", "projections_from_astra", "to_odl", "image_to_odl", "image_from_odl", "to_deepinv"]

register_backend("astra", make_astra_backend, lazy=True)
