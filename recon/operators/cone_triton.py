"""GPU kernels (Triton) of the cone-beam operators: ``A``, ``Aᵀ``, ``B_w`` and ``B_wᵀ`` for :class:`recon.ConeBeam`
and :class:`recon.ConeBeamVec` on a :class:`recon.VolumeGrid`.

The same matrices as the compiled CPU kernels (:mod:`recon.operators.cone_cpu`): the same per-view vectors
(:class:`recon.geometry.ConeVectors`), the same Joseph samples (one per voxel plane across the ray's dominant axis,
bilinear between the four voxels around it, times the ray's length per plane), the same FDK voxel-driven
backprojection with its distance weight, the same zero taps outside the volume or the detector, and the same
branch-free arctangent (:mod:`recon.operators.atan`) for cylindrical detectors. Coordinates are computed in the
data's float type (float32 data: float32 positions, whose rounding changes the float32 matrix by ~1e-6 relative);
every float constant is loaded from a tensor of that type, so float64 runs carry no float32-rounded literal.

* ``A`` — one program per (volume, view, block of detector pixels): each ray gathers its samples over the union
  of the block's driving ranges (a sample outside a ray's range has all four taps masked).
* ``Aᵀ`` — the same programs scatter with float atomics (the order of accumulation, and so the last bits of
  float32 results, may vary between runs).
* ``B_w`` — one program per (volume, block of voxels), each voxel gathering over all views.
* ``B_wᵀ`` — one program per (volume, view, block of voxels), scattering into that view with float atomics.

On CUDA tensors Triton ships with every CUDA build of PyTorch; on CPU tensors the kernels run in Triton's
interpreter (``TRITON_INTERPRET=1`` before the first import), which is how CI tests them at toy sizes. The tables
are cached per geometry, grid, device and dtype.

References: P. Tillet, H. T. Kung and D. Cox, MAPL 2019 (Triton); P. M. Joseph, IEEE Trans. Med. Imaging 1(3)
1982; L. A. Feldkamp, L. C. Davis and J. W. Kress, JOSA A 1(6) 1984.
"""

from __future__ import annotations

import numpy as np
import torch
import triton
import triton.language as tl

from ..geometry.cone import ConeGeometry
from ..geometry.volume import VolumeGrid
from .atan import ATAN_COEFFS, TAN_PI_8
from .rays import cached
from .triton_impl import _atan_ratio, _check, usable

__all__ = ["cone_forward", "cone_adjoint", "cone_backproject", "cone_backproject_adjoint", "usable"]

RAY_BLOCK = 64  # detector pixels per program of A / Aᵀ
VOXEL_BLOCK = 128  # voxels per program of B_w / B_wᵀ


# ---- Joseph's projector in 3-D ----------------------------------------------------------------------------

@triton.jit
def _k_range(a, b, n, n_drive):
    """Vectorised :func:`recon.operators.cpu._k_range`: the driving indices ``[m0, m1)`` where ``a + b m`` lies in
    (-1, n); ``n`` and ``n_drive`` are int32 tensors."""
    nf = n.to(a.dtype)
    flat = b == 0
    bs = tl.where(flat, 1, b)
    k1 = (-1 - a) / bs
    k2 = (nf - a) / bs
    lo = tl.maximum(tl.minimum(k1, k2), 0)
    hi = tl.minimum(tl.maximum(k1, k2), n_drive.to(a.dtype))
    empty = hi < lo
    m0 = tl.floor(tl.minimum(lo, n_drive.to(a.dtype))).to(tl.int32)
    m1 = tl.minimum(n_drive, tl.ceil(tl.maximum(hi, 0)).to(tl.int32) + 1)
    inside = (a > -1) & (a < nf)
    m0 = tl.where(flat | empty, 0, m0)
    m1 = tl.where(flat, tl.where(inside, n_drive, 0), tl.where(empty, 0, m1))
    return m0, m1


