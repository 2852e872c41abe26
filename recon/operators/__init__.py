"""Projection operators: forward projection ``A``, its exact adjoint ``Aᵀ``, and the FBP backprojector ``B_w``."""

from .functional import BACKENDS, backproject, project, weighted_backproject, weighted_backproject_adjoint
from .modules import Backprojector, Projector, WeightedBackprojector

__all__ = ["BACKENDS", "project", "backproject", "weighted_backproject", "weighted_backproject_adjoint",
           "Projector", "Backprojector", "WeightedBackprojector"]
