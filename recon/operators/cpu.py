"""Compiled CPU kernels (Numba, multi-threaded) for the projection operators.

All kernels work on C-contiguous float32 or float64 arrays with one flattened batch axis:
images ``[nb, N, N]`` and sinograms ``[nb, n_views, n_det]``. They *accumulate* into ``out`` (the caller
zeroes it). Coordinates are float64 whatever the data type. Every loop is parallelised so that no two
threads write the same output element (no atomics, deterministic results):

* ``joseph_forward`` (A): one task per (image, view); gathers along each ray.
* ``joseph_adjoint`` (Aᵀ): the same coefficients scattered back; row-driven rays in tasks that own a block
  of image rows, then column-driven rays in tasks that own a block of columns.
* ``pixel_backproject`` (B_w): one task per (image, block of rows); gathers from the detector.
* ``pixel_backproject_adjoint`` (B_wᵀ): one task per (image, view); scatters into that view's detector row.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

__all__ = ["joseph_forward", "joseph_adjoint", "pixel_backproject", "pixel_backproject_adjoint", "n_blocks"]


def n_blocks(n_batch: int, size: int) -> int:
    """How many row/column blocks to split one image into so that every thread has work."""
    threads = numba.get_num_threads()
    return int(max(1, min(size, -(-2 * threads // max(n_batch, 1)))))


@njit(inline="always", cache=True)
def _k_range(a, b, n):
    """Driving indices k in [0, n) for which the sample position ``a + b k`` lies in (-1, n)."""
    if b == 0.0:
        if -1.0 < a < n:
            return 0, n
        return 0, 0
    k1 = (-1.0 - a) / b
    k2 = (n - a) / b
    lo = max(min(k1, k2), 0.0)
    hi = min(max(k1, k2), float(n))
    if hi < lo:
        return 0, 0
    return int(math.floor(lo)), min(n, int(math.ceil(hi)) + 1)


@njit(parallel=True, cache=True, fastmath=True)
def joseph_forward(img, a, b, w, row_ptr, row_ray, col_ptr, col_ray, out):  # pragma: no cover - compiled
    nb, n, _ = img.shape
    nv = a.shape[0]
    for task in prange(nb * nv):
        ib = task // nv
        v = task - ib * nv
        for p in range(row_ptr[v], row_ptr[v + 1]):
            j = row_ray[p]
            aa = a[v, j]
            bb = b[v, j]
            k0, k1 = _k_range(aa, bb, n)
            acc = 0.0
            for k in range(k0, k1):
                c = aa + bb * k
                i = int(math.floor(c))
                f = c - i
                if 0 <= i < n:
                    acc += (1.0 - f) * img[ib, k, i]
                if 0 <= i + 1 < n:
                    acc += f * img[ib, k, i + 1]
            out[ib, v, j] += w[v, j] * acc
        for p in range(col_ptr[v], col_ptr[v + 1]):
            j = col_ray[p]
            aa = a[v, j]
            bb = b[v, j]
            k0, k1 = _k_range(aa, bb, n)
            acc = 0.0
            for k in range(k0, k1):
                c = aa + bb * k
                i = int(math.floor(c))
                f = c - i
                if 0 <= i < n:
                    acc += (1.0 - f) * img[ib, i, k]
                if 0 <= i + 1 < n:
                    acc += f * img[ib, i + 1, k]
            out[ib, v, j] += w[v, j] * acc


@njit(parallel=True, cache=True, fastmath=True)
def joseph_adjoint(sino, a, b, w, row_ptr, row_ray, col_ptr, col_ray, out, nblocks):  # pragma: no cover
    nb, nv, _ = sino.shape
    n = out.shape[1]
    # row-driven rays: each task owns rows [k_lo, k_hi) of one image
    for task in prange(nb * nblocks):
        ib = task // nblocks
        blk = task - ib * nblocks
        k_lo = blk * n // nblocks
        k_hi = (blk + 1) * n // nblocks
        for v in range(nv):
            for p in range(row_ptr[v], row_ptr[v + 1]):
                j = row_ray[p]
                val = w[v, j] * sino[ib, v, j]
                if val == 0.0:
                    continue
                aa = a[v, j]
                bb = b[v, j]
                k0, k1 = _k_range(aa, bb, n)
                for k in range(max(k0, k_lo), min(k1, k_hi)):
                    c = aa + bb * k + 1.0  # shifted: the taps i - 1, i lie in [-1, n] when c in (0, n + 1)
                    if c <= 0.0 or c >= n + 1.0:
                        continue
                    i = int(c)  # truncation = floor for c > 0
                    f = c - i
                    if i >= 1:
                        out[ib, k, i - 1] += val - f * val
                    if i < n:
                        out[ib, k, i] += f * val
    # column-driven rays: each task owns columns [k_lo, k_hi)
    for task in prange(nb * nblocks):
        ib = task // nblocks
        blk = task - ib * nblocks
        k_lo = blk * n // nblocks
        k_hi = (blk + 1) * n // nblocks
        for v in range(nv):
            for p in range(col_ptr[v], col_ptr[v + 1]):
                j = col_ray[p]
                val = w[v, j] * sino[ib, v, j]
                if val == 0.0:
                    continue
                aa = a[v, j]
                bb = b[v, j]
                k0, k1 = _k_range(aa, bb, n)
                for k in range(max(k0, k_lo), min(k1, k_hi)):
                    c = aa + bb * k + 1.0
                    if c <= 0.0 or c >= n + 1.0:
                        continue
                    i = int(c)
                    f = c - i
                    if i >= 1:
                        out[ib, i - 1, k] += val - f * val
                    if i < n:
                        out[ib, i, k] += f * val


# atan(x) = x * P(x²) on |x| <= tan(π/8): the alternating odd Taylor coefficients (-1)^k / (2k + 1),
# k = 0 … 12, highest first; truncation error < 2e-12 rad.
ATAN_COEFFS = tuple((-1.0) ** k / (2 * k + 1) for k in range(12, -1, -1))
TAN_PI_8 = 0.41421356237309503


@njit(inline="always", cache=True)
def atan_ratio(t, ell):
    """``atan(t / ell)`` for ``ell > 0`` without branches (vectorisable, unlike libm's atan2), accurate to
    2e-12 rad: reduce to |x| <= tan(π/8) with atan(z) = π/2 − atan(1/z) and atan(w) = π/4 + atan((w−1)/(w+1)),
    then a degree-25 odd polynomial."""
    z = t / ell
    a = abs(z)
    big = a > 1.0
    w = 1.0 / a if big else a
    mid = w > TAN_PI_8
    x = (w - 1.0) / (w + 1.0) if mid else w
    y = x * x
    p = 0.0
    for coeff in ATAN_COEFFS:
        p = p * y + coeff
    r = x * p + (0.7853981633974483 if mid else 0.0)
    r = 1.5707963267948966 - r if big else r
    return r if z >= 0 else -r


@njit(inline="always", cache=True)
def _detector_row(kind, y, ct, st, sod, sdd, xs, u0m, inv_du, lo, hi, kbuf, wbuf):
    """For the pixel row with centre ``y`` (mm) and pixel x-centres ``xs`` in one view, fill ``kbuf[c]``
    with the fractional detector index + 1, clamped to [0, n_det + 1] (the columns of the zero-padded
    sinogram), and ``wbuf[c]`` with the distance weight:

    * parallel (kind 0): ``u = x cos θ + y sin θ``, weight 1;
    * flat fan (1): ``L = sod - x sin θ + y cos θ``, ``u = sdd t / L``, weight ``(sod / L)²``;
    * arc fan (2): ``u = sdd atan(t / L)``, weight ``1 / (L² + t²)``.

    ``u0m`` is the position of detector element -1 (``u0 - du``). All scalars share the data's float type,
    so float32 data get float32 coordinates (8 SIMD lanes). One loop per kind, free of branches, so that it
    vectorises; shared by the backprojector and its adjoint so that both use the same coordinates."""
    n = kbuf.shape[0]
    if kind == 0:
        for c in range(n):
            x = xs[c]
            kbuf[c] = min(max((x * ct + y * st - u0m) * inv_du, lo), hi)
            wbuf[c] = 1
    elif kind == 1:
        for c in range(n):
            x = xs[c]
            inv = 1 / (sod - x * st + y * ct)
            q = sod * inv
            kbuf[c] = min(max((sdd * (x * ct + y * st) * inv - u0m) * inv_du, lo), hi)
            wbuf[c] = q * q
    else:
        for c in range(n):
            x = xs[c]
            t = x * ct + y * st
            ell = sod - x * st + y * ct
            kbuf[c] = min(max((sdd * atan_ratio(t, ell) - u0m) * inv_du, lo), hi)
            wbuf[c] = 1 / (ell * ell + t * t)


@njit(parallel=True, cache=True, fastmath=True)
def pixel_backproject(padded, cos, sin, kind, sod, sdd, xs, u0m, inv_du, out, nblocks):  # pragma: no cover
    """``padded``: sinograms ``[nb, nv, nd + 3]`` with the data in columns 1 … nd and zeros around it
    (branch-free interpolation). ``cos``, ``sin``, ``xs`` (pixel x-centres = reversed y-centres) and the
    scalars have the data's dtype."""
    nb, nv, ndp = padded.shape
    n = out.shape[1]
    lo = xs[0] * 0
    hi = lo + (ndp - 2)
    for task in prange(nb * nblocks):
        ib = task // nblocks
        blk = task - ib * nblocks
        r_lo = blk * n // nblocks
        r_hi = (blk + 1) * n // nblocks
        kbuf = np.empty(n, dtype=padded.dtype)
        wbuf = np.empty(n, dtype=padded.dtype)
        for v in range(nv):
            ct = cos[v]
            st = sin[v]
            row = padded[ib, v]
            for r in range(r_lo, r_hi):
                _detector_row(kind, xs[n - 1 - r], ct, st, sod, sdd, xs, u0m, inv_du, lo, hi, kbuf, wbuf)
                o = out[ib, r]
                for c in range(n):
                    k = kbuf[c]
                    fk = np.floor(k)
                    i = int(fk)
                    a = row[i]
                    o[c] += wbuf[c] * (a + (k - fk) * (row[i + 1] - a))


@njit(parallel=True, cache=True, fastmath=True)
def pixel_backproject_adjoint(img, cos, sin, kind, sod, sdd, xs, u0m, inv_du, padded):  # pragma: no cover
    """Adjoint of :func:`pixel_backproject`: accumulates into ``padded`` ``[nb, nv, nd + 3]``
    (the caller keeps columns 1 … nd)."""
    nb, n, _ = img.shape
    nv, ndp = padded.shape[1], padded.shape[2]
    lo = xs[0] * 0
    hi = lo + (ndp - 2)
    for task in prange(nb * nv):
        ib = task // nv
        v = task - ib * nv
        ct = cos[v]
        st = sin[v]
        kbuf = np.empty(n, dtype=padded.dtype)
        wbuf = np.empty(n, dtype=padded.dtype)
        row = padded[ib, v]
        for r in range(n):
            _detector_row(kind, xs[n - 1 - r], ct, st, sod, sdd, xs, u0m, inv_du, lo, hi, kbuf, wbuf)
            im = img[ib, r]
            for c in range(n):
                k = kbuf[c]
                fk = np.floor(k)
                i = int(fk)
                f = k - fk
                val = wbuf[c] * im[c]
                row[i] += val - f * val
                row[i + 1] += f * val