@triton.jit
def _rays(src, base, step, consts, v, p, live, cols, nx, ny, nz):
    """Index-space rays of detector pixels ``p`` of view ``v`` (as :func:`recon.operators.cone_cpu._ray`):
    driving range, ``a = a0 + a1 m``, ``b = b0 + b1 m``, flat strides and sizes of the three axes, length per
    plane. ``consts``: origin (x, y, z) of voxel [0, 0, 0], voxel sizes (x, y, z)."""
    r = p // cols
    c = p % cols
    q = base + (v * cols + c) * 3
    sx = tl.load(src + 3 * v)
    sy = tl.load(src + 3 * v + 1)
    sz = tl.load(src + 3 * v + 2)
    dx = tl.load(q, mask=live, other=0.0) + r * tl.load(step + 3 * v) - sx
    dy = tl.load(q + 1, mask=live, other=0.0) + r * tl.load(step + 3 * v + 1) - sy
    dz = tl.load(q + 2, mask=live, other=1.0) + r * tl.load(step + 3 * v + 2) - sz
    vx, vy, vz = tl.load(consts + 3), tl.load(consts + 4), tl.load(consts + 5)
    sj = (sx - tl.load(consts)) / vx
    si = (tl.load(consts + 1) - sy) / vy
    sk = (tl.load(consts + 2) - sz) / vz
    ej, ei, ek = dx / vx, -dy / vy, -dz / vz
    length = tl.sqrt(dx * dx + dy * dy + dz * dz)
    aj, ai, ak = tl.abs(ej), tl.abs(ei), tl.abs(ek)
    ax0 = (aj >= ai) & (aj >= ak)
    ax1 = (~ax0) & (ai >= ak)
    sm = tl.where(ax0, sj, tl.where(ax1, si, sk))
    em = tl.where(ax0, ej, tl.where(ax1, ei, ek))
    sa = tl.where(ax0, si, sj)
    ea = tl.where(ax0, ei, ej)
    sb = tl.where(ax0 | ax1, sk, si)
    eb = tl.where(ax0 | ax1, ek, ei)
    zero = tl.zeros_like(r)
    nm = tl.where(ax0, nx + zero, tl.where(ax1, ny + zero, nz + zero))
    na = tl.where(ax0, ny + zero, nx + zero)
    nb = tl.where(ax0 | ax1, nz + zero, ny + zero)
    stride_m = tl.where(ax0, 1 + zero, tl.where(ax1, nx + zero, nx * ny + zero))
    stride_a = tl.where(ax0, nx + zero, 1 + zero)
    stride_b = tl.where(ax0 | ax1, nx * ny + zero, nx + zero)
    a1 = ea / em
    b1 = eb / em
    a0 = sa - sm * a1
    b0 = sb - sm * b1
    lo_a, hi_a = _k_range(a0, a1, na, nm)
    lo_b, hi_b = _k_range(b0, b1, nb, nm)
    m0 = tl.where(live, tl.maximum(lo_a, lo_b), 0)
    m1 = tl.where(live, tl.minimum(hi_a, hi_b), 0)
    return m0, m1, a0, a1, b0, b1, stride_m, stride_a, stride_b, na, nb, length / tl.abs(em)


@triton.jit
def _taps(m, a0, a1, b0, b1, stride_m, stride_a, stride_b, na, nb, ok):
    """Flat index of the lower tap, the strides to the others, the four masks and the bilinear fractions of the
    samples on plane ``m``."""
    a = a0 + a1 * m
    b = b0 + b1 * m
    fa_ = tl.floor(a)
    fb_ = tl.floor(b)
    ia = fa_.to(tl.int32)
    ib = fb_.to(tl.int32)
    idx = m * stride_m + ia * stride_a + ib * stride_b
    a_lo = ok & (ia >= 0) & (ia < na)
    a_hi = ok & (ia >= -1) & (ia < na - 1)
    b_lo = (ib >= 0) & (ib < nb)
    b_hi = (ib >= -1) & (ib < nb - 1)
    return idx, a_lo & b_lo, a_hi & b_lo, a_lo & b_hi, a_hi & b_hi, a - fa_, b - fb_


@triton.jit
def _view_block(nv, BLOCK: tl.constexpr):
    """``(volume, view, element indices)`` of a program launched over (volumes × views, blocks)."""
    task = tl.program_id(0)
    return task // nv, task % nv, tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)


