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

from ..geometry import Geometry, check_grid
from ..operators.cone import check_cone_input
from ..operators.functional import backproject, check_input, project

__all__ = ["sirt", "cgls"]


def _start(sinogram, geometry: Geometry, x0, grid):
    """``(data, start image, was_numpy, grid, data shape, image shape)``: 2-D scans on ``grid`` (default the
    geometry's), cone-beam scans on the :class:`recon.VolumeGrid` ``grid`` they need."""
    if getattr(geometry, "ndim", 2) == 3:
        if grid is None:
            raise ValueError("reconstruction: a cone-beam scan holds no volume; pass grid=recon.VolumeGrid(...)")
        grid = geometry.check_grid(grid)
        y, was_numpy = check_cone_input("reconstruction", "projections", sinogram, geometry, grid)
        data_shape = geometry.proj_shape
    else:
        grid = check_grid(grid, geometry)
        y, was_numpy = check_input("reconstruction", "sinogram", sinogram, geometry)
        data_shape = geometry.sino_shape
    y = y.detach()
    x = torch.zeros(y.shape[:y.ndim - len(data_shape)] + tuple(grid.shape), dtype=y.dtype, device=y.device)
    if x0 is not None:
        x0, _ = (check_cone_input("reconstruction", "volume", x0, geometry, grid) if getattr(geometry, "ndim", 2) == 3
                 else check_input("reconstruction", "image", x0, geometry, grid=grid))
        x = x + x0.to(y.dtype)
    return y, x, was_numpy, grid, data_shape, tuple(grid.shape)


def sirt(sinogram, geometry: Geometry, n_iter: int = 100, *, x0=None, nonnegative: bool = True,
         backend: Optional[str] = None, grid=None):
    """Simultaneous iterative reconstruction: ``x ← x + C Aᵀ R (p − A x)``, with ``R = 1 / A 1`` and
    ``C = 1 / Aᵀ 1`` (inverse row and column sums), optionally clipped to ``x ≥ 0``.

    ``sinogram`` ``[..., n_views, n_det]`` of line integrals → image ``[..., N, N]`` in 1/mm (numpy in, numpy
    out). Converges to a weighted least-squares solution; 50–200 iterations are typical. ``grid``: the image grid
    (default the geometry's), or the :class:`recon.VolumeGrid` of a cone-beam scan (projections
    ``[..., n_views, rows, cols]`` → volume ``[..., nz, ny, nx]``).
    """
    if n_iter < 1:
        raise ValueError(f"n_iter must be >= 1, got {n_iter}")
    y, x, was_numpy, grid, data_shape, image_shape = _start(sinogram, geometry, x0, grid)
    ones_img = torch.ones(image_shape, dtype=y.dtype, device=y.device)
    row = project(ones_img, geometry, backend=backend, grid=grid)
    col = backproject(torch.ones(data_shape, dtype=y.dtype, device=y.device), geometry, backend=backend, grid=grid)
    r = torch.where(row > 0, 1.0 / row.clamp_min(1e-12), torch.zeros_like(row))
    c = torch.where(col > 0, 1.0 / col.clamp_min(1e-12), torch.zeros_like(col))
    for _ in range(n_iter):
        x = x + c * backproject(r * (y - project(x, geometry, backend=backend, grid=grid)), geometry,
                                backend=backend, grid=grid)
        if nonnegative:
            x = x.clamp_min(0)
    return x.numpy() if was_numpy else x


def cgls(sinogram, geometry: Geometry, n_iter: int = 30, *, x0=None, backend: Optional[str] = None, grid=None):
    """Conjugate gradients on the normal equations ``AᵀA x = Aᵀ p`` (least squares, no constraint).

    Each leading (batch) item is solved independently. Returns ``[..., N, N]`` in 1/mm (a volume for a cone-beam
    scan on its ``grid``, as :func:`sirt`).
    """
    if n_iter < 1:
        raise ValueError(f"n_iter must be >= 1, got {n_iter}")
    y, x, was_numpy, grid, data_shape, image_shape = _start(sinogram, geometry, x0, grid)
    dims_img, dims_sino = tuple(range(-len(image_shape), 0)), tuple(range(-len(data_shape), 0))
    r = y - project(x, geometry, backend=backend, grid=grid)
    s = backproject(r, geometry, backend=backend, grid=grid)
    p = s.clone()
    gamma = (s * s).sum(dims_img, keepdim=True)
    for _ in range(n_iter):
        q = project(p, geometry, backend=backend, grid=grid)
        qq = (q * q).sum(dims_sino, keepdim=True)
        alpha = torch.where(qq > 0, gamma / qq.clamp_min(torch.finfo(y.dtype).tiny), torch.zeros_like(qq))
        x = x + alpha * p
        r = r - alpha * q
        s = backproject(r, geometry, backend=backend, grid=grid)
        gamma_new = (s * s).sum(dims_img, keepdim=True)
        beta = torch.where(gamma > 0, gamma_new / gamma.clamp_min(torch.finfo(y.dtype).tiny),
                           torch.zeros_like(gamma))
        p = s + beta * p
        gamma = gamma_new
    return x.numpy() if was_numpy else x
