"""The least-squares optimum of a known-operator model's shared filter.

With everything but the filter fixed, a model's output is affine in the filter coefficients ``c``
(:meth:`recon.models.base.KnownOperatorModel.linear_terms`): ``out = o + Φ c``. The mean squared error over
a training set, ``L(c) = Σ_s ‖o_s + Φ_s c − t_s‖² / M``, is then a quadratic whose minimiser solves the
normal equations ``(Σ Φ_sᵀ Φ_s) c = Σ Φ_sᵀ (t_s − o_s)``. This gives the optimal filter directly (a fast
"fit" mode) and an independent check that gradient training converged: its loss cannot go below
:attr:`FilterFit.loss`.

Cost: one application of the fixed operator per basis function and sample, so use a filter basis
(``filter_basis`` of a few dozen hat functions) rather than every frequency bin for large data sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch

from .base import KnownOperatorModel

__all__ = ["FilterFit", "filter_normal_equations", "fit_filter", "mean_squared_error"]


@dataclass(frozen=True)
class FilterFit:
    """Result of :func:`fit_filter`: optimal coefficients ``[n_basis]``, the mean squared error they reach
    on the data (``loss``), the error of the current model (``loss_before``) and the number of samples."""

    coefficients: np.ndarray
    loss: float
    loss_before: float
    n_samples: int


def _check_shared_filter(model: KnownOperatorModel) -> None:
    if model.filter.per_view:
        raise ValueError("the least-squares fit is for a shared filter; this model learns one filter per view")


def filter_normal_equations(model: KnownOperatorModel, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
                            ) -> tuple[np.ndarray, np.ndarray, float, float, int, int]:
    """Accumulate ``G = Σ ΦᵀΦ`` ``[R, R]``, ``b = Σ Φᵀ(t − o)`` ``[R]``, ``Σ ‖t − o‖²``, ``Σ ‖t − out‖²`` (current
    coefficients), the number of output elements and of samples, over ``(sinogram, target)`` batches."""
    _check_shared_filter(model)
    r = model.filter.n_basis
    gram, rhs = np.zeros((r, r)), np.zeros(r)
    ss_offset = ss_current = 0.0
    elements = samples = 0
    c = model.filter.coefficients.detach().double().cpu().numpy()
    with torch.no_grad():
        for sinogram, target in batches:
            if sinogram.ndim == 2:  # a single sample without batch dimension
                sinogram, target = sinogram[None], target[None]
            offset, columns = model.linear_terms(sinogram)
            for s in range(offset.shape[0]):
                phi = columns[s].reshape(r, -1).double()
                res = (target[s].double() - offset[s].double()).reshape(-1)
                g_s = (phi @ phi.T).cpu().numpy()
                b_s = (phi @ res).cpu().numpy()
                ss = float(res @ res)
                gram += g_s
                rhs += b_s
                ss_offset += ss
                ss_current += ss - 2.0 * float(c @ b_s) + float(c @ g_s @ c)
                elements += res.numel()
                samples += 1
    return gram, rhs, ss_offset, ss_current, elements, samples


def fit_filter(model: KnownOperatorModel, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
               ridge: float = 1e-10, apply: bool = True) -> FilterFit:
    """Least-squares optimal shared-filter coefficients of ``model`` for ``(sinogram, target)`` batches
    (targets in the model's output space: images for a learned FBP, sinograms for a conversion network).

    ``ridge`` is a relative Tikhonov term (times the mean diagonal of ``G``) that only settles directions
    the data do not determine (e.g. frequencies above the cut-off of band-limited data). With ``apply``
    the coefficients are written into the model. Any output activation (positivity) is ignored.
    """
    gram, rhs, ss_offset, ss_current, elements, samples = filter_normal_equations(model, batches)
    if samples == 0:
        raise ValueError("fit_filter needs at least one (sinogram, target) sample")
    reg = ridge * max(float(np.mean(np.diag(gram))), np.finfo(float).tiny)
    coeffs = np.linalg.solve(gram + reg * np.eye(gram.shape[0]), rhs)
    loss = (ss_offset - 2.0 * coeffs @ rhs + coeffs @ gram @ coeffs) / elements
    if apply:
        with torch.no_grad():
            model.filter.coefficients.copy_(torch.as_tensor(coeffs, dtype=model.filter.coefficients.dtype))
    return FilterFit(coefficients=coeffs, loss=float(max(loss, 0.0)), loss_before=ss_current / elements,
                     n_samples=samples)


def mean_squared_error(model: torch.nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Mean squared error of ``model(sinogram)`` against ``target`` over all elements of all batches."""
    total, count = 0.0, 0
    with torch.no_grad():
        for sinogram, target in batches:
            out = model(sinogram)
            total += float(((out.double() - target.double()) ** 2).sum())
            count += out.numel()
    if count == 0:
        raise ValueError("mean_squared_error needs at least one sample")
    return total / count
