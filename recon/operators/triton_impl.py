"""GPU kernels (Triton) for the four operators: ``A``, ``Aᵀ``, ``B_w`` and ``B_wᵀ``.

The same matrices as the compiled CPU kernels (:mod:`recon.operators.cpu`): the same Joseph coefficients
``a``, ``b``, ``w`` per ray (:func:`recon.operators.rays.joseph_rays`), the same pixel-driven detector
coordinates and distance weights (with the same branch-free ``atan`` polynomial for arc detectors), the same
zero taps outside the image or the detector. Coordinates are computed in the data's float type, as the CPU
kernels do for ``B_w``; the Joseph sample positions too (float32 data: float32 positions, whose rounding
changes the float32 matrix by ~1e-7 relative). Every float constant a kernel uses is loaded from a tensor of
the data's type, so float64 runs carry no float32-rounded literal.

* ``A`` — one program per (image, view, block of detector elements): each ray gathers its two
  interpolation taps on every driving line; a driving line the ray misses has both taps masked (zero), so
  the sum is that of the CPU kernel over its exact driving range.
* ``Aᵀ`` — the same programs scatter ``w · y`` with float atomics (order of accumulation, and so the last
  bits of float32 results, may vary between runs).
* ``B_w`` — one program per (image, block of pixels): each pixel gathers over all views.
* ``B_wᵀ`` — one program per (image, view, block of pixels): scatters into that view's detector row with
  float atomics.

Triton is imported when this module is: on CUDA tensors Triton ships with every CUDA build of PyTorch; on
CPU tensors the kernels run in Triton's interpreter (``TRITON_INTERPRET=1`` in the environment before the
first import, ``pip install triton``), which is how CI tests them at toy sizes. Geometry-derived tables are
cached per geometry, device and dtype; no per-call tensor is larger than the output.

References
----------
P. Tillet, H. T. Kung and D. Cox, "Triton: an intermediate language and compiler for tiled neural network
computations", MAPL 2019; P. M. Joseph, *IEEE Trans. Med. Imaging* 1(3), 192–196 (1982).
"""

from __future__ import annotations

import os

import numpy as np
import torch
import triton
import triton.language as tl

from ..geometry import Geometry, ImageGrid
from .atan import ATAN_COEFFS, TAN_PI_8
from .rays import cached, joseph_rays, pixel_driven_params  # MODEL: 0 parallel, 1 flat, 2 arc

__all__ = ["joseph_forward", "joseph_adjoint", "pixel_backproject", "pixel_backproject_adjoint", "interpreted",
           "usable", "TritonBackend"]

RAY_BLOCK = 128  # detector elements per program of A / Aᵀ
PIXEL_BLOCK = 256  # pixels per program of B_w / B_wᵀ


def interpreted() -> bool:
    """Whether the kernels run in Triton's CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def usable(device: torch.device) -> bool:
    """Whether the kernels can run on tensors of ``device``: CUDA, or the CPU under the interpreter."""
    return device.type == "cuda" or (device.type == "cpu" and interpreted())


# ---- kernels ----------------------------------------------------------------------------------------------

@triton.jit
def _joseph_taps(a, b, k, n, rows, live):
    """Flat pixel indices, fraction and masks of the two taps of the rays' samples on driving line ``k``."""
    c = a + b * k
    fl = tl.floor(c)
    i = fl.to(tl.int32)
    f = c - fl
    in0 = live & (i >= 0) & (i < n)
    in1 = live & (i >= -1) & (i < n - 1)
    idx0 = tl.where(rows, k * n + i, i * n + k)
    idx1 = tl.where(rows, k * n + i + 1, (i + 1) * n + k)
    return idx0, idx1, f, in0, in1


@triton.jit
def _ray(a_ptr, b_ptr, w_ptr, row_ptr, e, live):
    """The Joseph coefficients ``a``, ``b``, ``w`` and the row-driven flag of the rays ``e`` (0 where not live)."""
    a = tl.load(a_ptr + e, mask=live, other=0.0)
    b = tl.load(b_ptr + e, mask=live, other=0.0)
    w = tl.load(w_ptr + e, mask=live, other=0.0)
    rows = tl.load(row_ptr + e, mask=live, other=0) != 0
    return a, b, w, rows


