"""Figures of a training run: the loss curves and the learned filter(s) (PNG, written atomically)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ..analytic.filtered_backprojection import filter_spacing
from ..analytic.filters import filter_frequencies, filter_response
from ..io.outputs import pyplot, save_figure
from ..models import KnownOperatorModel

__all__ = ["plot_loss", "plot_filter"]

PathLike = Union[str, os.PathLike]


def plot_loss(history: list[dict[str, Any]], path: PathLike, lstsq: Optional[dict[str, float]] = None) -> Path:
    """Training and validation loss per epoch (log scale), with the least-squares optimum if known."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [h["epoch"] for h in history]
    ax.semilogy(epochs, [h["train_loss"] for h in history], "o-", label="training")
    ax.semilogy(epochs, [h["val_loss"] for h in history], "s-", label="validation")
    if lstsq:
        ax.axhline(lstsq["loss"], color="k", ls="--", lw=1, label="least-squares optimum (training)")
        ax.axhline(lstsq["loss_analytic"], color="gray", ls=":", lw=1, label="analytic start (training)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def plot_filter(model: KnownOperatorModel, path: PathLike) -> Path:
    """The learned frequency response(s) against Ram-Lak and Hann for the model's geometry."""
    plt = pyplot()
    geometry = model.geometry
    spacing, arc = filter_spacing(geometry)
    freqs = filter_frequencies(geometry.n_det, spacing)
    unit = "cycles/rad" if arc else "cycles/mm"
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, style in (("ram-lak", "k--"), ("hann", "k:")):
        ax.plot(freqs, filter_response(geometry.n_det, spacing, name, 1.0, arc), style, lw=1, label=name)
    response = model.filter.response().detach().cpu().double().numpy()
    factor = getattr(model, "factor", None)
    if factor is not None:  # 2-D view-circulant filter: detector responses at a few angular frequencies m
        initial = model.filter.initial.detach().cpu().double().numpy()
        v = geometry.n_views
        for k, m in enumerate(sorted({0, v // 4, v // 2, v, 2 * v, factor * v // 2} - {factor * v // 2 + 1})):
            if m < response.shape[0]:
                ax.plot(freqs, response[m], f"C{k}", lw=1.5, label=f"learned, m = {m}")
                ax.plot(freqs, initial[m], f"C{k}:", lw=1)
        ax.set_title(f"{type(model).__name__}: filter k(m, f) (dotted: view interpolation × window)")
    elif response.ndim == 1:
        ax.plot(freqs, response, "C0", lw=1.5, label="learned")
    else:
        lo, mid, hi = np.percentile(response, [5, 50, 95], axis=0)
        ax.fill_between(freqs, lo, hi, color="C0", alpha=0.3, label="learned, per view (5–95 %)")
        ax.plot(freqs, mid, "C0", lw=1.5, label="learned, per-view median")
    ax.set_xlabel(f"frequency ({unit})")
    ax.set_ylabel("response")
    if factor is None:
        ax.set_title(f"{type(model).__name__}: filter")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