@triton.jit
def _forward_kernel(vol, src, base, step, consts, out, nv, rows, cols, nx, ny, nz, BLOCK: tl.constexpr):
    iv, v, p = _view_block(nv, BLOCK)
    live = p < rows * cols
    m0, m1, a0, a1, b0, b1, s_m, s_a, s_b, na, nb, w = _rays(src, base, step, consts, v, p, live, cols, nx, ny, nz)
    x = vol + iv.to(tl.int64) * nx * ny * nz
    acc = tl.zeros([BLOCK], dtype=a0.dtype)
    for m in range(tl.min(tl.where(m1 > m0, m0, 2147483647)), tl.max(m1)):
        idx, k00, k10, k01, k11, fa, fb = _taps(m, a0, a1, b0, b1, s_m, s_a, s_b, na, nb, (m >= m0) & (m < m1))
        low = (1 - fa) * tl.load(x + idx, mask=k00, other=0.0) + fa * tl.load(x + idx + s_a, mask=k10, other=0.0)
        high = (1 - fa) * tl.load(x + idx + s_b, mask=k01, other=0.0) + \
            fa * tl.load(x + idx + s_a + s_b, mask=k11, other=0.0)
        acc += (1 - fb) * low + fb * high
    tl.store(out + (iv.to(tl.int64) * nv + v) * rows * cols + p, w * acc, mask=live)


@triton.jit
def _adjoint_kernel(proj, src, base, step, consts, out, nv, rows, cols, nx, ny, nz, BLOCK: tl.constexpr):
    iv, v, p = _view_block(nv, BLOCK)
    y = tl.load(proj + (iv.to(tl.int64) * nv + v) * rows * cols + p, mask=p < rows * cols, other=0.0)
    live = (p < rows * cols) & (y != 0)
    m0, m1, a0, a1, b0, b1, s_m, s_a, s_b, na, nb, w = _rays(src, base, step, consts, v, p, live, cols, nx, ny, nz)
    x = out + iv.to(tl.int64) * nx * ny * nz
    wy = w * y
    for m in range(tl.min(tl.where(m1 > m0, m0, 2147483647)), tl.max(m1)):
        idx, k00, k10, k01, k11, fa, fb = _taps(m, a0, a1, b0, b1, s_m, s_a, s_b, na, nb, (m >= m0) & (m < m1))
        low = (1 - fb) * wy
        high = fb * wy
        tl.atomic_add(x + idx, (1 - fa) * low, mask=k00)
        tl.atomic_add(x + idx + s_a, fa * low, mask=k10)
        tl.atomic_add(x + idx + s_b, (1 - fa) * high, mask=k01)
        tl.atomic_add(x + idx + s_a + s_b, fa * high, mask=k11)


# ---- FDK's voxel-driven backprojector ------------------------------------------------------------------------

@triton.jit
def _detector_point(cf, x, y, z, consts, MODEL: tl.constexpr):
    """``(col, row, weight)`` of voxels ``(x, y, z)`` on the view whose coefficients start at ``cf`` (as
    :func:`recon.operators.cone_cpu._detector_point`); ``consts`` holds the arctangent's constants."""
    if MODEL == 0:
        h = tl.load(cf + 8) * x + tl.load(cf + 9) * y + tl.load(cf + 10) * z + tl.load(cf + 11)
        inv = 1 / h
        col = (tl.load(cf) * x + tl.load(cf + 1) * y + tl.load(cf + 2) * z + tl.load(cf + 3)) * inv
        row = (tl.load(cf + 4) * x + tl.load(cf + 5) * y + tl.load(cf + 6) * z + tl.load(cf + 7)) * inv
        q = tl.load(cf + 12) * inv
        wgt = q * q
    else:
        sz = tl.load(cf + 2)
        wx = x - tl.load(cf)
        wy = y - tl.load(cf + 1)
        depth = wx * tl.load(cf + 3) + wy * tl.load(cf + 4)
        t = wx * tl.load(cf + 5) + wy * tl.load(cf + 6)
        ell2 = depth * depth + t * t
        radius = tl.load(cf + 7)
        col = (radius * _atan_ratio(t, depth, consts) - tl.load(cf + 8)) * tl.load(cf + 9)
        row = (sz + (z - sz) * radius / tl.sqrt(ell2) - tl.load(cf + 10)) * tl.load(cf + 11)
        wgt = 1 / ell2
    return col, row, wgt


