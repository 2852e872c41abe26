"""Known-operator networks: every known operator fixed, only the unknown part (filter, weights) learned.

* :class:`LearnedFBP` — ``x = B_w · F⁻¹ diag(k) F · (W ⊙ p)``, any geometry and scan range.
* :class:`ViewUpsampledFBP` — ``x = B_w^(U·V) · F₂⁻¹ diag(k) F₂ · Z_U (W ⊙ p)``: sparse-view full scans, a 2-D
  view-circulant filter with angular upsampling.
* :class:`FanToParallel`, :class:`ParallelToFan` — geometry conversion ``p_t = A_t · B_w,s · K · (W ⊙ p_s)``.
* :func:`fit_filter` — the least-squares optimal shared filter (fit mode, and the check that training
  converged).
* :func:`save_model` / :func:`load_model` — models stored with their geometry.
"""

from .base import LEARNABLE_PARTS, KnownOperatorModel
from .conversion import FanToParallel, GeometryConversion, ParallelToFan
from .learned_fbp import LearnedFBP
from .lstsq import FilterFit, fit_filter, mean_squared_error
from .parameters import LearnableFilter, LearnableWeights, hat_basis
from .view_upsampled import ViewCirculantFilter, ViewUpsampledFBP
from .serialization import MODEL_CLASSES, load_model, save_model, training_summary

__all__ = ["KnownOperatorModel", "LEARNABLE_PARTS", "LearnedFBP", "ViewUpsampledFBP", "ViewCirculantFilter",
           "GeometryConversion", "FanToParallel", "ParallelToFan", "FilterFit", "fit_filter", "mean_squared_error", "LearnableFilter", "LearnableWeights",
           "hat_basis", "MODEL_CLASSES", "save_model", "load_model", "training_summary"]
