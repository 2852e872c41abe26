"""Compiled CPU kernels (Numba, multi-threaded) of the cone-beam operators.

Volumes ``[nb, nz, ny, nx]`` and projections ``[nb, n_views, rows, cols]``, C-contiguous float32 or float64; the
kernels *accumulate* into ``out`` (the caller zeroes it); coordinates are float64. No two threads write the same
output element (no atomics; results do not depend on the thread count):

* ``cone_forward`` (A): Joseph's method in 3-D — every ray (source → pixel centre) is sampled once per voxel plane
  across its dominant axis (in voxel units), bilinearly between the four voxels around the sample, times the
  ray's length per plane. One task per (volume, view, detector row).
* ``cone_adjoint`` (Aᵀ): the same samples scattered back, in three passes (rays driven along x, y, z); in each
  pass a task owns a slab of ``SLAB`` planes of the driving axis and scatters every ray's samples in it.
* ``cone_backproject`` (B_w, FDK's backprojector): voxel-driven; every voxel is projected onto every view's
  detector, the projection interpolated bilinearly (0 outside) and weighted by the FDK distance weight —
  ``(D/h)²`` flat (``h`` the voxel's depth along the detector normal), ``1/ℓ²`` cylindrical (``ℓ`` the in-plane
  source–voxel distance). One task per (volume, slice, row).
* ``cone_backproject_adjoint`` (B_wᵀ): the same weights scattered onto the detector, one task per (volume, view).

References: P. M. Joseph, IEEE Trans. Med. Imaging 1(3) 1982; L. A. Feldkamp, L. C. Davis, J. W. Kress, JOSA A
1(6) 1984.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .cpu import _k_range, atan_ratio

__all__ = ["cone_forward", "cone_adjoint", "cone_backproject", "cone_backproject_adjoint", "SLAB"]

#: Planes of the driving axis per task of the adjoint (fixed, so results do not depend on the thread count).
SLAB = 8


@njit(inline="always", cache=True)
def _ray(src, px, py, pz, origin, vox, shape):
    """Index-space description of the ray from ``src`` to ``(px, py, pz)``: ``(axis, m0, m1, a0, a1, b0, b1,
    weight)`` — driving axis (0: x/j, 1: y/i, 2: z/k), the driving range [m0, m1), the two other indices
    ``a = a0 + a1 m`` and ``b = b0 + b1 m`` (a, b: the lower/higher remaining axis in (j, i, k) order) and the ray
    length (mm) per plane."""
    dx = px - src[0]
    dy = py - src[1]
    dz = pz - src[2]
    # continuous voxel indices (j, i, k) of the source and the ray's direction in index units
    sj = (src[0] - origin[0]) / vox[0]
    si = (origin[1] - src[1]) / vox[1]
    sk = (origin[2] - src[2]) / vox[2]
    ej = dx / vox[0]
    ei = -dy / vox[1]
    ek = -dz / vox[2]
    length = math.sqrt(dx * dx + dy * dy + dz * dz)
    aj, ai, ak = abs(ej), abs(ei), abs(ek)
    if aj >= ai and aj >= ak:
        axis, sm, em, sa, ea, sb, eb, nm, na, nb_ = 0, sj, ej, si, ei, sk, ek, shape[2], shape[1], shape[0]
    elif ai >= ak:
        axis, sm, em, sa, ea, sb, eb, nm, na, nb_ = 1, si, ei, sj, ej, sk, ek, shape[1], shape[2], shape[0]
    else:
        axis, sm, em, sa, ea, sb, eb, nm, na, nb_ = 2, sk, ek, sj, ej, si, ei, shape[0], shape[2], shape[1]
    a1 = ea / em
    b1 = eb / em
    a0 = sa - sm * a1
    b0 = sb - sm * b1
    lo_a, hi_a = _k_range(a0, a1, na, nm)
    lo_b, hi_b = _k_range(b0, b1, nb_, nm)
    m0 = max(lo_a, lo_b)
    m1 = min(hi_a, hi_b)
    return axis, m0, m1, a0, a1, b0, b1, length / abs(em)


@njit(inline="always", cache=True)
def _strides(axis, shape):
    """Flat-index strides ``(m, a, b)`` and sizes ``(na, nb)`` of the driving and the two other axes."""
    nz, ny, nx = shape[0], shape[1], shape[2]
    if axis == 0:
        return 1, nx, nx * ny, ny, nz
    if axis == 1:
        return nx, 1, nx * ny, nx, nz
    return nx * ny, 1, nx, nx, ny


@njit(parallel=True, cache=True, fastmath=True)
def cone_forward(vol, src, base, row_step, origin, vox, out):  # pragma: no cover - compiled
    """``out [nb, nv, rows, cols] += A vol``; ``vol`` flattened ``[nb, nz·ny·nx]``; ``src [nv, 3]``; pixel
    ``(r, c)`` of view ``v`` at ``base[v, c] + r row_step[v]``; ``origin`` = centre of voxel [0, 0, 0] (x, y, z),
    ``vox`` = voxel sizes (x, y, z), ``shape`` from ``out``'s companion volume."""
    nb, nv, rows, cols = out.shape
    shape = (int(origin[3]), int(origin[4]), int(origin[5]))
    for task in prange(nb * nv * rows):
        ib = task // (nv * rows)
        rest = task - ib * nv * rows
        v = rest // rows
        r = rest - v * rows
        s = src[v]
        for c in range(cols):
            px = base[v, c, 0] + r * row_step[v, 0]
            py = base[v, c, 1] + r * row_step[v, 1]
            pz = base[v, c, 2] + r * row_step[v, 2]
            axis, m0, m1, a0, a1, b0, b1, w = _ray(s, px, py, pz, origin, vox, shape)
            sm, sa, sb, na, nb_ = _strides(axis, shape)
            acc = 0.0
            for m in range(m0, m1):
                a = a0 + a1 * m
                b = b0 + b1 * m
                ia = int(math.floor(a))
                ibb = int(math.floor(b))
                fa = a - ia
                fb = b - ibb
                base_m = m * sm
                for db in range(2):
                    jb = ibb + db
                    if 0 <= jb < nb_:
                        wb = fb if db == 1 else 1.0 - fb
                        if 0 <= ia < na:
                            acc += wb * (1.0 - fa) * vol[ib, base_m + ia * sa + jb * sb]
                        if 0 <= ia + 1 < na:
                            acc += wb * fa * vol[ib, base_m + (ia + 1) * sa + jb * sb]
            out[ib, v, r, c] += w * acc


