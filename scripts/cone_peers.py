"""CPU cone-beam peers of recon, mapped onto recon's conventions, for a speed benchmark.

Used by ``scripts/bench_cone.py`` in a separate virtual environment that holds the peers (torch 2.13.0+cpu,
torchtomo 0.5.0, mbirjax 0.7.3 on a CPU jax 0.10.1, diffct 2.5.0) — recon never imports them. Every peer is set up by

    setup(angles, rows, cols, row_mm, col_mm, sod, sdd, nz, ny, nx, voxel_mm, det_offset=(0.0, 0.0), **options)

and returns an object with ``.project(vol) -> [n_views, rows, cols]``, ``.backproject(proj) -> [nz, ny, nx]``
(the peer's adjoint / unfiltered backprojector; it carries the peer's own weights, which are documented per peer)
and ``.fdk(proj) -> [nz, ny, nx]`` (``None`` when the peer has no CPU FDK). Inputs and outputs are numpy float32.

recon's conventions (what every peer is mapped onto):
  * rotation axis z; at view angle β the source is at ``sod·(sin β, −cos β, 0)``, the detector centre at
    ``(sdd−sod)·(−sin β, cos β, 0)`` (+ ``off_row·ez + off_col·u``), columns along ``u = (cos β, sin β, 0)``, rows
    along z with **row 0 at +z**; pixel (r, c) at ``u_c = (c−(cols−1)/2)·col_mm``, ``v_r = ((rows−1)/2−r)·row_mm``;
  * volume ``[nz, ny, nx]``, voxel [k, i, j] centre ``x = (j−(nx−1)/2)·v``, ``y = ((ny−1)/2−i)·v``,
    ``z = ((nz−1)/2−k)·v`` (slice 0 at +z, row 0 at +y); all lengths mm, μ in 1/mm, projections line integrals.

The peers' environment (recon's own stays lean):
    python3 -m venv peers && peers/bin/pip install torch==2.13.0      # a CPU build
    peers/bin/pip install torchtomo==0.5.0 mbirjax diffct              # jax/jaxlib (CPU); diffct pulls numba-cuda
    peers/bin/pip install -e .                                          # recon itself, for the comparison

Threads: torch peers take ``threads=`` (torch.set_num_threads); mbirjax/XLA reads ``XLA_FLAGS`` (e.g.
``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``) before jax is imported. mbirjax JIT-compiles
on the first call of each operator (and keeps a persistent compilation cache), so time a warm second call.

The mapping per peer (verified against recon.project / backproject / fdk; 48³ of 1 mm, 60
views, sod 200, sdd 300, 64 × 80 of 1 mm, relative L2 to recon — projections of an ellipsoid + cube phantom / of a
smooth Gaussian blob; backprojection raw / after a σ = 1 voxel smoothing; FDK):
  torchtomo 0.5.0  project 0.7 % / 0.1 %   backproject 1.8 % / 1.2 %   no FDK
  mbirjax 0.7.3    project 2.6 % / 1.6 %   backproject 1.8 % / 0.3 %   FDK 4.4 %
  diffct 2.5.0     project 6.0 % / 3.4 %   backproject 9.2 % / 1.2 %   FDK 0.24 % (0.00 % inside the FOV)
(with a detector offset of (2.3, −4.6) mm the backprojection of mbirjax rises to 5.7 % and of diffct to 31 %, raw,
but 0.3 % / 2.0 % smoothed: a high-frequency pattern of their voxel models, sums equal to 2e-5; projections and
centroids unchanged — the geometry is right). The residual differences are the voxel models: recon is Joseph
(linear interpolation), torchtomo trilinear point sampling, mbirjax a separable footprint, diffct Siddon
(piecewise-constant voxels, exact lengths, whose ray-driven adjoint aliases).

torchtomo (``torchtomo.ConeBeam``, backend "torch": pure PyTorch, trilinear interpolation at ``n_samples`` points
per ray, exact adjoint): geometry is given explicitly in world mm — the source positions ``[views, 3]`` and every
detector pixel centre ``[views, rows, cols, 3]`` — so the detector needs no remapping (our pixel centres, our row and
column order). Its volume voxel [k, i, j] lies at ``(x, y, z) = ((j−c)v, (i−c)v, (k−c)v)``, i.e. y and z *increase*
with the index: our volume goes in as ``vol[::-1, ::-1, :]`` (flip z and y) and the backprojection comes back
flipped the same way. No FDK for cone beam (torchtomo has FBP for parallel/fan only) → ``fdk`` is None.

mbirjax (``mbirjax.ConeBeamModel``): recon array is ``(rows, cols, slices)`` = ``(i, j, k)`` with, in its
un-rotated frame, ``x̃ = (j−c)v``, ``ỹ = (i−c)v``, ``z = (k−c)v``; the source sits at ``+sod`` on the rotated y axis
and the detector channel coordinate is the rotated x, detector rows increase with z. With ``angle = β`` (no offset,
same direction), ``x̃ = x``, ``ỹ = −y``, ``z_mbir = −z`` (a rotation by π about x), which makes mbirjax's (i, j, k)
exactly our (i, j, k): volume in ``np.transpose(vol, (1, 2, 0))``, out ``np.transpose(x, (2, 0, 1))``; sinogram
``(views, rows, channels)`` is ours unchanged (row 0 at our +z, channel along u). Offsets: ``det_row_offset =
off_row``, ``det_channel_offset = −off_col``. ``use_ror_mask=False`` so the whole box is projected/backprojected.
FDK: ``fdk_recon`` (assumes equally spaced views over 2π, like ours for a full scan).

diffct (``diffct.Projector(beam="cone", backend="torch")`` — the portable PyTorch backend; the native backend and
the CUDA-only fast FDK path need an NVIDIA GPU): trajectory ``(src, det_center, det_u, det_v)`` in world mm, given as
our source, our detector centre, ``det_u = (cos β, sin β, 0)`` and ``det_v = (0, 0, −1)`` (so its v index runs
like our rows, from +z down). Its sinogram is ``(views, U, V)`` = ``(views, cols, rows)``: ours is
``proj.transpose(0, 2, 1)``. Volume ``(D, H, W)`` with x, y, z increasing with w, h, d (cell-centred, Siddon
lengths): like torchtomo, ``vol[::-1, ::-1, :]``. FDK: ``diffct.fdk`` (CPU input → its "extended" analytical path,
backend "torch").
"""

