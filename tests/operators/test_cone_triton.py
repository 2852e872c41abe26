"""The Triton cone-beam kernels build the same matrices as the compiled CPU kernels: agreement with the numba
back-end (flat, cylindrical and vector scans, float64 and float32, batches), exact dot-product tests and autograd
giving the adjoint. Without a GPU they run in Triton's interpreter (``TRITON_INTERPRET=1``, set before the kernels
are first imported), at toy sizes."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

import recon  # noqa: E402
from recon.operators import weighted_backproject_adjoint  # noqa: E402
from recon.operators.cone import resolve_cone_backend  # noqa: E402

from .test_cone import GRID, cone_geometries  # noqa: E402

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
OPS = ((recon.project, "volume"), (recon.backproject, "projections"), (recon.weighted_backproject, "projections"),
       (weighted_backproject_adjoint, "volume"))


def _data(kind: str, g, dtype: torch.dtype, seed: int, lead=(2,)) -> torch.Tensor:
    shape = lead + (GRID.shape if kind == "volume" else g.proj_shape)
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("name", ["flat", "cylindrical", "vector"])
def test_same_matrices_as_numba_and_exact_dot_products(name):
    g = cone_geometries(n_views=4)[name]
    for dtype, agree in ((torch.float64, 1e-12), (torch.float32, 2e-5)):
        outs = {}
        for op, kind in OPS:
            x = _data(kind, g, dtype, 1)
            got = op(x.to(DEVICE), g, grid=GRID, backend="triton").cpu()
            ref = op(x, g, grid=GRID, backend="numba")
            assert got.dtype == dtype and got.shape == ref.shape
            assert float(ref.abs().max()) > 0
            assert float((got - ref).abs().max() / ref.abs().max()) < agree, (op.__name__, dtype)
            outs[op.__name__] = got
        for (fwd, fkind), (adj, akind) in ((OPS[0], OPS[1]), (OPS[3], OPS[2])):
            x, y = _data(fkind, g, torch.float64, 2), _data(akind, g, torch.float64, 3)
            lhs = float((fwd(x.to(DEVICE), g, grid=GRID, backend="triton").cpu() * y).sum())
            rhs = float((x * adj(y.to(DEVICE), g, grid=GRID, backend="triton").cpu()).sum())
            assert abs(lhs - rhs) <= 1e-12 * abs(rhs), fwd.__name__


def test_gradients_are_the_adjoints_and_the_default_backend():
    g = cone_geometries(n_views=3)["flat"]
    x = _data("volume", g, torch.float64, 4, lead=()).to(DEVICE).requires_grad_()
    y = _data("projections", g, torch.float64, 5, lead=()).to(DEVICE)
    (recon.project(x, g, grid=GRID, backend="triton") * y).sum().backward()
    torch.testing.assert_close(x.grad, recon.backproject(y, g, grid=GRID, backend="triton"), rtol=1e-12, atol=1e-14)
    p = y.clone().requires_grad_()
    (recon.weighted_backproject(p, g, grid=GRID, backend="triton") * x.detach()).sum().backward()
    torch.testing.assert_close(p.grad, weighted_backproject_adjoint(x.detach(), g, grid=GRID, backend="triton"),
                               rtol=1e-12, atol=1e-14)
    assert resolve_cone_backend(None, torch.device("cpu")) == "numba"
    assert resolve_cone_backend(None, torch.device("cuda")) == "triton"  # the default on a GPU
    with pytest.raises(ValueError, match="'numba' runs on CPU tensors only"):
        resolve_cone_backend("numba", torch.device("cuda"))


def test_zero_volumes_and_rays_that_miss_give_zeros():
    g = cone_geometries(n_views=3)["cylindrical"]
    x = _data("volume", g, torch.float32, 6, lead=(2,))
    x[1] = 0
    out = recon.project(x.to(DEVICE), g, grid=GRID, backend="triton").cpu()
    assert torch.all(out[1] == 0) and float(out[0].max()) > 0
    far = recon.VolumeGrid(GRID.shape, GRID.voxel_size, offset=(0.0, 0.0, 30.0))  # above the cone: no ray meets it
    assert float(recon.project(x.to(DEVICE), g, grid=far, backend="triton").abs().max()) == 0
    assert np.allclose(recon.project(x, g, grid=far), 0)


def test_fdk_on_the_triton_kernels_is_the_cpu_fdk():
    g = recon.ConeBeam(np.linspace(0, 2 * np.pi, 12, endpoint=False), (9, 15), 1.2, sod=40.0, sdd=70.0,
                       detector="cylindrical")
    grid = recon.VolumeGrid((5, 10, 10), 1.0)
    p = recon.project(np.random.default_rng(7).random(grid.shape), g, grid=grid)
    got = recon.fdk(torch.as_tensor(p).to(DEVICE), g, grid, filter="hann", backend="triton").cpu().numpy()
    ref = recon.fdk(p, g, grid, filter="hann")
    assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max()
