"""Iterative reference reconstructions for sparse or incomplete data: SIRT and CGLS.

Both use the exact operator pair ``A`` / ``Aᵀ`` of :mod:`recon.operators`; they are slow compared with
FBP but make no assumption about the angle set.

References
----------
P. Gilbert, "Iterative methods for the three-dimensional reconstruction of an object from projections",
*J. Theor. Biol.* 36(1), 105–117 (1972) (SIRT); Å. Björck, *Numerical Methods for Least Squares Problems*,
SIAM, 1996, §7.4 (CGLS).
"""

from __future__ import annotations

from typing import Optional

import torch

from ..geometry import Geometry
from ..operators.functional import backproject, check_input, project

__all__ = ["sirt", "cgls"]


def _start(sinogram, geometry: Geometry, x0):
    y, was_numpy = check_input("reconstruction", "sinogram", sinogram, geometry)
    y = y.detach()
    lead = y.shape[:-2]
    x = torch.zeros(lead + geometry.image_shape, dtype=y.dtype, device=y.device)
    if x0 is not None:
        x0, _ = check_input("reconstruction", "image", x0, geometry)
        x = x + x0.to(y.dtype)
    return y, x, was_numpy


def sirt(sinogram, geometry: Geometry, n_iter: int = 100, *, x0=None, nonnegative: bool = True,
         backend: Optional[str] = None):
    """Simultaneous iterative reconstruction: ``x ← x + C Aᵀ R (p − A x)``, with ``R = 1 / A 1`` and
    ``C = 1 / Aᵀ 1`` (inverse row and column sums), optionally clipped to ``x ≥ 0``.

    ``sinogram`` ``[..., n_views, n_det]`` of line integrals → image ``[..., N, N]`` in 1/mm (numpy in, numpy
    out). Converges to a weighted least-squares solution; 50–200 iterations are typical.
    """
    if n_iter < 1:
        raise ValueError(f"n_iter must be >= 1, got {n_iter}")
    y, x, was_numpy = _start(sinogram, geometry, x0)
    ones_img = torch.ones(geometry.image_shape, dtype=y.dtype, device=y.device)
    row = project(ones_img, geometry, backend=backend)
    col = backproject(torch.ones(geometry.sino_shape, dtype=y.dtype, device=y.device), geometry, backend=backend)
    r = torch.where(row > 0, 1.0 / row.clamp_min(1e-12), torch.zeros_like(row))
    c = torch.where(col > 0, 1.0 / col.clamp_min(1e-12), torch.zeros_like(col))
    for _ in range(n_iter):
        x = x + c * backproject(r * (y - project(x, geometry, backend=backend)), geometry, backend=backend)
        if nonnegative:
            x = x.clamp_min(0)
    return x.numpy() if was_numpy else x


def cgls(sinogram, geometry: Geometry, n_iter: int = 30, *, x0=None, backend: Optional[str] = None):
    """Conjugate gradients on the normal equations ``AᵀA x = Aᵀ p`` (least squares, no constraint).

    Each leading (batch) item is solved independently. Returns ``[..., N, N]`` in 1/mm.
    """
    if n_iter < 1:
        raise ValueError(f"n_iter must be >= 1, got {n_iter}")
    y, x, was_numpy = _start(sinogram, geometry, x0)
    dims_img, dims_sino = (-2, -1), (-2, -1)
    r = y - project(x, geometry, backend=backend)
    s = backproject(r, geometry, backend=backend)
    p = s.clone()
    gamma = (s * s).sum(dims_img, keepdim=True)
    for _ in range(n_iter):
        q = project(p, geometry, backend=backend)
        qq = (q * q).sum(dims_sino, keepdim=True)
        alpha = torch.where(qq > 0, gamma / qq.clamp_min(torch.finfo(y.dtype).tiny), torch.zeros_like(qq))
        x = x + alpha * p
        r = r - alpha * q
        s = backproject(r, geometry, backend=backend)
        gamma_new = (s * s).sum(dims_img, keepdim=True)
        beta = torch.where(gamma > 0, gamma_new / gamma.clamp_min(torch.finfo(y.dtype).tiny),
                           torch.zeros_like(gamma))
        p = s + beta * p
        gamma = gamma_new
    return x.numpy() if was_numpy else x