from __future__ import annotations

import numpy as np

__all__ = ["PEERS", "cone_vectors", "pixel_centres", "torchtomo_setup", "mbirjax_setup", "diffct_setup"]


def cone_vectors(angles, row_mm, col_mm, sod, sdd, det_offset=(0.0, 0.0)):
    """recon's circular flat-detector vectors: ``source, det_centre, u_step, v_step``, each ``[views, 3]`` (mm);
    ``u_step`` moves one column (+u), ``v_step`` one row (row 0 at +z, so −z)."""
    b = np.asarray(angles, dtype=np.float64)
    zero = np.zeros_like(b)
    centre = np.stack([-np.sin(b), np.cos(b), zero], axis=1)          # unit, source → detector
    along = np.stack([np.cos(b), np.sin(b), zero], axis=1)            # u
    up = np.stack([zero, zero, np.ones_like(b)], axis=1)              # +z
    source = -sod * centre
    det = source + sdd * centre + det_offset[0] * up + det_offset[1] * along
    return source, det, col_mm * along, -row_mm * up


def pixel_centres(angles, rows, cols, row_mm, col_mm, sod, sdd, det_offset=(0.0, 0.0)):
    """World position (mm) of every detector pixel centre, ``[views, rows, cols, 3]``."""
    _, det, u, v = cone_vectors(angles, row_mm, col_mm, sod, sdd, det_offset)
    c = np.arange(cols) - (cols - 1) / 2.0
    r = np.arange(rows) - (rows - 1) / 2.0
    return (det[:, None, None, :] + c[None, None, :, None] * u[:, None, None, :]
            + r[None, :, None, None] * v[:, None, None, :])