@njit(parallel=True, cache=True, fastmath=True)
def cone_adjoint(proj, src, base, row_step, origin, vox, out):  # pragma: no cover - compiled
    """``out [nb, nz·ny·nx] += Aᵀ proj`` with exactly the samples of :func:`cone_forward`."""
    nb, nv, rows, cols = proj.shape
    shape = (int(origin[3]), int(origin[4]), int(origin[5]))
    n_axis = (shape[2], shape[1], shape[0])
    for axis_pass in range(3):
        n_slabs = (n_axis[axis_pass] + SLAB - 1) // SLAB
        for task in prange(nb * n_slabs):
            ib = task // n_slabs
            slab = task - ib * n_slabs
            lo = slab * SLAB
            hi = min(lo + SLAB, n_axis[axis_pass])
            for v in range(nv):
                s = src[v]
                for r in range(rows):
                    for c in range(cols):
                        val = proj[ib, v, r, c]
                        if val == 0.0:
                            continue
                        px = base[v, c, 0] + r * row_step[v, 0]
                        py = base[v, c, 1] + r * row_step[v, 1]
                        pz = base[v, c, 2] + r * row_step[v, 2]
                        axis, m0, m1, a0, a1, b0, b1, w = _ray(s, px, py, pz, origin, vox, shape)
                        if axis != axis_pass:
                            continue
                        sm, sa, sb, na, nb_ = _strides(axis, shape)
                        wv = w * val
                        for m in range(max(m0, lo), min(m1, hi)):
                            a = a0 + a1 * m
                            b = b0 + b1 * m
                            ia = int(math.floor(a))
                            ibb = int(math.floor(b))
                            fa = a - ia
                            fb = b - ibb
                            base_m = m * sm
                            for db in range(2):
                                jb = ibb + db
                                if 0 <= jb < nb_:
                                    wb = wv * (fb if db == 1 else 1.0 - fb)
                                    if 0 <= ia < na:
                                        out[ib, base_m + ia * sa + jb * sb] += wb * (1.0 - fa)
                                    if 0 <= ia + 1 < na:
                                        out[ib, base_m + (ia + 1) * sa + jb * sb] += wb * fa