@triton.jit
def _joseph_forward_kernel(img, a_ptr, b_ptr, w_ptr, row_ptr, out, nv, nd, n, BLOCK: tl.constexpr):
    task = tl.program_id(0)
    ib = task // nv
    v = task % nv
    j = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    live = j < nd
    e = v * nd + j
    a, b, w, rows = _ray(a_ptr, b_ptr, w_ptr, row_ptr, e, live)
    base = img + ib.to(tl.int64) * n * n
    acc = tl.zeros([BLOCK], dtype=a.dtype)
    for k in range(0, n):
        idx0, idx1, f, in0, in1 = _joseph_taps(a, b, k, n, rows, live)
        p0 = tl.load(base + idx0, mask=in0, other=0.0)
        p1 = tl.load(base + idx1, mask=in1, other=0.0)
        acc += (1 - f) * p0 + f * p1
    tl.store(out + ib.to(tl.int64) * nv * nd + e, w * acc, mask=live)


@triton.jit
def _joseph_adjoint_kernel(sino, a_ptr, b_ptr, w_ptr, row_ptr, out, nv, nd, n, BLOCK: tl.constexpr):
    task = tl.program_id(0)
    ib = task // nv
    v = task % nv
    j = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    e = v * nd + j
    y = tl.load(sino + ib.to(tl.int64) * nv * nd + e, mask=j < nd, other=0.0)
    live = (j < nd) & (y != 0)
    a, b, w, rows = _ray(a_ptr, b_ptr, w_ptr, row_ptr, e, live)
    wy = w * y
    base = out + ib.to(tl.int64) * n * n
    for k in range(0, n):
        idx0, idx1, f, in0, in1 = _joseph_taps(a, b, k, n, rows, live)
        tl.atomic_add(base + idx0, wy - f * wy, mask=in0)
        tl.atomic_add(base + idx1, f * wy, mask=in1)


@triton.jit
def _atan_ratio(t, ell, consts):
    """``atan(t / ell)`` (ell > 0) by the reduction and polynomial of :func:`recon.operators.cpu.atan_ratio`;
    ``consts`` holds its 13 coefficients (highest first), then π/4, π/2, tan(π/8)."""
    z = t / ell
    a = tl.abs(z)
    big = a > 1
    w = tl.where(big, 1 / tl.where(big, a, 1), a)
    mid = w > tl.load(consts + 15)
    x = tl.where(mid, (w - 1) / (w + 1), w)
    y = x * x
    p = tl.zeros_like(x)
    for q in tl.static_range(13):
        p = p * y + tl.load(consts + q)
    r = x * p + tl.where(mid, tl.load(consts + 13), 0)
    r = tl.where(big, tl.load(consts + 14) - r, r)
    return tl.where(z >= 0, r, -r)


@triton.jit
def _detector_position(x, y, cf, v, consts, MODEL: tl.constexpr):
    """Padded fractional detector index (element index + 1, clamped to [0, n_det + 1]) and distance weight of
    pixels ``(x, y)`` in view ``v``, as :func:`recon.operators.cpu._detector_row`: ``cf`` holds the views'
    detector maps, 10 per view (``tx, ty, t0, lx, ly, l0, R``, the position of element -1, 1/pitch, ``D``);
    ``consts[16]`` is n_det + 1."""
    row = cf + 10 * v
    hi = tl.load(consts + 16)
    t = x * tl.load(row) + (y * tl.load(row + 1) + tl.load(row + 2))
    s_m = tl.load(row + 7)
    inv_du = tl.load(row + 8)
    if MODEL == 0:
        kpos = (t - s_m) * inv_du
        wgt = tl.full(t.shape, 1, t.dtype)
    else:
        l0 = tl.load(row + 5)
        ell = x * tl.load(row + 3) + (y * tl.load(row + 4) + l0)
        radius = tl.load(row + 6)
        if MODEL == 1:
            inv = 1 / ell
            q = tl.load(row + 9) * inv
            kpos = (radius * t * inv - s_m) * inv_du
            wgt = q * q
        else:
            kpos = (radius * _atan_ratio(t, ell, consts) - s_m) * inv_du
            wgt = 1 / (ell * ell + t * t)
    kpos = tl.minimum(tl.maximum(kpos, 0), hi)
    return kpos, wgt


