"""Public projection operators: validation, batching, device dispatch and autograd.

Three linear maps, kept distinct:

* :func:`project` — ``A``, the discrete ray transform (Joseph): attenuation (1/mm) → line integrals.
* :func:`backproject` — ``Aᵀ``, its exact adjoint (``<A x, y> = <x, Aᵀ y>`` to rounding).
* :func:`weighted_backproject` — ``B_w``, the pixel-driven FBP backprojector with the fan-beam distance
  weight; *not* ``Aᵀ``. :func:`weighted_backproject_adjoint` is its exact adjoint.

Each is differentiable, and the gradient of each operator is its adjoint (so ``backproject`` is the
gradient of ``project`` and vice versa). Back-ends come from one registry (:mod:`recon.operators.registry`):
CPU tensors run compiled multi-threaded kernels ("numba"), CUDA tensors Triton kernels of the same matrices
("triton", :mod:`recon.operators.triton_impl`), ``backend="torch"`` the same matrices as plain PyTorch code on
any device, and ``backend="astra"`` ASTRA's projectors where :mod:`recon.interop` finds ASTRA. Inputs may be
torch tensors or numpy arrays (numpy in, numpy out), with any number of leading batch/channel dimensions.
"""

from __future__ import annotations

import importlib.util
from typing import Optional

import torch

from .._checks import check_memory
from ..geometry import Geometry, ImageGrid, check_geometry, check_grid
from .cone import cone_apply
from .inputs import float_tensor
from .registry import backends, get_backend, operator_of

__all__ = ["project", "backproject", "weighted_backproject", "weighted_backproject_adjoint", "BACKENDS",
           "check_input", "resolve_backend"]

#: The back-ends recon itself registers (all registered ones: :func:`recon.operators.backends`).
BACKENDS = backends()

# op name -> (input kind, output kind, adjoint op name)
_OPS = {
    "project": ("image", "sinogram", "backproject"),
    "backproject": ("sinogram", "image", "project"),
    "weighted_backproject": ("sinogram", "image", "weighted_backproject_adjoint"),
    "weighted_backproject_adjoint": ("image", "sinogram", "weighted_backproject"),
}


# ---- dispatch ------------------------------------------------------------------------------------------------

def _run(op: str, x: torch.Tensor, g: Geometry, grid: ImageGrid, backend: str) -> torch.Tensor:
    """Apply ``op`` of the registered ``backend`` to ``x`` of shape ``[..., *in_shape]`` (already validated)."""
    out_kind = _OPS[op][1]
    lead = tuple(x.shape[:-2])
    flat = x.detach().reshape((-1,) + tuple(x.shape[-2:]))
    out = operator_of(get_backend(backend), backend, op)(flat, g, grid)
    out_shape = g.sino_shape if out_kind == "sinogram" else grid.shape
    return out.reshape(lead + out_shape)


