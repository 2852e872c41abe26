"""One registry of operator back-ends: every implementation of the four operators registers here, by name.

A back-end is any object with a ``usable(device) -> bool`` method and some of the four operators as methods,
each taking a flattened batch, the geometry and the image grid (:class:`recon.ImageGrid`) and returning the
flattened result (torch tensors on the input's device, the input's dtype)::

    project(x [nb, N, N], geometry, grid) -> [nb, n_views, n_det]               # A
    backproject(y [nb, n_views, n_det], geometry, grid) -> [nb, N, N]           # Aᵀ, the exact adjoint of its A
    weighted_backproject(y [nb, n_views, n_det], geometry, grid) -> [nb, N, N]  # B_w
    weighted_backproject_adjoint(x [nb, N, N], geometry, grid) -> [nb, n_views, n_det]

Validation, batching, memory checks and autograd stay in :mod:`recon.operators.functional`, so a back-end
only computes. recon registers "numba" (CPU), "torch" (any device) and "triton" (CUDA, or the CPU under
``TRITON_INTERPRET=1``; imported on first use), and :mod:`recon.interop` registers "astra" where the ASTRA
Toolbox is installed. A third party registers its own without touching ``recon/``::

    recon.operators.register_backend("mine", MyBackend())
    recon.project(image, geometry, backend="mine")

(the ODL ``RayTransform`` ``impl=`` registry is the model: ``odl/tomo/operators/ray_trafo.py``).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Protocol, Union

import numpy as np
import torch

from ..geometry import Geometry, ImageGrid
from . import cpu, torch_impl
from .rays import joseph_rays, pixel_driven_params

__all__ = ["Backend", "OPERATORS", "register_backend", "backends", "get_backend"]

#: The operators a back-end may provide.
OPERATORS = ("project", "backproject", "weighted_backproject", "weighted_backproject_adjoint")


class Backend(Protocol):
    """What a back-end provides (see the module docstring); an operator it lacks is simply not defined.
    ``devices`` says in words where it computes (for error messages), e.g. "CPU tensors only"."""

    devices: str

    def usable(self, device: torch.device) -> bool:
        """Whether it computes on tensors of ``device``."""


# name -> a back-end, or a zero-argument factory that makes it on first use (for optional dependencies)
_REGISTRY: dict[str, Union[Backend, Callable[[], Backend]]] = {}
_LAZY: set[str] = set()


def register_backend(name: str, backend: Union[Backend, Callable[[], Backend]], *, lazy: bool = False) -> None:
    """Register ``backend`` under ``name`` (replacing an earlier one of that name). With ``lazy=True``,
    ``backend`` is a factory called on first use, whose ``ImportError`` becomes a clear ``ValueError``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a back-end name must be an identifier such as 'numba', got {name!r}")
    if lazy:
        if not callable(backend):
            raise TypeError(f"back-end {name!r}: lazy=True needs a factory (a callable returning the back-end)")
    elif not callable(getattr(backend, "usable", None)) or not any(callable(getattr(backend, op, None))
                                                                  for op in OPERATORS):
        raise TypeError(f"back-end {name!r} must have a usable(device) method and at least one of {OPERATORS}")
    _REGISTRY[name] = backend
    (_LAZY.add if lazy else _LAZY.discard)(name)


def backends() -> tuple[str, ...]:
    """The registered back-end names, in registration order."""
    return tuple(_REGISTRY)


def get_backend(name: str) -> Backend:
    """The back-end registered as ``name`` (made now if it was registered lazily); ``ValueError`` naming the
    registered ones for an unknown name, or saying what is missing for one that cannot be made."""
    if name not in _REGISTRY:
        raise ValueError(f"backend must be one of {backends()} or None, got {name!r}")
    if name in _LAZY:
        try:
            made = _REGISTRY[name]()  # type: ignore[operator]
        except ImportError as err:
            raise ValueError(f"backend {name!r} cannot be used here: {err}") from None
        register_backend(name, made)
    return _REGISTRY[name]  # type: ignore[return-value]


