"""recon geometries as ODL tomography geometries (``odl.applications.tomo`` in ODL ≥ 1.0, ``odl.tomo`` before).

ODL's 2-D defaults are recon's conventions: at angle 0 the source is at ``(0, −sod)`` (``src_to_det_init = (0,
1)``), the detector axis is ``(1, 0)``, and both rotate counter-clockwise with the angle; a parallel detector's
axis is ``(cos θ, sin θ)`` too. The arc detector is ODL's circular detector of curvature radius ``sdd`` (centred
on the source), parametrised by the fan angle ``γ = u / sdd``. ODL's image arrays are indexed ``[x, y]``;
recon's are ``[row, col]`` with row 0 at the top: :func:`image_to_odl` / :func:`image_from_odl` convert.
Sinograms are ``[view, detector]`` in both (ODL needs increasing angles).

Reference: J. Adler, H. Kohr, O. Öktem, "Operator Discretization Library (ODL)", https://github.com/odlgroup/odl.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..geometry import FanBeam, Geometry, ParallelBeam

__all__ = ["to_odl", "image_to_odl", "image_from_odl"]


def _import_odl() -> tuple[Any, Any]:
    try:
        import odl
    except ImportError:
        raise ImportError("recon.interop.to_odl needs ODL: pip install odl") from None
    try:
        from odl.applications import tomo  # ODL >= 1.0
    except ImportError:  # ODL < 1.0
        from odl import tomo
    return odl, tomo


def to_odl(geometry: Geometry, dtype: str = "float32") -> tuple[Any, Any]:
    """``(reco_space, odl_geometry)`` of ``geometry``: the image space ``[−N·px/2, N·px/2]²`` (mm) of N × N
    pixels, and a ``Parallel2dGeometry`` or ``FanBeamGeometry`` (flat, or circular for the arc detector) with
    angle nodes exactly ``geometry.angles`` and detector nodes at the element positions (mm, or fan angles in
    radians for the arc). ODL needs strictly increasing angles: sort the views first."""
    odl, tomo = _import_odl()
    if not isinstance(geometry, (ParallelBeam, FanBeam)):
        raise TypeError(f"to_odl needs a recon.ParallelBeam or recon.FanBeam, got {type(geometry).__name__}")
    angles = geometry.angles
    if angles.size > 1 and not np.all(np.diff(angles) > 0):
        raise ValueError("ODL needs strictly increasing angles; reorder the views first "
                         "(order = np.argsort(geometry.angles): geometry.replace(angles=geometry.angles[order]) and "
                         "sinogram[..., order, :])")
    half = geometry.image_size * geometry.pixel_size / 2.0
    space = odl.uniform_discr([-half, -half], [half, half], (geometry.image_size,) * 2, dtype=dtype)
    step = float(np.median(np.diff(angles))) if angles.size > 1 else 2 * np.pi
    apart = odl.nonuniform_partition(angles, min_pt=angles[0] - step / 2, max_pt=angles[-1] + step / 2)
    lo = -geometry.n_det * geometry.det_spacing / 2.0 + geometry.det_offset
    hi = lo + geometry.n_det * geometry.det_spacing
    if isinstance(geometry, ParallelBeam):
        return space, tomo.Parallel2dGeometry(apart, odl.uniform_partition(lo, hi, geometry.n_det))
    kwargs: dict[str, Any] = {"src_radius": geometry.sod, "det_radius": geometry.sdd - geometry.sod}
    if geometry.detector == "arc":
        lo, hi = lo / geometry.sdd, hi / geometry.sdd
        kwargs["det_curvature_radius"] = geometry.sdd
    return space, tomo.FanBeamGeometry(apart, odl.uniform_partition(lo, hi, geometry.n_det), **kwargs)


def image_to_odl(image: np.ndarray) -> np.ndarray:
    """recon's ``[..., row, col]`` image (row 0 at the top) as ODL's ``[..., x, y]`` array."""
    return np.swapaxes(np.asarray(image)[..., ::-1, :], -1, -2)


def image_from_odl(array: np.ndarray) -> np.ndarray:
    """ODL's ``[..., x, y]`` array as recon's ``[..., row, col]`` image (inverse of :func:`image_to_odl`)."""
    return np.swapaxes(np.asarray(array), -1, -2)[..., ::-1, :]
