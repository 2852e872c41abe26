"""Projection operators: forward projection ``A``, its exact adjoint ``Aᵀ``, and the FBP backprojector ``B_w``,
computed by any registered back-end (:func:`backends`, :func:`register_backend`)."""

from .functional import BACKENDS, backproject, project, weighted_backproject, weighted_backproject_adjoint
from .modules import Backprojector, Projector, WeightedBackprojector
from .registry import Backend, backends, register_backend

__all__ = ["BACKENDS", "project", "backproject", "weighted_backproject", "weighted_backproject_adjoint",
           "Projector", "Backprojector", "WeightedBackprojector", "Backend", "backends", "register_backend"]