def operator_of(backend: Backend, name: str, op: str) -> Callable[[torch.Tensor, Geometry, ImageGrid], torch.Tensor]:
    """``backend``'s implementation of ``op``, or ``ValueError`` listing the operators it has."""
    fn = getattr(backend, op, None)
    if not callable(fn):
        have = [o for o in OPERATORS if callable(getattr(backend, o, None))]
        raise ValueError(f"backend {name!r} has no {op} (it provides {', '.join(have)}); choose another backend")
    return fn


# ---- the built-in back-ends -------------------------------------------------------------------------------------

def _pixel_args(g: Geometry, grid: ImageGrid, dtype: np.dtype) -> tuple:
    """Arguments of the pixel-driven kernels in the data's float type (float32 data: float32 coordinates)."""
    p = pixel_driven_params(g, grid)
    return p.coef.astype(dtype), p.model, grid.centred_coords.astype(dtype), p.primary, p.opposite


class NumbaBackend:
    """The compiled multi-threaded CPU kernels of :mod:`recon.operators.cpu` (the CPU default)."""

    devices = "CPU tensors only"

    @staticmethod
    def usable(device: torch.device) -> bool:
        return device.type == "cpu"

    @staticmethod
    def _numpy(x: torch.Tensor) -> np.ndarray:
        return x.contiguous().numpy()

    def _joseph(self, kernel, x: torch.Tensor, g: Geometry, grid: ImageGrid, out_shape: tuple) -> torch.Tensor:
        r = joseph_rays(g, grid)
        arr = self._numpy(x)
        out = np.zeros((arr.shape[0],) + out_shape, dtype=arr.dtype)
        kernel(arr, r.a, r.b, r.w, r.row_ptr, r.row_ray, r.col_ptr, r.col_ray, out)
        return torch.from_numpy(out)

    def project(self, x: torch.Tensor, g: Geometry, grid: ImageGrid) -> torch.Tensor:
        return self._joseph(cpu.joseph_forward, x, g, grid, g.sino_shape)

    def backproject(self, y: torch.Tensor, g: Geometry, grid: ImageGrid) -> torch.Tensor:
        return self._joseph(cpu.joseph_adjoint, y, g, grid, grid.shape)

    def weighted_backproject(self, y: torch.Tensor, g: Geometry, grid: ImageGrid) -> torch.Tensor:
        arr = self._numpy(y)
        padded = np.zeros(arr.shape[:2] + (g.n_det + 3,), dtype=arr.dtype)  # zero columns at -1, n_det, n_det + 1
        padded[:, :, 1:-2] = arr
        out = np.zeros((arr.shape[0],) + grid.shape, dtype=arr.dtype)
        cpu.pixel_backproject(padded, *_pixel_args(g, grid, arr.dtype), out,
                              cpu.n_blocks(arr.shape[0], (grid.size + 1) // 2))
        return torch.from_numpy(out)

    def weighted_backproject_adjoint(self, x: torch.Tensor, g: Geometry, grid: ImageGrid) -> torch.Tensor:
        arr = self._numpy(x)
        padded = np.zeros((arr.shape[0], g.n_views, g.n_det + 3), dtype=arr.dtype)
        cpu.pixel_backproject_adjoint(arr, *_pixel_args(g, grid, arr.dtype), padded)
        return torch.from_numpy(np.ascontiguousarray(padded[:, :, 1:-2]))


class TorchBackend:
    """The same matrices as plain PyTorch code (:mod:`recon.operators.torch_impl`), on any device."""

    devices = "tensors on any device"

    @staticmethod
    def usable(device: torch.device) -> bool:
        return True

    project = staticmethod(torch_impl.joseph_forward)
    backproject = staticmethod(torch_impl.joseph_adjoint)
    weighted_backproject = staticmethod(torch_impl.pixel_backproject)
    weighted_backproject_adjoint = staticmethod(torch_impl.pixel_backproject_adjoint)


def _triton_backend() -> Any:
    """The Triton kernels (:mod:`recon.operators.triton_impl`), imported on first use."""
    try:
        triton_impl = importlib.import_module(".triton_impl", __package__)
    except ImportError as err:
        raise ImportError(f"it needs the triton package ({err}); on a CPU machine: pip install triton, and set "
                          "TRITON_INTERPRET=1 to run its kernels in the interpreter") from None
    return triton_impl.TritonBackend()


register_backend("numba", NumbaBackend())
register_backend("torch", TorchBackend())
register_backend("triton", _triton_backend, lazy=True)
