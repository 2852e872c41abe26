"""recon — physics-derived ("known operator") CT reconstruction networks.

Geometries (:class:`ParallelBeam`, :class:`FanBeam`; per view :class:`ParallelBeamVec`, :class:`FanBeamVec`), exact differentiable projection operators
(:func:`project`, its exact adjoint :func:`backproject`, the FBP backprojector :func:`weighted_backproject`),
analytic filtered backprojection (:func:`fbp`, :class:`FBPRecipe`), rebinning, analytic phantoms, scan readers
(:func:`read_scan`) and the known-operator networks (:class:`LearnedFBP`, :class:`ViewUpsampledFBP`,
:class:`FanToParallel`, :class:`ParallelToFan`, :func:`load_model`). Units: mm, attenuation in 1/mm, sinograms
in line integrals.

The package is layered, each layer importing only those below it: :mod:`recon.geometry` →
:mod:`recon.operators` → :mod:`recon.analytic` → :mod:`recon.models` → :mod:`recon.simulation` →
:mod:`recon.training` → :mod:`recon.evaluation` → :mod:`recon.app`; :mod:`recon.io` reads and writes files and
depends on the geometry only. :mod:`recon.interop` converts geometries and operators to and from ASTRA, ODL and
deepinv (imported explicitly: ``from recon.interop import to_astra``).
"""

from . import metrics
from ._version import __version__
from .analytic.fdk import fdk
from .analytic.filtered_backprojection import FBP
from .analytic.iterative import cgls, sirt
from .analytic.rebinning import Rebinning, rebin
from .analytic.recipe import FBPRecipe, fbp
from .analytic.tv import tv_reconstruct
from .analytic.weights import LimitedAngleWarning
from .geometry import (ConeBeam, ConeBeamVec, VolumeGrid, FanBeam, FanBeamVec, Geometry, ImageGrid, ParallelBeam, ParallelBeamVec, as_circular,
                       as_vectors, geometry_differences, geometry_from_dict, geometry_from_json)
from .interop import astra_backend as _astra_backend  # noqa: F401  (registers backend="astra", imports no ASTRA)
from .io import Scan, ScanWarning, read_scan
from .models import (FanToParallel, LearnedFBP, ParallelToFan, ViewUpsampledFBP, fit_filter, load_model,
                     save_model)
from .operators import (Backprojector, Projector, WeightedBackprojector, backproject, project,
                        weighted_backproject, weighted_backproject_adjoint)
from .simulation.phantoms import make_phantom, shepp_logan
from .simulation.shapes import Ellipse, Polygon, rasterize, ray_transform, rectangle

__all__ = [
    "__version__", "metrics", "fdk", "ConeBeam", "ConeBeamVec", "VolumeGrid", "ImageGrid", "Geometry", "ParallelBeam", "FanBeam", "ParallelBeamVec", "FanBeamVec", "as_vectors", "as_circular",
    "geometry_from_dict", "geometry_from_json",
    "geometry_differences", "project", "backproject", "weighted_backproject", "weighted_backproject_adjoint",
    "Projector", "Backprojector", "WeightedBackprojector", "Ellipse", "Polygon", "rectangle", "ray_transform",
    "rasterize", "shepp_logan", "make_phantom", "fbp", "FBP", "FBPRecipe", "LimitedAngleWarning", "rebin",
    "Rebinning", "sirt", "cgls", "tv_reconstruct", "Scan", "ScanWarning", "read_scan", "LearnedFBP",
    "ViewUpsampledFBP", "FanToParallel", "ParallelToFan", "fit_filter", "save_model", "load_model",
]