@njit(inline="always", cache=True)
def _detector_point(model, cf, x, y, z):
    """``(col, row, weight)`` where the ray from the source through voxel centre ``(x, y, z)`` meets the detector
    (fractional pixel indices) and the voxel's FDK distance weight (see the module docstring; ``cf`` a row of
    :meth:`recon.geometry.ConeVectors.backprojection_coefficients`)."""
    if model == 0:
        h = cf[8] * x + cf[9] * y + cf[10] * z + cf[11]
        inv = 1.0 / h
        col = (cf[0] * x + cf[1] * y + cf[2] * z + cf[3]) * inv
        row = (cf[4] * x + cf[5] * y + cf[6] * z + cf[7]) * inv
        q = cf[12] * inv
        return col, row, q * q
    wx = x - cf[0]
    wy = y - cf[1]
    depth = wx * cf[3] + wy * cf[4]
    t = wx * cf[5] + wy * cf[6]
    ell2 = depth * depth + t * t
    col = (cf[7] * atan_ratio(t, depth) - cf[8]) * cf[9]
    zdet = cf[2] + (z - cf[2]) * cf[7] / math.sqrt(ell2)
    row = (zdet - cf[10]) * cf[11]
    return col, row, 1.0 / ell2


@njit(parallel=True, cache=True, fastmath=True)
def cone_backproject(proj, coef, model, xs, ys, zs, out):  # pragma: no cover - compiled
    """``out [nb, nz, ny, nx] += B_w proj``; ``xs, ys, zs``: voxel-centre coordinates (mm) of the columns, rows and
    slices."""
    nb, nv, rows, cols = proj.shape
    nz, ny, nx = out.shape[1], out.shape[2], out.shape[3]
    for task in prange(nb * nz * ny):
        ib = task // (nz * ny)
        rest = task - ib * nz * ny
        k = rest // ny
        i = rest - k * ny
        z = zs[k]
        y = ys[i]
        for v in range(nv):
            cf = coef[v]
            img = proj[ib, v]
            for j in range(nx):
                col, row, w = _detector_point(model, cf, xs[j], y, z)
                if not (-1.0 < col < cols and -1.0 < row < rows):
                    continue
                ic = int(math.floor(col))
                ir = int(math.floor(row))
                fc = col - ic
                fr = row - ir
                acc = 0.0
                if ir >= 0:
                    if ic >= 0:
                        acc += (1.0 - fr) * (1.0 - fc) * img[ir, ic]
                    if ic + 1 < cols:
                        acc += (1.0 - fr) * fc * img[ir, ic + 1]
                if ir + 1 < rows:
                    if ic >= 0:
                        acc += fr * (1.0 - fc) * img[ir + 1, ic]
                    if ic + 1 < cols:
                        acc += fr * fc * img[ir + 1, ic + 1]
                out[ib, k, i, j] += w * acc


@njit(parallel=True, cache=True, fastmath=True)
def cone_backproject_adjoint(vol, coef, model, xs, ys, zs, out):  # pragma: no cover - compiled
    """``out [nb, nv, rows, cols] += B_wᵀ vol`` with the coordinates and weights of :func:`cone_backproject`."""
    nb, nz, ny, nx = vol.shape
    nv, rows, cols = out.shape[1], out.shape[2], out.shape[3]
    for task in prange(nb * nv):
        ib = task // nv
        v = task - ib * nv
        cf = coef[v]
        img = out[ib, v]
        for k in range(nz):
            for i in range(ny):
                for j in range(nx):
                    val = vol[ib, k, i, j]
                    if val == 0.0:
                        continue
                    col, row, w = _detector_point(model, cf, xs[j], ys[i], zs[k])
                    if not (-1.0 < col < cols and -1.0 < row < rows):
                        continue
                    ic = int(math.floor(col))
                    ir = int(math.floor(row))
                    fc = col - ic
                    fr = row - ir
                    wv = w * val
                    if ir >= 0:
                        if ic >= 0:
                            img[ir, ic] += (1.0 - fr) * (1.0 - fc) * wv
                        if ic + 1 < cols:
                            img[ir, ic + 1] += (1.0 - fr) * fc * wv
                    if ir + 1 < rows:
                        if ic >= 0:
                            img[ir + 1, ic] += fr * (1.0 - fc) * wv
                        if ic + 1 < cols:
                            img[ir + 1, ic + 1] += fr * fc * wv


def volume_args(grid) -> tuple[np.ndarray, np.ndarray]:
    """``(origin6, vox)`` for the Joseph kernels: the centre of voxel [0, 0, 0] (x, y, z) followed by the shape
    (nz, ny, nx) as floats, and the voxel sizes (x, y, z)."""
    origin = np.concatenate([grid.origin, np.asarray(grid.shape, dtype=np.float64)])
    return origin, np.asarray(grid.voxel_size[::-1], dtype=np.float64)
