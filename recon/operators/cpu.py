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


@njit(parallel=True, cache=True)
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


@njit(parallel=True, cache=True)
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
                    c = aa + bb * k
                    i = int(math.floor(c))
                    f = c - i
                    if 0 <= i < n:
                        out[ib, k, i] += (1.0 - f) * val
                    if 0 <= i + 1 < n:
                        out[ib, k, i + 1] += f * val
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
                    c = aa + bb * k
                    i = int(math.floor(c))
                    f = c - i
                    if 0 <= i < n:
                        out[ib, i, k] += (1.0 - f) * val
                    if 0 <= i + 1 < n:
                        out[ib, i + 1, k] += f * val


@njit(inline="always", cache=True)
def _pixel_to_detector(x, y, ct, st, kind, sod, sdd):
    """Detector coordinate u (mm) of point (x, y) and the FBP distance weight for one view."""
    t = x * ct + y * st
    if kind == 0:  # parallel
        return t, 1.0
    ell = sod - x * st + y * ct  # distance source→point projected on the central ray
    if kind == 1:  # flat detector: (sod / L)^2
        q = sod / ell
        return sdd * t / ell, q * q
    return sdd * math.atan2(t, ell), 1.0 / (ell * ell + t * t)  # arc detector: 1 / L^2


@njit(parallel=True, cache=True)
def pixel_backproject(sino, cos, sin, kind, sod, sdd, px, u0, du, out, nblocks):  # pragma: no cover
    nb, nv, nd = sino.shape
    n = out.shape[1]
    half = (n - 1) / 2.0
    inv_du = 1.0 / du
    for task in prange(nb * nblocks):
        ib = task // nblocks
        blk = task - ib * nblocks
        r_lo = blk * n // nblocks
        r_hi = (blk + 1) * n // nblocks
        for v in range(nv):
            ct = cos[v]
            st = sin[v]
            for r in range(r_lo, r_hi):
                y = (half - r) * px
                for c in range(n):
                    x = (c - half) * px
                    u, wgt = _pixel_to_detector(x, y, ct, st, kind, sod, sdd)
                    k = (u - u0) * inv_du
                    i = int(math.floor(k))
                    f = k - i
                    val = 0.0
                    if 0 <= i < nd:
                        val += (1.0 - f) * sino[ib, v, i]
                    if 0 <= i + 1 < nd:
                        val += f * sino[ib, v, i + 1]
                    out[ib, r, c] += wgt * val


@njit(parallel=True, cache=True)
def pixel_backproject_adjoint(img, cos, sin, kind, sod, sdd, px, u0, du, out):  # pragma: no cover
    nb, n, _ = img.shape
    nv, nd = out.shape[1], out.shape[2]
    half = (n - 1) / 2.0
    inv_du = 1.0 / du
    for task in prange(nb * nv):
        ib = task // nv
        v = task - ib * nv
        ct = cos[v]
        st = sin[v]
        for r in range(n):
            y = (half - r) * px
            for c in range(n):
                val = img[ib, r, c]
                if val == 0.0:
                    continue
                x = (c - half) * px
                u, wgt = _pixel_to_detector(x, y, ct, st, kind, sod, sdd)
                k = (u - u0) * inv_du
                i = int(math.floor(k))
                f = k - i
                val = wgt * val
                if 0 <= i < nd:
                    out[ib, v, i] += (1.0 - f) * val
                if 0 <= i + 1 < nd:
                    out[ib, v, i + 1] += f * val