@triton.jit
def _voxels(xs, ys, zs, p, live, nx, ny):
    """Centre coordinates (mm) of the flat voxel indices ``p``."""
    j = p % nx
    i = (p // nx) % ny
    k = p // (nx * ny)
    return (tl.load(xs + j, mask=live, other=0.0), tl.load(ys + i, mask=live, other=0.0),
            tl.load(zs + k, mask=live, other=0.0))


@triton.jit
def _bilinear(col, row, live, rows, cols):
    """Flat index of the lower tap, the fractions and the four masks of detector points ``(col, row)``."""
    inb = live & (col > -1) & (col < cols) & (row > -1) & (row < rows)
    fc_ = tl.floor(tl.where(inb, col, 0))
    fr_ = tl.floor(tl.where(inb, row, 0))
    ic = fc_.to(tl.int32)
    ir = fr_.to(tl.int32)
    c_lo = inb & (ic >= 0)
    c_hi = inb & (ic + 1 < cols)
    r_lo = ir >= 0
    r_hi = ir + 1 < rows
    return ir * cols + ic, col - fc_, row - fr_, c_lo & r_lo, c_hi & r_lo, c_lo & r_hi, c_hi & r_hi, inb


@triton.jit
def _backproject_kernel(proj, coef, xs, ys, zs, consts, out, nv, rows, cols, nx, ny, nz, MODEL: tl.constexpr,
                        BLOCK: tl.constexpr):
    iv = tl.program_id(0)
    p = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    live = p < nx * ny * nz
    x, y, z = _voxels(xs, ys, zs, p, live, nx, ny)
    acc = tl.zeros([BLOCK], dtype=x.dtype)
    for v in range(0, nv):
        col, row, wgt = _detector_point(coef + 16 * v, x, y, z, consts, MODEL)
        idx, fc, fr, k00, k01, k10, k11, inb = _bilinear(col, row, live, rows, cols)
        img = proj + (iv.to(tl.int64) * nv + v) * rows * cols
        low = (1 - fc) * tl.load(img + idx, mask=k00, other=0.0) + fc * tl.load(img + idx + 1, mask=k01, other=0.0)
        high = (1 - fc) * tl.load(img + idx + cols, mask=k10, other=0.0) + \
            fc * tl.load(img + idx + cols + 1, mask=k11, other=0.0)
        acc += tl.where(inb, wgt * ((1 - fr) * low + fr * high), 0)
    tl.store(out + iv.to(tl.int64) * nx * ny * nz + p, acc, mask=live)


@triton.jit
def _backproject_adjoint_kernel(vol, coef, xs, ys, zs, consts, out, nv, rows, cols, nx, ny, nz,
                                MODEL: tl.constexpr, BLOCK: tl.constexpr):
    iv, v, p = _view_block(nv, BLOCK)
    val = tl.load(vol + iv.to(tl.int64) * nx * ny * nz + p, mask=p < nx * ny * nz, other=0.0)
    live = (p < nx * ny * nz) & (val != 0)
    x, y, z = _voxels(xs, ys, zs, p, live, nx, ny)
    col, row, wgt = _detector_point(coef + 16 * v, x, y, z, consts, MODEL)
    idx, fc, fr, k00, k01, k10, k11, inb = _bilinear(col, row, live, rows, cols)
    wv = tl.where(inb, wgt * val, 0)
    img = out + (iv.to(tl.int64) * nv + v) * rows * cols
    tl.atomic_add(img + idx, (1 - fr) * (1 - fc) * wv, mask=k00)
    tl.atomic_add(img + idx + 1, (1 - fr) * fc * wv, mask=k01)
    tl.atomic_add(img + idx + cols, fr * (1 - fc) * wv, mask=k10)
    tl.atomic_add(img + idx + cols + 1, fr * fc * wv, mask=k11)


# ---- tables and launches ----------------------------------------------------------------------------------

def _tables(g: ConeGeometry, grid: VolumeGrid, device: torch.device, dtype: torch.dtype) -> dict:
    def make() -> dict:
        vec = g.cone_vectors()
        base, step = vec.pixel_positions()
        atan = np.concatenate([ATAN_COEFFS, [np.pi / 4, np.pi / 2, TAN_PI_8]])
        arrays = {"src": vec.source, "base": base, "step": step, "coef": vec.backprojection_coefficients(),
                  "xs": grid.x, "ys": grid.y, "zs": grid.z, "atan": atan,
                  "volume": np.concatenate([grid.origin, grid.voxel_size[::-1]])}
        out = {k: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device).contiguous()
               for k, a in arrays.items()}
        out["model"] = {"flat": 0, "cylindrical": 1}[vec.model]
        return out
    return cached(g, ("cone-triton", grid, str(device), dtype), make)