@triton.jit
def _pixel_backproject_kernel(sino, cf_ptr, xs_ptr, consts, out, nv, nd, n, MODEL: tl.constexpr,
                              BLOCK: tl.constexpr):
    ib = tl.program_id(0)
    p = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    live = p < n * n
    r = p // n
    c = p % n
    x = tl.load(xs_ptr + c, mask=live, other=0.0)
    y = tl.load(xs_ptr + (n - 1 - r), mask=live, other=0.0)
    base = sino + ib.to(tl.int64) * nv * nd
    acc = tl.zeros([BLOCK], dtype=x.dtype)
    for v in range(0, nv):
        kpos, wgt = _detector_position(x, y, cf_ptr, v, consts, MODEL)
        fl = tl.floor(kpos)
        f = kpos - fl
        i = fl.to(tl.int32) - 1  # detector element of the first tap (-1 … n_det)
        s0 = tl.load(base + v * nd + i, mask=live & (i >= 0) & (i < nd), other=0.0)
        s1 = tl.load(base + v * nd + i + 1, mask=live & (i >= -1) & (i < nd - 1), other=0.0)
        acc += wgt * (s0 + f * (s1 - s0))
    tl.store(out + ib.to(tl.int64) * n * n + p, acc, mask=live)


@triton.jit
def _pixel_backproject_adjoint_kernel(img, cf_ptr, xs_ptr, consts, out, nv, nd, n, MODEL: tl.constexpr,
                                      BLOCK: tl.constexpr):
    task = tl.program_id(0)
    ib = task // nv
    v = task % nv
    p = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    live = p < n * n
    r = p // n
    c = p % n
    x = tl.load(xs_ptr + c, mask=live, other=0.0)
    y = tl.load(xs_ptr + (n - 1 - r), mask=live, other=0.0)
    im = tl.load(img + ib.to(tl.int64) * n * n + p, mask=live, other=0.0)
    kpos, wgt = _detector_position(x, y, cf_ptr, v, consts, MODEL)
    fl = tl.floor(kpos)
    f = kpos - fl
    i = fl.to(tl.int32) - 1
    val = wgt * im
    live = live & (im != 0)
    row = out + ib.to(tl.int64) * nv * nd + v * nd
    tl.atomic_add(row + i, val - f * val, mask=live & (i >= 0) & (i < nd))
    tl.atomic_add(row + i + 1, f * val, mask=live & (i >= -1) & (i < nd - 1))


# ---- tables and launches ----------------------------------------------------------------------------------

def _joseph_tables(geometry: Geometry, grid: ImageGrid, device: torch.device, dtype: torch.dtype) -> dict:
    def make() -> dict:
        r = joseph_rays(geometry, grid)
        t = {k: torch.as_tensor(getattr(r, k), dtype=dtype, device=device).contiguous() for k in ("a", "b", "w")}
        t["row"] = torch.as_tensor(r.row_driven.astype(np.int8), device=device).contiguous()
        return t
    return cached(geometry, ("triton-joseph", grid, str(device), dtype), make)


def _pixel_tables(geometry: Geometry, grid: ImageGrid, device: torch.device, dtype: torch.dtype) -> dict:
    def make() -> dict:
        p = pixel_driven_params(geometry, grid)
        consts = np.concatenate([ATAN_COEFFS, [np.pi / 4, np.pi / 2, TAN_PI_8], [p.n_det + 1]])
        return {"model": p.model,
                "cf": torch.as_tensor(p.coef.ravel(), dtype=dtype, device=device),
                "xs": torch.as_tensor(grid.centred_coords, dtype=dtype, device=device),
                "consts": torch.as_tensor(consts, dtype=dtype, device=device)}
    return cached(geometry, ("triton-pixel", grid, str(device), dtype), make)


