"""Device-agnostic PyTorch implementation of the projection operators (the CUDA path).

It implements *the same matrices* as the compiled CPU kernels in :mod:`recon.operators.cpu` — the same
Joseph coefficients and the same pixel-driven interpolation — with gathers for the operators and
``index_add_`` scatters for their transposes, processed in chunks of views to bound memory. Because it is
plain tensor code it runs on any device, so the GPU path is tested on the CPU against the compiled kernels.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..geometry import Geometry, ImageGrid
from .atan import ATAN_COEFFS, TAN_PI_8
from .rays import JosephRays, PixelDrivenParams, cached, joseph_rays, pixel_driven_params

__all__ = ["joseph_forward", "joseph_adjoint", "pixel_backproject", "pixel_backproject_adjoint"]

# elements of one chunk's index tensors (per batch item); bounds peak memory to a few hundred MB
_CHUNK_ELEMENTS = 1 << 22


def _device_tensors(geometry: Geometry, grid: ImageGrid, name: str, device: torch.device, dtype: torch.dtype,
                    make) -> dict:
    return cached(geometry, (name, grid, str(device), dtype), make)


def _joseph_tensors(geometry: Geometry, grid: ImageGrid, device: torch.device, dtype: torch.dtype) -> dict:
    def make() -> dict:
        r: JosephRays = joseph_rays(geometry, grid)
        t = {k: torch.as_tensor(getattr(r, k), dtype=dtype, device=device) for k in ("a", "b", "w")}
        t["row_driven"] = torch.as_tensor(r.row_driven, device=device)
        return t
    return _device_tensors(geometry, grid, "joseph", device, dtype, make)


def _view_chunks(n_views: int, per_view: int, n_batch: int) -> Iterator[slice]:
    step = max(1, _CHUNK_ELEMENTS // (per_view * max(1, n_batch)))
    for v0 in range(0, n_views, step):
        yield slice(v0, min(n_views, v0 + step))


def _joseph_chunk(t: dict, views: slice, n: int):
    """Flat pixel indices and weights of the two interpolation taps of every Joseph sample in ``views``:
    four tensors ``[n_chunk_views * n_det * n]`` (weights include the path length; out-of-image taps get
    weight 0 and a valid dummy index)."""
    k = torch.arange(n, device=t["a"].device, dtype=t["a"].dtype)
    pos = t["a"][views, :, None] + t["b"][views, :, None] * k
    i = torch.floor(pos)
    f = pos - i
    i = i.long()
    kl = k.long()
    w = t["w"][views, :, None]
    rows = t["row_driven"][views, :, None]
    idx, wts = [], []
    for shift, frac in ((0, 1.0 - f), (1, f)):
        ii = i + shift
        inside = (ii >= 0) & (ii < n)
        ii = ii.clamp(0, n - 1)
        idx.append(torch.where(rows, kl * n + ii, ii * n + kl).reshape(-1))
        wts.append((frac * w * inside).reshape(-1))
    return idx[0], wts[0], idx[1], wts[1]


def joseph_forward(img: torch.Tensor, geometry: Geometry, grid: ImageGrid) -> torch.Tensor:
    """``A``: images ``[nb, N, N]`` → sinograms ``[nb, n_views, n_det]``."""
    nb, n = img.shape[0], grid.size
    t = _joseph_tensors(geometry, grid, img.device, img.dtype)
    flat = img.reshape(nb, n * n)
    out = img.new_empty((nb, geometry.n_views, geometry.n_det))
    for views in _view_chunks(geometry.n_views, geometry.n_det * n, nb):
        i0, w0, i1, w1 = _joseph_chunk(t, views, n)
        samples = flat[:, i0] * w0 + flat[:, i1] * w1
        out[:, views] = samples.reshape(nb, -1, geometry.n_det, n).sum(-1)
    return out


def joseph_adjoint(sino: torch.Tensor, geometry: Geometry, grid: ImageGrid) -> torch.Tensor:
    """``Aᵀ``: sinograms ``[nb, n_views, n_det]`` → images ``[nb, N, N]``."""
    nb, n = sino.shape[0], grid.size
    t = _joseph_tensors(geometry, grid, sino.device, sino.dtype)
    out = sino.new_zeros((nb, n * n))
    for views in _view_chunks(geometry.n_views, geometry.n_det * n, nb):
        i0, w0, i1, w1 = _joseph_chunk(t, views, n)
        vals = sino[:, views, :, None].expand(-1, -1, -1, n).reshape(nb, -1)
        out.index_add_(1, i0, vals * w0)
        out.index_add_(1, i1, vals * w1)
    return out.reshape(nb, n, n)


def atan_ratio(t: torch.Tensor, ell: torch.Tensor) -> torch.Tensor:
    """``atan(t / ell)`` for ``ell > 0`` by the same reduction and polynomial as the compiled kernel
    (:func:`recon.operators.cpu.atan_ratio`), so that both backends build the same matrix."""
    z = t / ell
    a = z.abs()
    big = a > 1.0
    w = torch.where(big, 1.0 / a, a)
    mid = w > TAN_PI_8
    x = torch.where(mid, (w - 1.0) / (w + 1.0), w)
    y = x * x
    p = torch.zeros_like(x)
    for coeff in ATAN_COEFFS:
        p = p * y + coeff
    r = x * p + mid * 0.7853981633974483
    r = torch.where(big, 1.5707963267948966 - r, r)
    return torch.where(z >= 0, r, -r)


def _pixel_tensors(geometry: Geometry, grid: ImageGrid, device: torch.device, dtype: torch.dtype) -> dict:
    def make() -> dict:
        p: PixelDrivenParams = pixel_driven_params(geometry, grid)
        coords = torch.as_tensor(grid.centred_coords, dtype=dtype, device=device)
        coef = torch.as_tensor(p.coef, dtype=dtype, device=device)
        return {"model": p.model, "coef": [coef[:, k, None, None] for k in range(coef.shape[1])],
                "x": coords[None, :], "y": coords.flip(0)[:, None]}
    return _device_tensors(geometry, grid, "pixel", device, dtype, make)


def _pixel_chunk(t: dict, views: slice, n_det: int):
    """Flat sinogram indices and weights of the two detector taps of every (view, pixel) in ``views``:
    four tensors ``[n_chunk_views, N * N]`` (indices into a ``[n_views * n_det]`` sinogram)."""
    tx, ty, t0, lx, ly, l0, radius, s_m, inv_du, dist = (c[views] for c in t["coef"])
    x, y = t["x"], t["y"]
    s = x * tx + (y * ty + t0)
    if t["model"] == 0:
        u, wgt = s, torch.ones_like(s)
    else:
        ell = x * lx + (y * ly + l0)
        if t["model"] == 1:
            u, wgt = radius * s / ell, (dist / ell) ** 2
        else:
            u, wgt = radius * atan_ratio(s, ell), 1.0 / (ell * ell + s * s)
    k = (u - s_m) * inv_du - 1.0
    i = torch.floor(k)
    f = k - i
    i = i.long()
    base = torch.arange(views.start, views.stop, device=k.device)[:, None, None] * n_det
    idx, wts = [], []
    for shift, frac in ((0, 1.0 - f), (1, f)):
        ii = i + shift
        inside = (ii >= 0) & (ii < n_det)
        idx.append((base + ii.clamp(0, n_det - 1)).reshape(views.stop - views.start, -1))
        wts.append((frac * wgt * inside).reshape(idx[-1].shape))
    return idx[0], wts[0], idx[1], wts[1]


def pixel_backproject(sino: torch.Tensor, geometry: Geometry, grid: ImageGrid) -> torch.Tensor:
    """``B_w``: sinograms ``[nb, n_views, n_det]`` → images ``[nb, N, N]`` (pixel-driven, distance-weighted)."""
    nb, n = sino.shape[0], grid.size
    t = _pixel_tensors(geometry, grid, sino.device, sino.dtype)
    flat = sino.reshape(nb, -1)
    out = sino.new_zeros((nb, n * n))
    for views in _view_chunks(geometry.n_views, n * n, nb):
        i0, w0, i1, w1 = _pixel_chunk(t, views, geometry.n_det)
        out += (flat[:, i0] * w0 + flat[:, i1] * w1).sum(1)
    return out.reshape(nb, n, n)


def pixel_backproject_adjoint(img: torch.Tensor, geometry: Geometry, grid: ImageGrid) -> torch.Tensor:
    """``B_wᵀ``: images ``[nb, N, N]`` → sinograms ``[nb, n_views, n_det]``."""
    nb, n = img.shape[0], grid.size
    t = _pixel_tensors(geometry, grid, img.device, img.dtype)
    flat = img.reshape(nb, 1, n * n)
    out = img.new_zeros((nb, geometry.n_views * geometry.n_det))
    for views in _view_chunks(geometry.n_views, n * n, nb):
        i0, w0, i1, w1 = _pixel_chunk(t, views, geometry.n_det)
        out.index_add_(1, i0.reshape(-1), (flat * w0).reshape(nb, -1))
        out.index_add_(1, i1.reshape(-1), (flat * w1).reshape(nb, -1))
    return out.reshape(nb, geometry.n_views, geometry.n_det)