def _f32(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


# ----------------------------------------------------------------------------------------------------- torchtomo
class _TorchTomo:
    name = "torchtomo"

    def __init__(self, angles, rows, cols, row_mm, col_mm, sod, sdd, nz, ny, nx, voxel_mm, det_offset=(0.0, 0.0),
                 n_samples=None, ray_chunk=1024, threads=None):
        import torch
        import torchtomo
        if threads:
            torch.set_num_threads(int(threads))
        self.torch = torch
        self.version = torchtomo.__version__
        src, _, _, _ = cone_vectors(angles, row_mm, col_mm, sod, sdd, det_offset)
        pix = pixel_centres(angles, rows, cols, row_mm, col_mm, sod, sdd, det_offset)
        self.op = torchtomo.ConeBeam((nz, ny, nx), torch.tensor(src, dtype=torch.float32),
                                     torch.tensor(pix, dtype=torch.float32), voxel_spacing=float(voxel_mm),
                                     n_samples=n_samples, ray_chunk=ray_chunk, backend="torch")

    def project(self, vol):
        t = self.torch.from_numpy(_f32(np.asarray(vol)[::-1, ::-1, :]))[None, None]
        with self.torch.no_grad():
            return self.op(t)[0, 0].numpy()

    def backproject(self, proj):
        t = self.torch.from_numpy(_f32(proj))[None, None]
        with self.torch.no_grad():
            out = self.op.adjoint(t)[0, 0].numpy()
        return np.ascontiguousarray(out[::-1, ::-1, :])

    fdk = None


def torchtomo_setup(*args, **kw):
    return _TorchTomo(*args, **kw)


# ------------------------------------------------------------------------------------------------------- mbirjax
class _MbirJax:
    name = "mbirjax"

    def __init__(self, angles, rows, cols, row_mm, col_mm, sod, sdd, nz, ny, nx, voxel_mm, det_offset=(0.0, 0.0),
                 verbose=0):
        import mbirjax as mj
        self.version = mj.__version__ if hasattr(mj, "__version__") else _dist_version("mbirjax")
        angles = np.asarray(angles, dtype=np.float64)
        self.model = mj.ConeBeamModel((angles.size, rows, cols), angles, source_detector_dist=float(sdd),
                                      source_iso_dist=float(sod))
        self.model.set_params(delta_det_row=float(row_mm), delta_det_channel=float(col_mm),
                              det_row_offset=float(det_offset[0]), det_channel_offset=-float(det_offset[1]),
                              delta_voxel=float(voxel_mm), recon_shape=(ny, nx, nz), use_ror_mask=False,
                              verbose=verbose)

    def project(self, vol):
        return _f32(self.model.forward_project(_f32(np.transpose(vol, (1, 2, 0)))))

    def backproject(self, proj):
        return _f32(np.transpose(np.asarray(self.model.back_project(_f32(proj))), (2, 0, 1)))

    def fdk(self, proj):
        return _f32(np.transpose(np.asarray(self.model.fdk_recon(_f32(proj))), (2, 0, 1)))


def mbirjax_setup(*args, **kw):
    return _MbirJax(*args, **kw)


# -------------------------------------------------------------------------------------------------------- diffct
class _DiffCT:
    name = "diffct"

    def __init__(self, angles, rows, cols, row_mm, col_mm, sod, sdd, nz, ny, nx, voxel_mm, det_offset=(0.0, 0.0),
                 precision="float32", threads=None):
        import torch
        import diffct
        if threads:
            torch.set_num_threads(int(threads))
        self.torch, self.diffct = torch, diffct
        self.version = diffct.__version__
        src, det, u, v = cone_vectors(angles, row_mm, col_mm, sod, sdd, det_offset)
        unit = lambda a: torch.tensor(a / np.linalg.norm(a, axis=1, keepdims=True), dtype=torch.float32)
        self.traj = (torch.tensor(src, dtype=torch.float32), torch.tensor(det, dtype=torch.float32), unit(u), unit(v))
        self.angles = torch.tensor(np.asarray(angles, dtype=np.float64), dtype=torch.float32)
        self.vol_shape = (nz, ny, nx)
        self.det_spacing = (float(col_mm), float(row_mm))
        self.voxel_mm = float(voxel_mm)
        self.precision = precision
        self.op = diffct.Projector(self.traj, (nz, ny, nx), (cols, rows), beam="cone",
                                   detector_spacing=self.det_spacing, voxel_spacing=self.voxel_mm,
                                   backend="torch", precision=precision)

    def project(self, vol):
        t = self.torch.from_numpy(_f32(np.asarray(vol)[::-1, ::-1, :]))
        with self.torch.no_grad():
            out = self.op.project(t).numpy()
        return np.ascontiguousarray(out.transpose(0, 2, 1))

    def backproject(self, proj):
        t = self.torch.from_numpy(_f32(np.asarray(proj).transpose(0, 2, 1)))
        with self.torch.no_grad():
            out = self.op.backproject(t).numpy()
        return np.ascontiguousarray(out[::-1, ::-1, :])

    def fdk(self, proj):
        t = self.torch.from_numpy(_f32(np.asarray(proj).transpose(0, 2, 1)))
        with self.torch.no_grad():
            out = self.diffct.fdk(t, self.traj, self.vol_shape, self.angles, detector_spacing=self.det_spacing,
                                  voxel_spacing=self.voxel_mm, backend="torch", precision=self.precision)
        return np.ascontiguousarray(_f32(out.numpy())[::-1, ::-1, :])


def diffct_setup(*args, **kw):
    return _DiffCT(*args, **kw)


def _dist_version(name):
    from importlib.metadata import version
    return version(name)


#: name → setup function, in the order the benchmark should try them
PEERS = {"torchtomo": torchtomo_setup, "mbirjax": mbirjax_setup, "diffct": diffct_setup}
