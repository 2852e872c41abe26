"""The one registry of model types: the name a training config uses (``[model] type``) and the class a model
file records, and the config table → model builder."""

from __future__ import annotations

from typing import Any, Optional

import torch

from ..geometry import Geometry, VolumeGrid
from .base import KnownOperatorModel
from .conversion import FanToParallel, GeometryConversion, ParallelToFan
from .learned_fbp import LearnedFBP
from .learned_fdk import LearnedFDK
from .modl import LearnedGradientDescentCG
from .unrolled import LearnedGradientDescent, LearnedPrimalDual, UnrolledNetwork
from .view_upsampled import ViewUpsampledFBP

__all__ = ["MODELS", "model_class", "build_model"]

# config type → class; a model file records the class name (both name the same entry)
MODELS: dict[str, type[KnownOperatorModel]] = {
    "learned_fbp": LearnedFBP, "view_upsampled_fbp": ViewUpsampledFBP, "fan_to_parallel": FanToParallel,
    "parallel_to_fan": ParallelToFan, "geometry_conversion": GeometryConversion,
    "learned_gradient_descent": LearnedGradientDescent, "learned_primal_dual": LearnedPrimalDual,
    "learned_gradient_descent_cg": LearnedGradientDescentCG,
    "learned_fdk": LearnedFDK}  # type: ignore[dict-item]  (LearnedFDK: the same interface, on volumes)

# [model] keys that belong to other kinds of model
_UNROLLED = ("iterations", "channels", "memory", "mu_scale", "dilations", "coarse", "cg_steps")
_NOT_UNROLLED = ("grid_pixel", "grid_size", "learn", "filter_basis", "weight_basis", "complete_views", "view_knots",
                 "det_knots", "det_max")
_MISPLACED = {"learned_fbp": ("grid_pixel", "grid_size", "factor", "view_knots", "det_knots", "det_max", *_UNROLLED),
              "view_upsampled_fbp": ("grid_pixel", "grid_size", "learn", "filter_basis", "weight_basis",
                                     "complete_views", *_UNROLLED),
              "learned_gradient_descent": (*_NOT_UNROLLED, "memory", "cg_steps"),
              "learned_gradient_descent_cg": (*_NOT_UNROLLED, "memory"),
              "learned_primal_dual": (*_NOT_UNROLLED, "cg_steps")}
_CONVERSION_MISPLACED = ("positivity", "complete_views", *_UNROLLED)


def model_class(name: str) -> type[KnownOperatorModel]:
    """The model class of a config type (``"learned_fbp"``) or a class name (``"LearnedFBP"``);
    ``ValueError`` naming the known ones otherwise."""
    for key, cls in MODELS.items():
        if name in (key, cls.__name__):
            return cls
    raise ValueError(f"unknown model type {name!r}; known: {sorted(MODELS)}")


def build_model(model_table: dict[str, Any], geometry: Geometry, target_geometry: Optional[Geometry] = None,
                dtype: torch.dtype = torch.float32, warn: bool = True, volume: Optional[VolumeGrid] = None
                ) -> KnownOperatorModel:
    """The model of a config's ``[model]`` table for data in ``geometry`` (→ ``target_geometry`` for
    conversions; volumes on ``volume`` for cone beam); ``warn``: whether an image model warns about limited-angle
    data (not when the arc was asked for)."""
    m = dict(model_table)
    kind = m.pop("type")
    cls = model_class(kind)
    if (cls is LearnedFDK) != (getattr(geometry, "ndim", 2) == 3):
        raise ValueError(f"a {kind} model does not reconstruct {'cone-beam' if cls is not LearnedFDK else '2-D'} "
                         f"data; {'learned_fdk is the cone-beam model' if cls is not LearnedFDK else 'choose a 2-D model'}")
    if cls is LearnedFDK:
        for key in [k for k in m if k not in ("filter", "cutoff", "learn", "filter_basis", "weight_basis",
                                              "positivity")]:
            raise ValueError(f"[model] {key} does not apply to a learned_fdk model")
        return LearnedFDK(geometry, volume, dtype=dtype, warn=warn, **m)
    if "weight_basis" in m:
        m["weight_basis"] = tuple(m["weight_basis"])
    for key in _MISPLACED.get(kind, _CONVERSION_MISPLACED):
        if key in m and (key != "learn" or m[key] != "filter"):
            raise ValueError(f"[model] {key} does not apply to a {kind} model")
    if cls is ViewUpsampledFBP or issubclass(cls, UnrolledNetwork):
        m.pop("learn", None)  # its 2-D filter (its CNNs) is all it learns
    if cls.output_kind == "image":
        return cls(geometry, dtype=dtype, warn=warn, **m)
    if target_geometry is None:
        raise ValueError(f"a {kind} model needs a dataset with target sinograms (simulate with [target_geometry])")
    return cls(geometry, target_geometry, dtype=dtype, **m)
