"""recon — physics-derived ("known operator") CT reconstruction networks.

Geometries (:class:`ParallelBeam`, :class:`FanBeam`), exact differentiable projection operators
(:func:`project`, its exact adjoint :func:`backproject`, the FBP backprojector :func:`weighted_backproject`),
analytic filtered backprojection (:func:`fbp`) and analytic phantoms. Units: mm, attenuation in 1/mm, sinograms in line integrals.
"""

from .analytic import Ellipse, rasterize, ray_transform
from .fbp import FBP, fbp
from .geometry import (FanBeam, Geometry, ParallelBeam, geometry_differences, geometry_from_dict,
                       geometry_from_json)
from .operators import (Backprojector, Projector, WeightedBackprojector, backproject, project,
                        weighted_backproject, weighted_backproject_adjoint)
from .iterative import cgls, sirt
from .phantoms import shepp_logan
from .rebin import Rebinning, rebin

__version__ = "0.1.0"

__all__ = [
    "__version__", "Geometry", "ParallelBeam", "FanBeam", "geometry_from_dict", "geometry_from_json", "geometry_differences",
    "project", "backproject", "weighted_backproject", "weighted_backproject_adjoint",
    "Projector", "Backprojector", "WeightedBackprojector", "Ellipse", "ray_transform", "rasterize", "shepp_logan",
    "fbp", "FBP", "rebin", "Rebinning", "sirt", "cgls",
]
