"""recon — physics-derived ("known operator") CT reconstruction networks.

Geometries (:class:`ParallelBeam`, :class:`FanBeam`), exact differentiable projection operators
(:func:`project`, its exact adjoint :func:`backproject`, the FBP backprojector :func:`weighted_backproject`),
analytic filtered backprojection (:func:`fbp`), rebinning, analytic phantoms, scan readers
(:func:`read_scan`) and the known-operator networks (:class:`LearnedFBP`, :class:`FanToParallel`,
:class:`ParallelToFan`, :func:`load_model`). Units: mm, attenuation in 1/mm, sinograms in line integrals.
"""

from ._version import __version__  # noqa: E402

from .simulation.shapes import Ellipse, Polygon, rasterize, ray_transform, rectangle  # noqa: E402
from .analytic.filtered_backprojection import FBP, fbp  # noqa: E402
from .geometry import (FanBeam, Geometry, ParallelBeam, geometry_differences, geometry_from_dict,  # noqa: E402
                       geometry_from_json)
from .io import Scan, read_scan  # noqa: E402
from .analytic.iterative import cgls, sirt  # noqa: E402
from .models import FanToParallel, LearnedFBP, ParallelToFan, fit_filter, load_model, save_model  # noqa: E402
from .operators import (Backprojector, Projector, WeightedBackprojector, backproject, project,  # noqa: E402
                        weighted_backproject, weighted_backproject_adjoint)
from .simulation.phantoms import make_phantom, shepp_logan  # noqa: E402
from .analytic.rebinning import Rebinning, rebin  # noqa: E402

__all__ = [
    "__version__", "Geometry", "ParallelBeam", "FanBeam", "geometry_from_dict", "geometry_from_json",
    "geometry_differences", "project", "backproject", "weighted_backproject", "weighted_backproject_adjoint",
    "Projector", "Backprojector", "WeightedBackprojector", "Ellipse", "Polygon", "rectangle", "ray_transform",
    "rasterize", "shepp_logan", "make_phantom", "fbp", "FBP", "rebin", "Rebinning", "sirt", "cgls", "Scan",
    "read_scan", "LearnedFBP", "FanToParallel", "ParallelToFan", "fit_filter", "save_model", "load_model",
]
