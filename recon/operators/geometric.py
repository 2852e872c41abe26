"""The ray transform as a differentiable function of the scan geometry, for calibration.

:func:`recon.project` is differentiable in the image; :func:`project_geometry` is differentiable in the image
*and* in the global parameters of a circular scan — detector offset, in-plane detector tilt, source–origin and
source–detector distances, a view-angle offset — which flow as torch tensors through the per-view vector form
(:mod:`recon.geometry.vectors`) into the Joseph coefficients, so ``loss.backward()`` gives ``∂loss/∂parameter``.
It is the same matrix as :func:`recon.project` at the same parameters (to rounding): rays from the vector form,
Joseph's coefficients as in :mod:`recon.operators.rays`, the taps of :mod:`recon.operators.torch_impl`. Within one
ray's driving range the samples are linear in the tap positions, so the gradient is exact except where a tap
crosses a pixel centre or the grid's edge (a measure-zero set); whether a ray is row- or column-driven is fixed at
the given parameters.

Reference: the geometry gradients of torchtomo 0.6 and diffct 2.5 (analytic projectors) do the same for their
kernels; calibration by data consistency: e.g. Kingston et al., "Reliable automatic alignment of tomographic
projection data by passive auto-focus", Med. Phys. 38(9) 2011 (a sharpness criterion instead).
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from ..geometry import Geometry, ImageGrid, check_grid
from .torch_impl import _joseph_chunk, _view_chunks

__all__ = ["PARAMETERS", "project_geometry"]

#: The global parameters of a circular scan that :func:`project_geometry` differentiates.
PARAMETERS = ("det_offset", "tilt", "sod", "sdd", "angle_offset")


def _vectors(geometry: Geometry, params: dict[str, torch.Tensor], dtype: torch.dtype, device: torch.device):
    """Source (or ray direction), detector centre and u ``[n_views, 2]`` of ``geometry`` with ``params`` in
    place of its own values, as differentiable tensors (the conventions of :mod:`recon.geometry`)."""
    def value(name: str, default: float) -> torch.Tensor:
        v = params.get(name)
        return torch.as_tensor(default, dtype=dtype, device=device) if v is None else v.to(dtype)

    theta = torch.tensor(geometry.angles, dtype=dtype, device=device) + value("angle_offset", 0.0)
    c, s = torch.cos(theta), torch.sin(theta)
    axis, central = torch.stack([c, s], 1), torch.stack([-s, c], 1)
    tilt = value("tilt", 0.0)
    u_dir = torch.cos(tilt) * axis + torch.sin(tilt) * central  # the detector turned in its plane
    offset = value("det_offset", geometry.det_offset)
    if not geometry.point_source:
        return torch.stack([s, -c], 1), offset * axis, geometry.det_spacing * u_dir
    sod, sdd = value("sod", geometry.sod), value("sdd", geometry.sdd)
    source = -sod * central
    centre = (sdd - sod) * central + offset * axis
    return source, centre, geometry.det_spacing * u_dir


def _rays(geometry: Geometry, source, centre, u) -> tuple[torch.Tensor, torch.Tensor]:
    """(point, unit direction) ``[n_views, n_det, 2]`` of every ray, flat detectors and parallel beams."""
    k = torch.arange(geometry.n_det, dtype=u.dtype, device=u.device) - (geometry.n_det - 1) / 2.0
    element = centre[:, None, :] + k[None, :, None] * u[:, None, :]
    if not geometry.point_source:
        return element, (source / source.norm(dim=1, keepdim=True))[:, None, :].expand_as(element)
    d = element - source[:, None, :]
    return source[:, None, :].expand_as(element), d / d.norm(dim=2, keepdim=True)


def _joseph_tables(point: torch.Tensor, direction: torch.Tensor, grid: ImageGrid) -> dict:
    """Joseph's ``a``, ``b``, ``w`` (differentiable) and the row-driven flag, as :mod:`recon.operators.rays`."""
    px, half = grid.pixel_size, (grid.size - 1) / 2.0
    sx, sy = (point[..., 0] - grid.offset[0]) / px, (point[..., 1] - grid.offset[1]) / px
    dx, dy = direction[..., 0], direction[..., 1]
    rows = (dy.abs() >= dx.abs()).detach()
    safe_y = torch.where(rows, dy, torch.ones_like(dy))
    safe_x = torch.where(rows, torch.ones_like(dx), dx)
    slope_r, slope_c = dx / safe_y, dy / safe_x
    a = torch.where(rows, sx + (half - sy) * slope_r + half, half - sy + (half + sx) * slope_c)
    b = torch.where(rows, -slope_r, -slope_c)
    w = torch.where(rows, px / safe_y.abs(), px / safe_x.abs())
    return {"a": a, "b": b, "w": w, "row_driven": rows}


def project_geometry(image: torch.Tensor, geometry: Geometry, params: Optional[dict[str, torch.Tensor]] = None,
                     grid: Optional[ImageGrid] = None) -> torch.Tensor:
    """``A(θ) x``: line integrals of ``image`` ``[..., N, N]`` (μ, 1/mm; float32/float64 tensor) in the circular
    ``geometry`` (ParallelBeam or FanBeam with a flat detector) with the parameters ``params`` — any of
    :data:`PARAMETERS`, each a scalar tensor (mm, or radians for ``tilt`` and ``angle_offset``; ``tilt`` turns the
    detector in its plane about its centre) replacing the geometry's value — differentiable in the image and in
    every parameter that requires grad. Returns ``[..., n_views, n_det]``."""
    params = dict(params or {})
    unknown = set(params) - set(PARAMETERS)
    if unknown:
        raise ValueError(f"params: unknown parameter(s) {sorted(unknown)}; the parameters are {PARAMETERS}")
    if geometry.model == "arc" or not hasattr(geometry, "angles"):
        raise ValueError("project_geometry differentiates circular scans with a flat detector or parallel rays; "
                         f"got {geometry!r}")
    if not geometry.point_source and ({"sod", "sdd"} & set(params)):
        raise ValueError("params: a parallel beam has no sod or sdd")
    grid = check_grid(grid, geometry)
    if not isinstance(image, torch.Tensor) or image.shape[-2:] != grid.shape:
        raise ValueError(f"image must be a tensor [..., {grid.size}, {grid.size}], got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    for name, v in params.items():
        if not isinstance(v, torch.Tensor) or v.numel() != 1 or not math.isfinite(float(v.detach())):
            raise ValueError(f"params[{name!r}] must be a finite scalar tensor, got {v!r}")
    lead, n = image.shape[:-2], grid.size
    flat = image.reshape(-1, n * n)
    t = _joseph_tables(*_rays(geometry, *_vectors(geometry, params, image.dtype, image.device)), grid)
    chunks = []
    for views in _view_chunks(geometry.n_views, geometry.n_det * n, flat.shape[0]):
        i0, w0, i1, w1 = _joseph_chunk(t, views, n)
        samples = flat[:, i0] * w0 + flat[:, i1] * w1
        chunks.append(samples.reshape(flat.shape[0], -1, geometry.n_det, n).sum(-1))
    return torch.cat(chunks, dim=1).reshape(lead + geometry.sino_shape)
