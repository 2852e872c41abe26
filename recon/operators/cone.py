"""The cone-beam operators behind :func:`recon.project`, :func:`recon.backproject`,
:func:`recon.weighted_backproject` and its adjoint when the geometry is 3-D (:class:`recon.ConeBeam`,
:class:`recon.ConeBeamVec`): volumes ``[..., nz, ny, nx]`` (μ, 1/mm, on a :class:`recon.VolumeGrid`) ↔ projections
``[..., n_views, rows, cols]`` (line integrals).

* ``project`` — ``A``, Joseph's ray-driven projector in 3-D (:func:`recon.operators.cone_cpu.cone_forward`);
* ``backproject`` — ``Aᵀ``, its exact adjoint;
* ``weighted_backproject`` — ``B_w``, FDK's voxel-driven backprojector with the distance weight (``(D/h)²`` flat,
  ``1/ℓ²`` cylindrical), and its exact adjoint.

Each is differentiable, its gradient being its adjoint. Two back-ends build the same matrices: ``"numba"``, the
compiled CPU kernels (:mod:`recon.operators.cone_cpu`, the default on CPU tensors; volumes one at a time), and
``"triton"``, the GPU kernels (:mod:`recon.operators.cone_triton`, the default on CUDA tensors; on CPU tensors under
``TRITON_INTERPRET=1``). Memory (the host's, or the GPU's for CUDA tensors) is checked before the output is
allocated.
"""

from __future__ import annotations

import importlib
from typing import Any, Optional

import numpy as np
import torch

from .._checks import GiB, NotEnoughMemory, check_memory
from ..geometry.cone import ConeGeometry
from ..geometry.volume import VolumeGrid
from . import cone_cpu
from .inputs import float_tensor
from .rays import cached

__all__ = ["cone_apply", "resolve_cone_backend", "OPS"]

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


def _triton() -> Any:
    """The Triton kernels (:mod:`recon.operators.cone_triton`), imported on first use."""
    try:
        return importlib.import_module(".cone_triton", __package__)
    except ImportError as err:
        raise ValueError(f"backend 'triton' cannot be used here: it needs the triton package ({err})") from None


def resolve_cone_backend(backend: Optional[str], device: torch.device) -> str:
    """``None`` → "numba" on the CPU, "triton" on CUDA; an explicit "numba" or "triton" must compute on
    ``device`` (the cone-beam geometries have no other back-end)."""
    if backend is None:
        backend = "triton" if device.type == "cuda" else "numba"
    if backend == "numba":
        if device.type != "cpu":
            raise ValueError(f"backend 'numba' runs on CPU tensors only; got a tensor on {device} (use "
                             "backend='triton' or None)")
        return backend
    if backend == "triton":
        if not _triton().usable(device):
            raise ValueError(f"backend 'triton' runs on CUDA tensors (or on CPU tensors in Triton's interpreter, "
                             f"TRITON_INTERPRET=1); got a tensor on {device}")
        return backend
    raise ValueError(f"cone-beam geometries have the back-ends 'numba' (CPU) and 'triton' (GPU), not "
                     f"backend={backend!r}")


_TRITON_OPS = {"project": "cone_forward", "backproject": "cone_adjoint",
               "weighted_backproject": "cone_backproject", "weighted_backproject_adjoint": "cone_backproject_adjoint"}


def _run(op: str, x: torch.Tensor, g: ConeGeometry, grid: VolumeGrid, backend: str) -> torch.Tensor:
    """Apply ``op`` to ``x`` ``[..., *in_shape]`` (validated) with ``backend``."""
    lead = tuple(x.shape[:-3])
    if backend == "triton":
        out = getattr(_triton(), _TRITON_OPS[op])(x.detach().reshape((-1,) + tuple(x.shape[-3:])), g, grid)
        return out.reshape(lead + tuple(out.shape[1:]))
    t = _tables(g)
    out_shape = g.proj_shape if OPS[op][1] == "projections" else grid.shape
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
    def forward(ctx, x: torch.Tensor, op: str, geometry: ConeGeometry, grid: VolumeGrid,
                backend: str) -> torch.Tensor:
        ctx.op, ctx.geometry, ctx.grid, ctx.backend = op, geometry, grid, backend
        return _run(op, x, geometry, grid, backend)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return _ConeOperator.apply(grad, OPS[ctx.op][2], ctx.geometry, ctx.grid, ctx.backend), None, None, None, \
            None


def check_cone_input(name: str, kind: str, data: Any, geometry: ConeGeometry, grid: VolumeGrid,
                     check_finite: bool = True) -> tuple[torch.Tensor, bool]:
    """Validate a ``volume`` (``[..., nz, ny, nx]`` of ``grid``) or ``projections`` (``[..., n_views, rows,
    cols]``) for ``geometry``: ``(tensor, was_numpy)``, or one ``TypeError``/``ValueError`` naming the expected
    shape, a non-float dtype or NaN/Inf."""
    x, was_numpy = float_tensor(name, kind, data)
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


def _check_device_memory(nbytes: float, what: str, device: torch.device) -> None:
    """:func:`recon._checks.check_memory` for the host, the GPU's free memory for CUDA tensors."""
    if device.type != "cuda":
        check_memory(nbytes, what)
        return
    free = torch.cuda.mem_get_info(device)[0]
    if nbytes > free:
        raise NotEnoughMemory(f"{what} needs {nbytes / GiB:.3g} GiB of GPU memory, {free / GiB:.3g} GiB available "
                              f"on {device}")


def cone_apply(op: str, data: Any, geometry: ConeGeometry, grid: Optional[VolumeGrid], check_finite: bool = True,
               backend: Optional[str] = None):
    """The public operators' path for cone-beam geometries (see the module docstring)."""
    if grid is None:
        raise ValueError(f"{op}: a cone-beam geometry holds no volume; pass grid=recon.VolumeGrid(shape, voxel_size)")
    grid = geometry.check_grid(grid)
    x, was_numpy = check_cone_input(op, OPS[op][0], data, geometry, grid, check_finite)
    out_shape = geometry.proj_shape if OPS[op][1] == "projections" else grid.shape
    backend = resolve_cone_backend(backend, x.device)
    batch = x.numel() // int(np.prod(x.shape[-3:]))
    _check_device_memory(float(batch) * float(np.prod(out_shape)) * x.element_size(),
                         f"{op} of {batch} × {tuple(x.shape[-3:])} onto {out_shape}", x.device)
    out = _ConeOperator.apply(x, op, geometry, grid, backend)
    return out.numpy() if was_numpy else out
