"""Learned gradient descent with exact data consistency: every learned update is followed by conjugate-gradient
steps on the proximal data problem, as in MoDL (Aggarwal, Mani & Jacob, "MoDL: model-based deep learning
architecture for inverse problems", IEEE TMI 38(2) 2019), around this package's exact ``A`` and ``Aᵀ``.

Iteration ``k`` (image ``x`` in units of ``mu_scale``, sinogram ``p``)::

    z   = x + Λ_k(x, C⁻¹ Aᵀ R⁻¹ (A x − p), x_0)              (the update of LearnedGradientDescent)
    x   ≈ argmin_x ‖A x − p‖² + λ_k ‖x − z‖²                  (``cg_steps`` CG steps from z)

``λ_k = softplus(θ_k) · s`` is learned per iteration, relative to ``s``, the mean of ``Aᵀ A 1`` (the scale of
``AᵀA`` on smooth images); it starts at ``START_WEIGHT · s``. CG solves ``(AᵀA + λ_k I) x = Aᵀ p + λ_k z`` per image of the
batch (its own step lengths), differentiably: the gradient of the loss reaches the CNNs through the exact
operators. The learned updates cannot make an image that disagrees with the measured data where the data
determine it, the limitation of the plain unrolled networks on sparse views (their data residual was 4× TV's).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..geometry import Geometry
from ..operators.functional import backproject, project
from ..operators.rays import cached
from .unrolled import LearnedGradientDescent

__all__ = ["LearnedGradientDescentCG", "proximal_cg", "START_WEIGHT"]

#: λ_k / s before training: weak enough that a few CG steps move the image towards the data (λ = s barely moves
#: it: a 30-view test image's data residual 0.155 → 0.143 after 3 × 10 steps; 0.03 s: → 0.05)
START_WEIGHT = 0.03


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image inner products ``[B, N, N] × [B, N, N] → [B, 1, 1]``."""
    return (a * b).sum(dim=(-2, -1), keepdim=True)


def proximal_cg(z: torch.Tensor, rhs_data: torch.Tensor, normal, lam: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` conjugate-gradient steps on ``(AᵀA + λ I) x = Aᵀp + λ z`` from ``x = z``.

    ``z`` ``[B, N, N]``; ``rhs_data`` = ``Aᵀp`` ``[B, N, N]``; ``normal(x)`` = ``AᵀA x``; ``lam`` a positive scalar
    tensor. Each image of the batch has its own step lengths; a converged image (zero residual) stays put."""
    x = z
    r = rhs_data - normal(x)
    d = r
    rr = _dot(r, r)
    tiny = torch.finfo(z.dtype).tiny
    for _ in range(steps):
        q = normal(d) + lam * d
        alpha = rr / _dot(d, q).clamp_min(tiny)
        x = x + alpha * d
        r = r - alpha * q
        rr_next = _dot(r, r)
        d = r + (rr_next / rr.clamp_min(tiny)) * d
        rr = rr_next
    return x


class LearnedGradientDescentCG(LearnedGradientDescent):
    """:class:`LearnedGradientDescent` whose every update is followed by ``cg_steps`` conjugate-gradient steps on
    the proximal data problem with a learned weight (see the module docstring). Other parameters as
    :class:`~recon.models.unrolled.UnrolledNetwork`.

    Parameters
    ----------
    cg_steps : int
        CG steps per iteration (each one ``A`` and one ``Aᵀ``); 0 is plain learned gradient descent.
    """

    kind = "gradient_descent_cg"

    def __init__(self, geometry: Geometry, *args: Any, cg_steps: int = 4, **kwargs: Any) -> None:
        if int(cg_steps) != cg_steps or cg_steps < 0:
            raise ValueError(f"cg_steps must be a non-negative integer, got {cg_steps!r}")
        self.cg_steps = int(cg_steps)
        super().__init__(geometry, *args, **kwargs)

    def build(self, dtype: torch.dtype) -> None:
        super().build(dtype)
        start = math.log(math.expm1(START_WEIGHT))  # λ_k = START_WEIGHT · s at first
        self.log_weights = torch.nn.Parameter(torch.full((self.iterations,), start, dtype=dtype))

    def normal_scale(self, frame: Geometry) -> float:
        """``s``: the mean of ``Aᵀ A 1`` over the pixels ``A`` sees (cached per frame)."""
        def make() -> float:
            ones = torch.ones(frame.image_shape, dtype=torch.float64)
            normal = backproject(project(ones, frame, backend="numba"), frame, backend="numba")
            return float(normal[normal > 0].mean())
        return cached(frame, ("unrolled_normal_scale",), make)

    def iterate(self, x0: torch.Tensor, sinogram: torch.Tensor, frame: Geometry) -> torch.Tensor:
        inv_r = self.preconditioners(frame, sinogram.dtype, sinogram.device)[0]
        data = sinogram / self.mu_scale
        rhs = backproject(data, frame, backend=self.backend, check_finite=False)
        scale = self.normal_scale(frame)

        def normal(x: torch.Tensor) -> torch.Tensor:
            return backproject(project(x, frame, backend=self.backend, check_finite=False), frame,
                               backend=self.backend, check_finite=False)

        x = x0
        for update, log_weight in zip(self.updates, self.log_weights):
            gradient = self.normal_adjoint(self.normal_forward(x, frame) - data * inv_r, frame)
            x = x + update(torch.stack([x, gradient, x0], dim=1)).squeeze(1)
            if self.cg_steps:
                x = proximal_cg(x, rhs, normal, torch.nn.functional.softplus(log_weight) * scale, self.cg_steps)
        return x

    def learned_parts(self) -> str:
        return super().learned_parts() + f", {self.cg_steps} CG data-consistency steps per iteration"

    def _extra_config(self) -> dict[str, Any]:
        return {"cg_steps": self.cg_steps}