class _LinearOperator(torch.autograd.Function):
    """Autograd wrapper: the backward of an operator is its adjoint (itself differentiable)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, op: str, geometry: Geometry, grid: ImageGrid, backend: str) -> torch.Tensor:
        ctx.op, ctx.geometry, ctx.grid, ctx.backend = op, geometry, grid, backend
        return _run(op, x, geometry, grid, backend)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        adjoint = _OPS[ctx.op][2]
        return _LinearOperator.apply(grad, adjoint, ctx.geometry, ctx.grid, ctx.backend), None, None, None, None


# ---- validation ----------------------------------------------------------------------------------------------

def check_input(name: str, kind: str, data, geometry: Geometry, check_finite: bool = True,
                grid: Optional[ImageGrid] = None):
    """Validate an ``image`` (``[..., N, N]`` on ``grid``, by default the geometry's) or ``sinogram``
    (``[..., n_views, n_det]``) for ``geometry``.

    Returns ``(tensor, was_numpy)``; raises ``TypeError`` for non-float data or a non-geometry, and
    ``ValueError`` naming the expected shape, for empty input, or for NaN/Inf (if ``check_finite``).
    """
    check_geometry(geometry)
    grid = geometry.grid if grid is None else grid
    x, was_numpy = float_tensor(name, kind, data)
    if x.device.type == "meta":
        raise ValueError(f"{name}: the {kind} is a meta tensor (a shape without data); move it to cpu or cuda")
    expected = grid.shape if kind == "image" else geometry.sino_shape
    what = "[..., image_size, image_size]" if kind == "image" else "[..., n_views, n_det]"
    if x.ndim < 2 or tuple(x.shape[-2:]) != expected:
        where = f"{grid!r}" if kind == "image" and grid != geometry.grid else f"{geometry!r}"
        raise ValueError(f"{name}: {kind} must have shape {what} = [..., {expected[0]}, {expected[1]}] for "
                         f"{where}; got {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name}: {kind} is empty (shape {tuple(x.shape)})")
    if check_finite and not bool(torch.isfinite(x).all()):
        n_bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name}: {kind} contains {n_bad} non-finite value(s) (NaN or Inf)")
    return x, was_numpy


def resolve_backend(backend: Optional[str], device: torch.device) -> str:
    """``None`` → "numba" on the CPU, "triton" on CUDA when Triton is installed (it ships with CUDA builds of
    PyTorch), else "torch"; an explicit name must be registered (:func:`recon.operators.backends`) and compute
    on ``device``."""
    if backend is None:
        if device.type == "cpu":
            return "numba"
        return "triton" if device.type == "cuda" and importlib.util.find_spec("triton") is not None else "torch"
    chosen = get_backend(backend)
    if not chosen.usable(device):
        raise ValueError(f"backend {backend!r} runs on {getattr(chosen, 'devices', 'other devices')}; "
                         f"got a tensor on {device}")
    return backend


def _check_memory(op: str, x: torch.Tensor, g: Geometry, grid: ImageGrid) -> None:
    """Refuse, before allocating, an output (plus the ray tables of ``A``/``Aᵀ``) larger than the free memory."""
    out_shape = g.sino_shape if _OPS[op][1] == "sinogram" else grid.shape
    batch = x.numel() // (x.shape[-1] * x.shape[-2])
    need = float(batch) * out_shape[0] * out_shape[1] * x.element_size()
    if op in ("project", "backproject"):
        need += 80.0 * g.n_views * g.n_det  # the Joseph coefficients and index lists of every ray
    check_memory(need, f"{op} of {batch} × {tuple(x.shape[-2:])} onto {out_shape}")


def _apply(op: str, data, geometry: Geometry, grid: Optional[ImageGrid], backend: Optional[str],
           check_finite: bool):
    if getattr(geometry, "ndim", 2) == 3:  # cone beam: volumes on a VolumeGrid (recon.operators.cone)
        return cone_apply(op, data, geometry, grid, check_finite, backend)
    grid = check_grid(grid, check_geometry(geometry))
    x, was_numpy = check_input(op, _OPS[op][0], data, geometry, check_finite, grid)
    if x.device.type == "cpu":
        _check_memory(op, x, geometry, grid)
    out = _LinearOperator.apply(x, op, geometry, grid, resolve_backend(backend, x.device))
    return out.numpy() if was_numpy else out


# ---- public API ----------------------------------------------------------------------------------------------

def project(image, geometry: Geometry, *, grid: Optional[ImageGrid] = None, backend: Optional[str] = None,
            check_finite: bool = True):
    """Forward projection ``A``: line integrals of an attenuation image.

    Parameters
    ----------
    image : torch.Tensor or numpy.ndarray, shape ``[..., N, N]``, float32 or float64
        Linear attenuation μ in 1/mm on the image grid (``N = grid.size``).
    geometry : any recon geometry (ParallelBeam, FanBeam, ParallelBeamVec, FanBeamVec)
    grid : recon.ImageGrid, optional
        The image grid (size, pixel size, centre); by default the geometry's own (``geometry.grid``). The same
        for every operator: the scan and the image it is reconstructed on are two things.
    backend : None or a registered back-end name (:func:`recon.operators.backends`)
        ``None`` picks the compiled CPU kernels ("numba") for CPU tensors and the Triton GPU kernels for CUDA
        tensors (the PyTorch path where Triton is missing); "torch" is the plain PyTorch reference.
    check_finite : bool
        Reject NaN/Inf input with a ``ValueError`` (one cheap pass over the input).

    Returns
    -------
    Sinogram ``[..., n_views, n_det]`` of line integrals ∫μ dl (dimensionless), same type, dtype and device.
    A disk of μ = 0.02/mm and radius 50 mm gives 2.0 through its centre.

    Notes
    -----
    Joseph's method: every ray is sampled once per image row (or column, for rays closer to horizontal)
    with linear interpolation, times the path length per row. Differentiable; its gradient is
    :func:`backproject`.

    Examples
    --------
    A disc of μ = 0.02/mm and radius 50 mm has the line integral 2.0 through its centre:

    >>> import numpy as np, recon
    >>> g = recon.ParallelBeam(np.linspace(0, np.pi, 90, endpoint=False), n_det=255, det_spacing=1.0,
    ...                        image_size=128, pixel_size=1.0)
    >>> disc = recon.rasterize([recon.Ellipse(0.02, (0.0, 0.0), (50.0, 50.0))], g)
    >>> sino = recon.project(disc, g)
    >>> sino.shape, round(float(sino[:, 127].mean()), 2)
    ((90, 255), 2.0)
    >>> y = np.random.default_rng(0).random(g.sino_shape)  # the adjoint is exact
    >>> bool(np.isclose((sino * y).sum(), (disc * recon.backproject(y, g)).sum(), rtol=1e-12))
    True

    References
    ----------
    P. M. Joseph, "An improved algorithm for reprojecting rays through pixel images", *IEEE Trans. Med.
    Imaging* 1(3), 192–196 (1982).
    """
    return _apply("project", image, geometry, grid, backend, check_finite)


def backproject(sinogram, geometry: Geometry, *, grid: Optional[ImageGrid] = None, backend: Optional[str] = None,
                check_finite: bool = True):
    """Exact adjoint ``Aᵀ`` of :func:`project` (unfiltered, unweighted backprojection).

    ``sinogram`` is ``[..., n_views, n_det]`` float32/float64; returns ``[..., N, N]``. Satisfies
    ``<project(x), y> = <x, backproject(y)>`` to floating-point rounding (sums over all elements), and is
    the gradient of :func:`project`. Units: the transpose of ``A`` carries its path lengths (mm).
    This is not the FBP backprojector: use :func:`weighted_backproject` for analytic reconstruction.
    """
    return _apply("backproject", sinogram, geometry, grid, backend, check_finite)


def weighted_backproject(sinogram, geometry: Geometry, *, grid: Optional[ImageGrid] = None,
                         backend: Optional[str] = None, check_finite: bool = True):
    """FBP backprojector ``B_w`` (pixel-driven, linear interpolation on the detector).

    For every pixel centre ``(x, y)`` and view θ it samples the (filtered) sinogram at the detector
    coordinate where the ray through the pixel lands, times a distance weight, and sums over views:

    * parallel: ``u = x cos θ + y sin θ``, weight 1;
    * fan, flat detector: ``L = sod - x sin θ + y cos θ`` (distance source→pixel along the central ray),
      ``u = sdd (x cos θ + y sin θ) / L``, weight ``(sod / L)²``;
    * fan, arc detector: ``u = sdd · atan2(x cos θ + y sin θ, L)``, weight ``1 / (L² + (x cos θ + y sin θ)²)``
      (one over the squared source-pixel distance, mm⁻²).

    No angular integration weight is applied (multiply the sinogram by Δθ first). ``sinogram`` is
    ``[..., n_views, n_det]``; returns ``[..., N, N]``. Differentiable; its gradient is
    :func:`weighted_backproject_adjoint`.
    """
    return _apply("weighted_backproject", sinogram, geometry, grid, backend, check_finite)


def weighted_backproject_adjoint(image, geometry: Geometry, *, grid: Optional[ImageGrid] = None,
                                 backend: Optional[str] = None, check_finite: bool = True):
    """Exact adjoint of :func:`weighted_backproject`: image ``[..., N, N]`` → sinogram ``[..., n_views, n_det]``."""
    return _apply("weighted_backproject_adjoint", image, geometry, grid, backend, check_finite)
