"""Compiled CPU kernels (Numba, multi-threaded) for the projection operators.

All kernels work on C-contiguous float32 or float64 arrays with one flattened batch axis:
images ``[nb, N, N]`` and sinograms ``[nb, n_views, n_det]``. They *accumulate* into ``out`` (the caller
zeroes it). Coordinates are float64 whatever the data type. Every loop is parallelised so that no two
threads write the same output element (no atomics, deterministic results):

* ``joseph_forward`` (A): one task per (image, view); gathers along each ray.
* ``joseph_adjoint`` (Aᵀ): the same coefficients scattered back, one task per (image, block of 64 rows):
  for each view it scatters the rays that reach its rows line by line into padded buffers it alone writes
  (row-driven rays into its rows, column-driven rays into the same rows of a transposed image, added back
  to ``out`` by a second parallel pass).
* ``pixel_backproject`` (B_w): one task per (image, block of row pairs r, N-1-r); gathers from the
  detector. Views 180° apart share their detector coordinates (pixel (-x, -y) at θ + π meets the detector
  where (x, y) meets it at θ), which halves the coordinate work of full scans.
* ``pixel_backproject_adjoint`` (B_wᵀ): one task per (image, view or opposite-view pair); scatters into
  those views' detector rows.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from .atan import ATAN_COEFFS, TAN_PI_8

__all__ = ["joseph_forward", "joseph_adjoint", "pixel_backproject", "pixel_backproject_adjoint", "n_blocks"]


def n_blocks(n_batch: int, size: int) -> int:
    """How many row/column blocks to split one image into so that every thread has work."""
    threads = numba.get_num_threads()
    return int(max(1, min(size, -(-2 * threads // max(n_batch, 1)))))


@njit(inline="always", cache=True)
def _k_range(a, b, n, n_drive):
    """Driving indices k in [0, n_drive) for which the sample position ``a + b k`` lies in (-1, n) (a sample with
    a tap inside the axis of ``n`` pixels; the 2-D kernels drive along an axis of the same ``n``)."""
    if b == 0.0:
        if -1.0 < a < n:
            return 0, n_drive
        return 0, 0
    k1 = (-1.0 - a) / b
    k2 = (n - a) / b
    lo = max(min(k1, k2), 0.0)
    hi = min(max(k1, k2), float(n_drive))
    if hi < lo:
        return 0, 0
    return int(math.floor(lo)), min(n_drive, int(math.ceil(hi)) + 1)


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
            k0, k1 = _k_range(aa, bb, n, n)
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
            k0, k1 = _k_range(aa, bb, n, n)
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


# Aᵀ works on blocks of ADJOINT_BLOCK_ROWS driving lines (image rows for row-driven rays, columns for
# column-driven ones): 64 zero-padded lines are ~260 kB in float64, so a block stays in L2 while every view is
# scattered into it. The block height is fixed (not derived from the thread count), so the result is bitwise
# the same whatever the number of threads or the batch size.
ADJOINT_BLOCK_ROWS = 64
_SCATTER_STREAMS = 4  # independent read-modify-write chains interleaved in the scatter loop


@njit(inline="always", cache=True)
def _block_rays(sino, ib, v, a, b, w, ptr, ray, n, k_lo, k_hi, va, vb, vv):
    """Collect the rays of view ``v`` (CSR list ``ptr``/``ray``) whose driving range meets lines
    ``[k_lo, k_hi)`` and whose datum is not zero: ``va = a + 1`` (sample positions shifted into the padded
    line), ``vb = b`` and the weighted datum ``vv = w · y`` (in the data's dtype). Returns their count. A ray
    left out here has no sample on these lines in :func:`joseph_forward` either (both use :func:`_k_range`),
    or contributes exactly zero."""
    m = 0
    for p in range(ptr[v], ptr[v + 1]):
        j = ray[p]
        val = sino[ib, v, j]
        if val == 0.0:  # e.g. masked views: skip their work
            continue
        aa = a[v, j]
        bb = b[v, j]
        k0, k1 = _k_range(aa, bb, n, n)
        if k0 < k1 and k0 < k_hi and k1 > k_lo:
            va[m] = aa + 1.0
            vb[m] = bb
            vv[m] = w[v, j] * val
            m += 1
    return m


@njit(inline="always", cache=True)
def _scatter_line(line, k, m, va, vb, vv, ibuf, w0, w1):
    """Add the samples of ``m`` rays on driving line ``k`` to ``line``, a zero-padded image line whose
    column ``i + 1`` is pixel ``i`` (columns 0, n + 1 and n + 2 are padding, discarded by the caller).

    Ray ``q`` crosses the line at ``c = a + b k``; Joseph's interpolation gives pixel ``floor(c)`` the
    weight ``1 - frac(c)`` and pixel ``floor(c) + 1`` the weight ``frac(c)``. Clamping the shifted position
    to ``[0, n + 1]`` sends every tap outside the image into the padding (with the weight it had, or 0), so
    neither loop branches. Pass 1 (vectorised; float64 positions as in the forward projector, weights in the
    data's dtype) computes the taps; pass 2 scatters them, interleaving ``_SCATTER_STREAMS`` runs of rays far
    apart on the line so that consecutive read-modify-writes rarely hit the same pixel and do not wait on each
    other."""
    hi = line.shape[0] - 2.0  # n + 1
    for q in range(m):
        c = min(max(va[q] + vb[q] * k, 0.0), hi)
        i = int(c)
        ibuf[q] = i
        w1[q] = c - i  # frac(c), rounded to the data's dtype: float32 data get float32 products (16 lanes)
        w1[q] *= vv[q]
        w0[q] = vv[q] - w1[q]
    s = m // _SCATTER_STREAMS
    for r in range(s):
        for u in range(_SCATTER_STREAMS):
            q = r + u * s
            i = ibuf[q]
            line[i] += w0[q]
            line[i + 1] += w1[q]
    for q in range(_SCATTER_STREAMS * s, m):
        i = ibuf[q]
        line[i] += w0[q]
        line[i + 1] += w1[q]


@njit(parallel=True, cache=True, fastmath=True)
def joseph_adjoint(sino, a, b, w, row_ptr, row_ray, col_ptr, col_ray, out):  # pragma: no cover - compiled
    """``out += Aᵀ sino`` with exactly the coefficients of :func:`joseph_forward` (same ``a``, ``b``,
    ``w``, float64 sample positions, same driving ranges).

    Parallel decomposition (race-free by construction, no atomics): one task per (image, block of
    ``ADJOINT_BLOCK_ROWS`` driving lines ``[k_lo, k_hi)``). For every view the task gathers the rays that reach
    its lines and scatters them line by line, so the lines being written stay in cache:

    * row-driven rays go into a private zero-padded buffer of the task's image rows, added to
      ``out[ib, k_lo:k_hi]`` at the end of the task — rows no other task writes;
    * column-driven rays go into rows ``[k_lo, k_hi)`` of ``colt``, a zero-padded *transposed* image
      (``colt[ib, c, r + 1]`` accumulates pixel ``(r, c)``), so their writes are contiguous too; only this
      task writes those rows.

    After the parallel loop has finished, a second one adds ``colt`` back, again one task per block of rows
    of ``out``. The blocks do not depend on the thread count, so neither does the order in which any output
    element is accumulated: results are bitwise reproducible across runs, thread counts and batch sizes."""
    nb, nv, nd = sino.shape
    n = out.shape[1]
    dt = out.dtype
    rows_per_block = ADJOINT_BLOCK_ROWS
    nblk = (n + rows_per_block - 1) // rows_per_block
    colt = np.zeros((nb, n, n + 3), dtype=dt)
    for task in prange(nb * nblk):
        ib = task // nblk
        blk = task - ib * nblk
        k_lo = blk * rows_per_block
        k_hi = min(n, k_lo + rows_per_block)
        rows = np.zeros((k_hi - k_lo, n + 3), dtype=dt)
        va = np.empty(nd)
        vb = np.empty(nd)
        vv = np.empty(nd, dtype=dt)
        w0 = np.empty(nd, dtype=dt)
        w1 = np.empty(nd, dtype=dt)
        ibuf = np.empty(nd, dtype=np.uint32)
        for v in range(nv):
            m = _block_rays(sino, ib, v, a, b, w, row_ptr, row_ray, n, k_lo, k_hi, va, vb, vv)
            if m > 0:
                for k in range(k_lo, k_hi):
                    _scatter_line(rows[k - k_lo], k, m, va, vb, vv, ibuf, w0, w1)
            m = _block_rays(sino, ib, v, a, b, w, col_ptr, col_ray, n, k_lo, k_hi, va, vb, vv)
            if m > 0:
                for k in range(k_lo, k_hi):
                    _scatter_line(colt[ib, k], k, m, va, vb, vv, ibuf, w0, w1)
        for k in range(k_lo, k_hi):
            for c in range(n):
                out[ib, k, c] += rows[k - k_lo, c + 1]
    for task in prange(nb * nblk):
        ib = task // nblk
        blk = task - ib * nblk
        for r in range(blk * rows_per_block, min(n, (blk + 1) * rows_per_block)):
            for c in range(n):
                out[ib, r, c] += colt[ib, c, r + 1]


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
def _detector_row(model, y, cf, xs, lo, hi, kbuf, wbuf):
    """For the pixel row with centre ``y`` (mm) and pixel x-centres ``xs`` in one view, fill ``kbuf[c]``
    with the fractional detector index + 1, clamped to [0, n_det + 1] (the columns of the zero-padded
    sinogram), and ``wbuf[c]`` with the distance weight. ``cf`` holds the view's detector map
    (:class:`recon.geometry.DetectorMap`) as ``tx, ty, t0, lx, ly, l0, R, s_m, 1/pitch, D`` with ``s_m`` the
    position of element -1; with ``t = tx x + ty y + t0`` and ``L = lx x + ly y + l0``:

    * parallel (model 0): ``s = t``, weight 1;
    * flat (1): ``s = R t / L``, weight ``(D / L)²`` (``(sod / L)²`` on a circular orbit);
    * arc (2): ``s = R atan(t / L)``, weight ``1 / (L² + t²)``.

    All scalars share the data's float type, so float32 data get float32 coordinates (8 SIMD lanes). One loop
    per model, free of branches, so that it vectorises; shared by the backprojector and its adjoint so that
    both use the same coordinates."""
    n = kbuf.shape[0]
    tx = cf[0]
    t_row = y * cf[1] + cf[2]
    lx = cf[3]
    l_row = y * cf[4] + cf[5]
    radius = cf[6]
    s_m = cf[7]
    inv_du = cf[8]
    if model == 0:
        for c in range(n):
            kbuf[c] = min(max((xs[c] * tx + t_row - s_m) * inv_du, lo), hi)
            wbuf[c] = 1
    elif model == 1:
        dist = cf[9]
        for c in range(n):
            x = xs[c]
            inv = 1 / (x * lx + l_row)
            q = dist * inv
            kbuf[c] = min(max((radius * (x * tx + t_row) * inv - s_m) * inv_du, lo), hi)
            wbuf[c] = q * q
    else:
        for c in range(n):
            x = xs[c]
            t = x * tx + t_row
            ell = x * lx + l_row
            kbuf[c] = min(max((radius * atan_ratio(t, ell) - s_m) * inv_du, lo), hi)
            wbuf[c] = 1 / (ell * ell + t * t)


@njit(inline="always", cache=True)
def _split_index(kbuf, ibuf):
    """Split the fractional indices ``kbuf`` in place into integer parts ``ibuf`` (int32) and fractions."""
    for c in range(kbuf.shape[0]):
        fk = np.floor(kbuf[c])
        ibuf[c] = np.int32(fk)
        kbuf[c] = kbuf[c] - fk


@njit(inline="always", cache=True)
def _gather_row(o, row, ibuf, fbuf, wbuf):
    """``o[c] += w[c] · row(k[c])`` (linear interpolation)."""
    for c in range(o.shape[0]):
        i = ibuf[c]
        a = row[i]
        o[c] += wbuf[c] * (a + fbuf[c] * (row[i + 1] - a))


@njit(inline="always", cache=True)
def _gather_row_pair(o, o_rev, row, row_opp, ibuf, fbuf, wbuf):
    """:func:`_gather_row` for a view into ``o`` and for its opposite view into ``o_rev`` read backwards
    (the point-mirrored pixel (-x, -y) of the opposite view has the same detector position and weight)."""
    n = o.shape[0]
    for c in range(n):
        i = ibuf[c]
        f = fbuf[c]
        w = wbuf[c]
        a = row[i]
        b = row_opp[i]
        o[c] += w * (a + f * (row[i + 1] - a))
        o_rev[n - 1 - c] += w * (b + f * (row_opp[i + 1] - b))


@njit(parallel=True, cache=True, fastmath=True)
def pixel_backproject(padded, coef, model, xs, primary, opposite, out, nblocks):  # pragma: no cover - compiled
    """``padded``: sinograms ``[nb, nv, nd + 3]`` with the data in columns 1 … nd and zeros around it
    (branch-free interpolation). ``coef`` ``[nv, 10]`` (each view's detector map, see :func:`_detector_row`)
    and ``xs`` (pixel x-centres = reversed y-centres) have the data's dtype. ``primary`` lists the views whose
    coordinates are computed and ``opposite[j]`` a view (-1: none) in which pixel (-x, -y) meets the detector
    where (x, y) meets it in the primary view, with the same weight (the view 180° away on a circular orbit),
    and which reuses them.
    Each task owns the row pairs (r, N-1-r) of one block, so the mirrored writes stay inside the task."""
    nb = padded.shape[0]
    ndp = padded.shape[2]
    n = out.shape[1]
    half = (n + 1) // 2
    lo = xs[0] * 0
    hi = lo + (ndp - 2)
    for task in prange(nb * nblocks):
        ib = task // nblocks
        blk = task - ib * nblocks
        r_lo = blk * half // nblocks
        r_hi = (blk + 1) * half // nblocks
        kbuf = np.empty(n, dtype=padded.dtype)
        wbuf = np.empty(n, dtype=padded.dtype)
        ibuf = np.empty(n, dtype=np.int32)
        for j in range(primary.shape[0]):
            v = primary[j]
            w = opposite[j]
            cf = coef[v]
            row = padded[ib, v]
            row_opp = padded[ib, max(w, 0)]
            for r in range(r_lo, r_hi):
                rm = n - 1 - r
                for side in range(1 if rm == r else 2):  # the middle row of an odd grid pairs with itself
                    rr = r if side == 0 else rm
                    _detector_row(model, xs[n - 1 - rr], cf, xs, lo, hi, kbuf, wbuf)
                    _split_index(kbuf, ibuf)
                    if w >= 0:
                        _gather_row_pair(out[ib, rr], out[ib, n - 1 - rr], row, row_opp, ibuf, kbuf, wbuf)
                    else:
                        _gather_row(out[ib, rr], row, ibuf, kbuf, wbuf)


@njit(parallel=True, cache=True, fastmath=True)
def pixel_backproject_adjoint(img, coef, model, xs, primary, opposite, padded):  # pragma: no cover - compiled
    """Adjoint of :func:`pixel_backproject` (same coordinates, same view pairing): accumulates into
    ``padded`` ``[nb, nv, nd + 3]`` (the caller keeps columns 1 … nd). One task per (image, primary view)
    writes that view's detector row and its opposite view's."""
    nb, n, _ = img.shape
    ndp = padded.shape[2]
    n_primary = primary.shape[0]
    lo = xs[0] * 0
    hi = lo + (ndp - 2)
    for task in prange(nb * n_primary):
        ib = task // n_primary
        j = task - ib * n_primary
        v = primary[j]
        w = opposite[j]
        cf = coef[v]
        kbuf = np.empty(n, dtype=padded.dtype)
        wbuf = np.empty(n, dtype=padded.dtype)
        ibuf = np.empty(n, dtype=np.int32)
        row = padded[ib, v]
        row_opp = padded[ib, max(w, 0)]
        for r in range(n):
            _detector_row(model, xs[n - 1 - r], cf, xs, lo, hi, kbuf, wbuf)
            _split_index(kbuf, ibuf)
            im = img[ib, r]
            for c in range(n):
                i = ibuf[c]
                f = kbuf[c]
                val = wbuf[c] * im[c]
                row[i] += val - f * val
                row[i + 1] += f * val
            if w >= 0:
                im = img[ib, n - 1 - r]
                for c in range(n):
                    i = ibuf[c]
                    f = kbuf[c]
                    val = wbuf[c] * im[n - 1 - c]
                    row_opp[i] += val - f * val
                    row_opp[i + 1] += f * val
