"""The cone-beam operators behind :func:`recon.project`, :func:`recon.backproject`,
:func:`recon.weighted_backproject` and its adjoint when the geometry is 3-D (:class:`recon.ConeBeam`,
:class:`recon.ConeBeamVec`): volumes ``[..., nz, ny, nx]`` (μ, 1/mm, on a :class:`recon.VolumeGrid`) ↔ projections
``[..., n_views, rows, cols]`` (line integrals).

* ``project`` — ``A``, Joseph's ray-driven projector in 3-D (:func:`recon.operators.cone_cpu.cone_forward`);
* ``backproject`` — ``Aᵀ``, its exact adjoint;
* ``weighted_backproject`` — ``B_w``, FDK's voxel-driven backprojector with the distance weight (``(D/h)²`` flat,
  ``1/ℓ²`` cylindrical), and its exact adjoint.

Each is differentiable, its gradient being its adjoint. The kernels are the compiled CPU ones; volumes are
processed one at a time and memory is checked before anything is allocated.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

from .._checks import check_memory
from ..geometry.cone import ConeGeometry
from ..geometry.volume import VolumeGrid
from . import cone_cpu
from .inputs import float_tensor
from .rays import cached

__all__ = ["cone_apply", "OPS"]

# op name -> (input kind, output kind, adjoint op name)
OPS = {
    "project": ("volume", "projections", "backproject"),
    "backproject": ("projections", "volume", "project"),
    "weighted_backproject": ("projections", "volume", "weighted_backproject_adjoint"),
    "weighted_backproject_adjoint": ("volume", "projections", "weighted_backproject"),
}
_MODEL = {"flat": 0, "cylindrical": 1}


def _tables(g: ConeGeometry) -> dict[str, Any]:
    def make() -> dict[str, Any]:
        vec = g.cone_vectors()
        base, step = vec.pixel_positions()
        return {"source": np.ascontiguousarray(vec.source), "base": base, "step": np.ascontiguousarray(step),
                "coef": np.ascontiguousarray(vec.backprojection_coefficients()), "model": _MODEL[vec.model]}
    return cached(g, "cone_tables", make)


def _run(op: str, x: torch.Tensor, g: ConeGeometry, grid: VolumeGrid) -> torch.Tensor:
    """Apply ``op`` to ``x`` ``[..., *in_shape]`` (validated), one volume/projection stack at a time."""
    t = _tables(g)
    out_shape = g.proj_shape if OPS[op][1] == "projections" else grid.shape
    lead = tuple(x.shape[:-3])
    arr = x.detach().contiguous().reshape((-1,) + tuple(x.shape[-3:])).numpy()
    out = np.zeros((arr.shape[0],) + out_shape, dtype=arr.dtype)
    origin, vox = cone_cpu.volume_args(grid)
    axes = (grid.x, grid.y, grid.z)
    for i in range(arr.shape[0]):
        a, o = arr[i:i + 1], out[i:i + 1]
        if op == "project":
            cone_cpu.cone_forward(a.reshape(1, -1), t["source"], t["base"], t["step"], origin, vox, o)
        elif op == "backproject":
            cone_cpu.cone_adjoint(a, t["source"], t["base"], t["step"], origin, vox, o.reshape(1, -1))
        elif op == "weighted_backproject":
            cone_cpu.cone_backproject(a, t["coef"], t["model"], *axes, o)
        else:
            cone_cpu.cone_backproject_adjoint(a, t["coef"], t["model"], *axes, o)
    return torch.from_numpy(out).reshape(lead + out_shape)


class _ConeOperator(torch.autograd.Function):
    """Autograd wrapper: the backward of an operator is its adjoint (itself differentiable)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, op: str, geometry: ConeGeometry, grid: VolumeGrid) -> torch.Tensor:
        ctx.op, ctx.geometry, ctx.grid = op, geometry, grid
        return _run(op, x, geometry, grid)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return _ConeOperator.apply(grad, OPS[ctx.op][2], ctx.geometry, ctx.grid), None, None, None


def check_cone_input(name: str, kind: str, data: Any, geometry: ConeGeometry, grid: VolumeGrid,
                     check_finite: bool = True) -> tuple[torch.Tensor, bool]:
    """Validate a ``volume`` (``[..., nz, ny, nx]`` of ``grid``) or ``projections`` (``[..., n_views, rows,
    cols]``) for ``geometry``: ``(tensor, was_numpy)``, or one ``TypeError``/``ValueError`` naming the expected
    shape, a non-float dtype, NaN/Inf or a tensor that is not on the CPU."""
    x, was_numpy = float_tensor(name, kind, data)
    if x.device.type != "cpu":
        raise ValueError(f"{name}: the cone-beam operators run on the CPU so far; move the {kind} there "
                         f"(.cpu()), got a tensor on {x.device}")
    expected = grid.shape if kind == "volume" else geometry.proj_shape
    what = "[..., nz, ny, nx]" if kind == "volume" else "[..., n_views, rows, cols]"
    if x.ndim < 3 or tuple(x.shape[-3:]) != expected:
        where = repr(grid) if kind == "volume" else repr(geometry)
        raise ValueError(f"{name}: {kind} must have shape {what} = [..., {', '.join(map(str, expected))}] for "
                         f"{where}; got {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name}: {kind} is empty (shape {tuple(x.shape)})")
    if check_finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: {kind} contains {int((~torch.isfinite(x)).sum())} non-finite value(s) (NaN or Inf)")
    return x, was_numpy


def cone_apply(op: str, data: Any, geometry: ConeGeometry, grid: Optional[VolumeGrid], check_finite: bool = True):
    """The public operators' path for cone-beam geometries (see the module docstring)."""
    if grid is None:
        raise ValueError(f"{op}: a cone-beam geometry holds no volume; pass grid=recon.VolumeGrid(shape, voxel_size)")
    grid = geometry.check_grid(grid)
    x, was_numpy = check_cone_input(op, OPS[op][0], data, geometry, grid, check_finite)
    out_shape = geometry.proj_shape if OPS[op][1] == "projections" else grid.shape
    batch = x.numel() // int(np.prod(x.shape[-3:]))
    check_memory(float(batch) * float(np.prod(out_shape)) * x.element_size(),
                 f"{op} of {batch} × {tuple(x.shape[-3:])} onto {out_shape}")
    out = _ConeOperator.apply(x, op, geometry, grid)
    return out.numpy() if was_numpy else out