def _sizes(g: ConeGeometry, grid: VolumeGrid) -> tuple[int, ...]:
    return (g.n_views,) + tuple(g.det_shape) + tuple(grid.shape[::-1])


def _joseph(kernel, x: torch.Tensor, g: ConeGeometry, grid: VolumeGrid, out: torch.Tensor) -> torch.Tensor:
    t = _tables(g, grid, x.device, x.dtype)
    rows, cols = g.det_shape
    launch = (x.shape[0] * g.n_views, triton.cdiv(rows * cols, RAY_BLOCK))
    kernel[launch](x, t["src"], t["base"], t["step"], t["volume"], out, *_sizes(g, grid), BLOCK=RAY_BLOCK)
    return out


def _voxel(kernel, x: torch.Tensor, g: ConeGeometry, grid: VolumeGrid, out: torch.Tensor,
           per_view: bool) -> torch.Tensor:
    t = _tables(g, grid, x.device, x.dtype)
    launch = (x.shape[0] * (g.n_views if per_view else 1), triton.cdiv(int(np.prod(grid.shape)), VOXEL_BLOCK))
    kernel[launch](x, t["coef"], t["xs"], t["ys"], t["zs"], t["atan"], out, *_sizes(g, grid), MODEL=t["model"],
                   BLOCK=VOXEL_BLOCK)
    return out


def cone_forward(vol: torch.Tensor, g: ConeGeometry, grid: VolumeGrid) -> torch.Tensor:
    """``A``: volumes ``[nb, nz, ny, nx]`` → projections ``[nb, n_views, rows, cols]``."""
    vol = _check(vol)
    return _joseph(_forward_kernel, vol, g, grid, vol.new_empty((vol.shape[0],) + g.proj_shape))


def cone_adjoint(proj: torch.Tensor, g: ConeGeometry, grid: VolumeGrid) -> torch.Tensor:
    """``Aᵀ``: projections ``[nb, n_views, rows, cols]`` → volumes ``[nb, nz, ny, nx]``."""
    proj = _check(proj)
    return _joseph(_adjoint_kernel, proj, g, grid, proj.new_zeros((proj.shape[0],) + grid.shape))


def cone_backproject(proj: torch.Tensor, g: ConeGeometry, grid: VolumeGrid) -> torch.Tensor:
    """``B_w``: projections ``[nb, n_views, rows, cols]`` → volumes ``[nb, nz, ny, nx]``."""
    proj = _check(proj)
    return _voxel(_backproject_kernel, proj, g, grid, proj.new_empty((proj.shape[0],) + grid.shape), False)


def cone_backproject_adjoint(vol: torch.Tensor, g: ConeGeometry, grid: VolumeGrid) -> torch.Tensor:
    """``B_wᵀ``: volumes ``[nb, nz, ny, nx]`` → projections ``[nb, n_views, rows, cols]``."""
    vol = _check(vol)
    return _voxel(_backproject_adjoint_kernel, vol, g, grid, vol.new_zeros((vol.shape[0],) + g.proj_shape), True)
