"""Total-variation regularised reconstruction by the primal–dual algorithm of Chambolle and Pock.

Solves, for each sinogram of a batch,

    min_x  ½ ‖A x − p‖² + λ · TV(x)   subject to  0 ≤ x ≤ upper (either bound optional),

with ``A`` the exact ray transform of :mod:`recon.operators` (attenuation in 1/mm → line integrals) and the
isotropic total variation ``TV(x) = Σ_pixels ‖(∇x)_ij‖₂`` of forward differences of μ between neighbouring
pixels (Neumann boundary), so ``λ`` is in units of line integral² per (1/mm); it is tuned on data like every
other baseline (:func:`tune_tv`).

Two step rules:

* ``preconditioned=True`` (default): the diagonal preconditioning of Pock & Chambolle (2011) with α = 1 —
  per-ray dual steps ``σ = 1 / A1``, ``½`` for the gradient, per-pixel primal steps ``τ = 1 / (Aᵀ1 + 4)`` —
  which needs no operator norm and converges in a few hundred iterations where plain steps need thousands;
* ``preconditioned=False``: scalar steps ``σ = τ = 0.99 / ‖K‖`` with ``K = [A; ∇]``, the norm from power
  iteration, computed once per geometry and device.

Iterations stop when the relative change ``‖x_k − x_{k−m}‖ / ‖x_k‖`` of every item falls below ``tol``
(checked every ``m = 10`` iterations) or after ``n_iter``.

References
----------
A. Chambolle, T. Pock, "A first-order primal-dual algorithm for convex problems with applications to
imaging", *J. Math. Imaging Vis.* 40, 120–145 (2011); T. Pock, A. Chambolle, "Diagonal preconditioning for
first order primal-dual algorithms in convex optimization", ICCV 2011; E. Y. Sidky, J. H. Jørgensen,
X. Pan, "Convex optimization problem prototyping for image reconstruction in computed tomography with the
Chambolle–Pock algorithm", *Phys. Med. Biol.* 57, 3065 (2012).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch

from .._checks import integer, real
from ..geometry import Geometry
from ..operators.functional import backproject, check_input, project
from ..operators.rays import cached

__all__ = ["tv_reconstruct", "TVResult", "tv_objective", "gradient", "divergence", "operator_norm", "tune_tv",
           "TunedTV", "LAMBDAS", "TV_ITERATIONS"]

#: The λ grid :func:`tune_tv` searches (line integral² per 1/mm), from almost none to strong smoothing.
LAMBDAS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
CHECK_EVERY = 10
#: Iterations of TV as a comparison baseline (preconditioned steps; fewer if the ``tol`` rule stops it first).
TV_ITERATIONS = 200


def gradient(x: torch.Tensor) -> torch.Tensor:
    """Forward differences ``[..., 2, N, N]`` of images ``[..., N, N]`` (rows, then columns; 0 at the last)."""
    g = torch.zeros(x.shape[:-2] + (2,) + x.shape[-2:], dtype=x.dtype, device=x.device)
    g[..., 0, :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    g[..., 1, :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return g


def divergence(g: torch.Tensor) -> torch.Tensor:
    """The negative adjoint of :func:`gradient` (``<∇x, g> = −<x, div g>``): ``[..., 2, N, N]`` →
    ``[..., N, N]``."""
    gr, gc = g[..., 0, :, :], g[..., 1, :, :]
    d = torch.zeros_like(gr)
    d[..., :-1, :] += gr[..., :-1, :]
    d[..., 1:, :] -= gr[..., :-1, :]
    d[..., :, :-1] += gc[..., :, :-1]
    d[..., :, 1:] -= gc[..., :, :-1]
    return d


def tv_objective(x: torch.Tensor, sinogram: torch.Tensor, geometry: Geometry, lam: float,
                 backend: Optional[str] = None) -> torch.Tensor:
    """``½ ‖A x − p‖² + λ TV(x)`` per item ``[...]``."""
    residual = project(x, geometry, backend=backend) - sinogram
    tv = gradient(x).square().sum(-3).sqrt().sum((-2, -1))
    return 0.5 * residual.square().sum((-2, -1)) + lam * tv


def operator_norm(geometry: Geometry, dtype: torch.dtype = torch.float64, device: str = "cpu",
                  n_iter: int = 30, backend: Optional[str] = None) -> float:
    """``‖K‖`` for ``K = [A; ∇]`` by power iteration on ``KᵀK`` (cached per geometry, dtype and device)."""
    def compute() -> float:
        x = torch.ones(geometry.image_shape, dtype=dtype, device=device)
        x = x / x.norm()
        value = 0.0
        for _ in range(n_iter):
            y = backproject(project(x, geometry, backend=backend), geometry, backend=backend) - divergence(gradient(x))
            value = float(y.norm())
            x = y / value
        return math.sqrt(value) * 1.01  # power iteration approaches from below
    return cached(geometry, ("tv_norm", str(dtype), str(device), n_iter), compute)


@dataclass
class TVResult:
    """Images ``[..., N, N]`` (μ, 1/mm), the iterations run, and the objective every ``CHECK_EVERY`` iterations
    (``[checks, ...]``, empty unless asked for)."""

    image: torch.Tensor
    iterations: int
    objective: list = field(default_factory=list)


def _steps(geometry: Geometry, y: torch.Tensor, preconditioned: bool, backend: Optional[str]):
    """``(σ_A, σ_∇, τ)``: per ray, scalar, per pixel (preconditioned) or three scalars."""
    if not preconditioned:
        s = 0.99 / operator_norm(geometry, y.dtype, str(y.device), backend=backend)
        return s, s, s
    row = project(torch.ones(geometry.image_shape, dtype=y.dtype, device=y.device), geometry, backend=backend)
    col = backproject(torch.ones(geometry.sino_shape, dtype=y.dtype, device=y.device), geometry, backend=backend)
    sigma = torch.where(row > 0, 1.0 / row.clamp_min(1e-12), torch.zeros_like(row))  # rays missing the image: 0
    return sigma, 0.5, 1.0 / (col + 4.0)


def tv_reconstruct(sinogram, geometry: Geometry, lam: float, n_iter: int = 500, *, tol: float = 1e-4,
                   nonnegative: bool = True, upper: Optional[float] = None, x0=None, preconditioned: bool = True,
                   backend: Optional[str] = None, track_objective: bool = False):
    """TV-regularised reconstruction (see the module docstring) of sinograms ``[..., n_views, n_det]`` of line
    integrals; returns images ``[..., N, N]`` in 1/mm (numpy in, numpy out), or a :class:`TVResult` when
    ``track_objective``. ``x0``: a start image (e.g. an FBP), default 0; ``upper``: a box bound in 1/mm."""
    lam = real("lam", lam, low=0.0)
    n_iter = integer("n_iter", n_iter, low=1)
    tol = real("tol", tol, low=0.0)
    p, was_numpy = check_input("tv_reconstruct", "sinogram", sinogram, geometry)
    p = p.detach()
    x = torch.zeros(p.shape[:-2] + geometry.image_shape, dtype=p.dtype, device=p.device)
    if x0 is not None:
        x = x + check_input("tv_reconstruct", "image", x0, geometry)[0].detach().to(p.dtype)
    low = 0.0 if nonnegative else None
    upper = None if upper is None else real("upper", upper)
    sigma_a, sigma_g, tau = _steps(geometry, p, preconditioned, backend)
    x = x.clamp(low, upper) if low is not None or upper is not None else x
    x_bar, y, z = x.clone(), torch.zeros_like(p), gradient(torch.zeros_like(x))
    history, last, k = [], x.clone(), 0
    for k in range(1, n_iter + 1):
        y = (y + sigma_a * (project(x_bar, geometry, backend=backend) - p)) / (1.0 + sigma_a)
        z = z + sigma_g * gradient(x_bar)
        if lam > 0:
            z = z / (z.square().sum(-3, keepdim=True).sqrt() / lam).clamp_min(1.0)
        else:
            z = torch.zeros_like(z)
        x_new = x - tau * (backproject(y, geometry, backend=backend) - divergence(z))
        if low is not None or upper is not None:
            x_new = x_new.clamp(low, upper)
        x_bar, x = 2.0 * x_new - x, x_new
        if k % CHECK_EVERY == 0:
            if track_objective:
                history.append(tv_objective(x, p, geometry, lam, backend))
            change = (x - last).flatten(-2).norm(dim=-1) / x.flatten(-2).norm(dim=-1).clamp_min(1e-30)
            if bool((change < tol).all()):
                break
            last = x.clone()
    out = x.numpy() if was_numpy else x
    return TVResult(out, k, history) if track_objective else out


def tune_tv(sinograms: torch.Tensor, targets: torch.Tensor, geometry: Geometry,
            lambdas: Sequence[float] = LAMBDAS, n_iter: int = 300, backend: Optional[str] = None
            ) -> tuple[float, dict[float, float]]:
    """The λ of ``lambdas`` with the lowest mean squared error against ``targets`` ``[B, N, N]`` (μ, 1/mm) on
    ``sinograms`` ``[B, V, D]``; returns ``(λ, {λ: mse})``."""
    if not lambdas:
        raise ValueError("lambdas is empty")
    scores = {}
    for lam in lambdas:
        x = tv_reconstruct(sinograms, geometry, lam, n_iter, backend=backend)
        scores[float(lam)] = float((x - targets.to(x.dtype)).square().mean())
    best = min(scores, key=scores.get)
    return best, scores


@dataclass(frozen=True)
class TunedTV:
    """TV reconstruction with a tuned ``lam`` (``n_iter`` preconditioned iterations, nonnegative), the mean squared
    error ``mse`` it reached where it was tuned and the MSE of every λ tried (``scores``)."""

    lam: float
    n_iter: int = TV_ITERATIONS
    mse: float = float("nan")
    scores: dict = field(default_factory=dict)

    @classmethod
    def tune(cls, sinograms: torch.Tensor, targets: torch.Tensor, geometry: Geometry,
             lambdas: Sequence[float] = LAMBDAS, n_iter: int = TV_ITERATIONS) -> "TunedTV":
        """:func:`tune_tv` on ``sinograms`` ``[B, V, D]`` against ``targets`` ``[B, N, N]``."""
        lam, scores = tune_tv(sinograms, targets, geometry, lambdas, n_iter)
        return cls(lam, n_iter, scores[lam], scores)

    def reconstruct(self, sinogram, geometry: Geometry):
        """Images ``[..., N, N]`` (1/mm) of sinograms ``[..., V, D]`` (see :func:`tv_reconstruct`)."""
        return tv_reconstruct(sinogram, geometry, self.lam, self.n_iter)

    def describe(self) -> str:
        return f"λ {self.lam:g}, {self.n_iter} iterations"

    def to_dict(self) -> dict:
        return {"lam": self.lam, "n_iter": self.n_iter, "mse": self.mse,
                "scores": {f"{k:g}": v for k, v in self.scores.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "TunedTV":
        return cls(float(d["lam"]), int(d["n_iter"]), float(d.get("mse", float("nan"))),
                   {float(k): float(v) for k, v in d.get("scores", {}).items()})
