"""Known-operator networks: every known operator fixed, only the unknown part (filter, weights) learned.

* :class:`LearnedFBP` — ``x = B_w · F⁻¹ diag(k) F · (W ⊙ p)``, any geometry and scan range.
* :class:`ViewUpsampledFBP` — ``x = B_w^(U·V) · F₂⁻¹ diag(k) F₂ · Z_U (W ⊙ p)``: sparse-view full scans, a 2-D
  view-circulant filter with angular upsampling.
* :class:`FanToParallel`, :class:`ParallelToFan` — geometry conversion ``p_t = A_t · B_w,s · K · (W ⊙ p_s)``.
* :class:`LearnedGradientDescent`, :class:`LearnedPrimalDual` — unrolled networks: iterations of an iterative
  reconstruction around the exact ``A`` and ``Aᵀ`` with small learned CNN updates, from the analytic start;
  one arc model serves every arc length in its range at any start; :class:`LearnedGradientDescentCG` adds
  conjugate-gradient data-consistency steps after every learned update (MoDL).
* :class:`LearnedFDK` — Würfl's FDK network for cone-beam volumes: redundancy weights (and filter) learned from
  Parker's start, cosine weights, ramp and backprojection fixed.
* :func:`fit_filter` — the least-squares optimal shared filter (fit mode, and the check that training
  converged).
* :data:`MODELS` / :func:`build_model` — the registry of model types; :func:`save_model` / :func:`load_model` —
  models stored with their geometry; :func:`apply_model` — a model applied to a measured scan.
"""

from .apply import apply_model, match_model_views
from .base import LEARNABLE_PARTS, KnownOperatorModel
from .conversion import FanToParallel, GeometryConversion, ParallelToFan
from .learned_fbp import LearnedFBP, tune_start
from .learned_fdk import LearnedFDK
from .modl import LearnedGradientDescentCG
from .lstsq import FilterFit, fit_filter, mean_squared_error
from .parameters import LearnableFilter, LearnableWeights, hat_basis
from .registry import MODELS, build_model, model_class
from .serialization import load_model, save_model, training_summary
from .unrolled import LearnedGradientDescent, LearnedPrimalDual, UnrolledNetwork
from .view_upsampled import ViewCirculantFilter, ViewUpsampledFBP

__all__ = ["KnownOperatorModel", "LEARNABLE_PARTS", "LearnedFBP", "tune_start", "ViewUpsampledFBP",
           "ViewCirculantFilter", "GeometryConversion", "FanToParallel", "ParallelToFan", "FilterFit", "fit_filter",
           "mean_squared_error", "LearnableFilter", "LearnableWeights", "hat_basis", "MODELS", "model_class",
           "build_model", "save_model", "load_model", "training_summary", "apply_model", "match_model_views",
           "UnrolledNetwork", "LearnedGradientDescent", "LearnedPrimalDual", "LearnedGradientDescentCG",
           "LearnedFDK"]