def _check(x: torch.Tensor) -> torch.Tensor:
    if not usable(x.device):
        raise ValueError(f"backend 'triton' runs on CUDA tensors (or on CPU tensors in Triton's interpreter, "
                         f"TRITON_INTERPRET=1); got a tensor on {x.device}")
    return x.contiguous()


def _run_joseph(kernel, x: torch.Tensor, geometry: Geometry, grid: ImageGrid, out: torch.Tensor) -> torch.Tensor:
    """Launch a Joseph kernel (one program per image, view and block of detector elements) into ``out``."""
    t = _joseph_tables(geometry, grid, x.device, x.dtype)
    nv, nd = geometry.n_views, geometry.n_det
    kernel[(x.shape[0] * nv, triton.cdiv(nd, RAY_BLOCK))](x, t["a"], t["b"], t["w"], t["row"], out, nv, nd,
                                                          grid.size, BLOCK=RAY_BLOCK)
    return out


def _run_pixel(kernel, x: torch.Tensor, geometry: Geometry, grid: ImageGrid, out: torch.Tensor,
               per_view: bool) -> torch.Tensor:
    """Launch a pixel-driven kernel (one program per image — and view, if ``per_view`` — and pixel block)."""
    t = _pixel_tables(geometry, grid, x.device, x.dtype)
    nv, n = geometry.n_views, grid.size
    grid = (x.shape[0] * (nv if per_view else 1), triton.cdiv(n * n, PIXEL_BLOCK))
    kernel[grid](x, t["cf"], t["xs"], t["consts"], out, nv, geometry.n_det, n, MODEL=t["model"], BLOCK=PIXEL_BLOCK)
    return out


def joseph_forward(img: torch.Tensor, geometry: Geometry, grid: ImageGrid) -> torch.Tensor:
    """``A``: images ``[nb, N, N]`` → sinograms ``[nb, n_views, n_det]``."""
    img = _check(img)
    out = img.new_empty((img.shape[0],) + geometry.sino_shape)
    return _run_joseph(_joseph_forward_kernel, img, geometry, grid, out)


def joseph_adjoint(sino: torch.Tensor, geometry: Geometry, grid: ImageGrid) -> torch.Tensor:
    """``Aᵀ``: sinograms ``[nb, n_views, n_det]`` → images ``[nb, N, N]``."""
    sino = _check(sino)
    return _run_joseph(_joseph_adjoint_kernel, sino, geometry, grid, sino.new_zeros((sino.shape[0],) + grid.shape))


def pixel_backproject(sino: torch.Tensor, geometry: Geometry, grid: ImageGrid) -> torch.Tensor:
    """``B_w``: sinograms ``[nb, n_views, n_det]`` → images ``[nb, N, N]``."""
    sino = _check(sino)
    out = sino.new_empty((sino.shape[0],) + grid.shape)
    return _run_pixel(_pixel_backproject_kernel, sino, geometry, grid, out, per_view=False)


def pixel_backproject_adjoint(img: torch.Tensor, geometry: Geometry, grid: ImageGrid) -> torch.Tensor:
    """``B_wᵀ``: images ``[nb, N, N]`` → sinograms ``[nb, n_views, n_det]``."""
    img = _check(img)
    out = img.new_zeros((img.shape[0],) + geometry.sino_shape)
    return _run_pixel(_pixel_backproject_adjoint_kernel, img, geometry, grid, out, per_view=True)


class TritonBackend:
    """The Triton kernels as a back-end of :mod:`recon.operators.registry` (registered as "triton")."""

    devices = ("CUDA tensors (or on CPU tensors in Triton's interpreter, TRITON_INTERPRET=1 set before the first "
               "use)")
    usable = staticmethod(usable)
    project = staticmethod(joseph_forward)
    backproject = staticmethod(joseph_adjoint)
    weighted_backproject = staticmethod(pixel_backproject)
    weighted_backproject_adjoint = staticmethod(pixel_backproject_adjoint)
