"""Training on arcs at random start angles: the second training loop of the limited-angle study
(``research/limited_angle_study.py``), on the public API of ``recon``.

Each sample is an arc sinogram with its own angles; the model is moved to each sample's arc with
:meth:`recon.LearnedFBP.for_geometry` (sharing its parameters), so one set of weights ``W(β − β_start, u)``
and filters learns from arcs at every start. ``recon train`` trains on arcs of one start (``[data] angles``);
the study's models were trained with these functions (numbers in ``docs/limited_angle.md``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from recon import Geometry, LearnedFBP
from recon.metrics import ssim
from recon.models.lstsq import filter_normal_equations

__all__ = ["ArcSample", "fit_filter_on_arcs", "arc_loss", "train_on_arcs"]


@dataclass
class ArcSample:
    """One training/evaluation sample: an arc sinogram ``[n_views, n_det]`` in ``geometry`` and its target
    image ``[N, N]``."""

    sinogram: torch.Tensor
    geometry: Geometry
    target: torch.Tensor


def fit_filter_on_arcs(model: LearnedFBP, samples: Sequence[ArcSample], ridge: float = 1e-8,
                       apply: bool = True) -> dict[str, float]:
    """Least-squares optimal shared filter of ``model`` (weights fixed) for arc samples at any start angle
    (each through :meth:`recon.LearnedFBP.for_geometry`). Returns ``{"loss", "loss_before", "n_samples"}`` (MSE; output
    activation ignored)."""
    r = model.filter.n_basis
    gram, rhs = np.zeros((r, r)), np.zeros(r)
    ss_offset = ss_current = 0.0
    elements = 0
    for s in samples:
        g, b, so, sc, e, _ = filter_normal_equations(model.for_geometry(s.geometry), [(s.sinogram[None], s.target[None])])
        gram += g
        rhs += b
        ss_offset += so
        ss_current += sc
        elements += e
    reg = ridge * max(float(np.mean(np.diag(gram))), np.finfo(float).tiny)
    c = np.linalg.solve(gram + reg * np.eye(r), rhs)
    loss = (ss_offset - 2.0 * c @ rhs + c @ gram @ c) / elements
    if apply:
        with torch.no_grad():
            model.filter.coefficients.copy_(torch.as_tensor(c, dtype=model.filter.coefficients.dtype))
    return {"loss": float(max(loss, 0.0)), "loss_before": ss_current / elements, "n_samples": len(samples)}


def arc_loss(model: LearnedFBP, samples: Sequence[ArcSample], ssim_weight: float = 0.0,
             grad: bool = False) -> torch.Tensor:
    """Mean over ``samples`` of MSE (+ ``ssim_weight`` · (1 − SSIM) · mean(t²), which keeps the SSIM term
    on the MSE's scale) of the retargeted model's output."""
    total = 0.0
    with torch.set_grad_enabled(grad):
        for s in samples:
            out = model.for_geometry(s.geometry)(s.sinogram)
            t = s.target.to(out.dtype)
            loss = torch.mean((out - t) ** 2)
            if ssim_weight:
                loss = loss + ssim_weight * torch.mean(t ** 2) * (1.0 - ssim(out[None], t[None]).mean())
            total = total + loss / len(samples)
    return total if isinstance(total, torch.Tensor) else torch.tensor(total)


def train_on_arcs(model: LearnedFBP, draw: Callable[[np.random.Generator, int], list[ArcSample]], steps: int,
                  batch_size: int = 4, lr: float = 1e-2, ssim_weight: float = 0.0, smoothness: float = 0.0,
                  seed: int = 0, log_every: int = 0, validation: Optional[Sequence[ArcSample]] = None
                  ) -> list[dict[str, Any]]:
    """Adam on the learnable parameters of ``model``: each step draws ``batch_size`` samples with
    ``draw(rng, batch_size)`` (e.g. random phantoms at random arc starts) and minimises :func:`arc_loss`.
    ``smoothness`` adds that multiple of the mean squared first differences of per-element weight
    corrections (along views and detectors) to the loss, relative to the batch's mean(t²). Returns the
    history (``step``, ``loss``, ``val_loss`` every ``log_every`` steps, ``seconds``)."""
    rng = np.random.default_rng(seed)
    params = model.learnable_parameters()
    if not params:
        raise ValueError("the model has no learnable parameters")
    opt = torch.optim.Adam(params, lr=lr)
    history = []
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        batch = draw(rng, batch_size)
        opt.zero_grad(set_to_none=True)
        loss = arc_loss(model, batch, ssim_weight, grad=True)
        if smoothness and model.weights.view_basis is None and model.weights.coefficients.requires_grad:
            d = model.weights.coefficients
            scale = torch.mean(torch.stack([torch.mean(s.target.to(d.dtype) ** 2) for s in batch])).detach()
            loss = loss + smoothness * scale * (torch.mean(torch.diff(d, dim=0) ** 2) + torch.mean(torch.diff(d, dim=1) ** 2))
        loss.backward()
        opt.step()
        row = {"step": step, "loss": loss.item(), "seconds": round(time.perf_counter() - t0, 2)}
        if log_every and (step % log_every == 0 or step == steps) and validation:
            row["val_loss"] = float(arc_loss(model, validation))
        history.append(row)
    return history
