"""The Triton GPU kernels build the same matrices as the CPU kernels: agreement with the Numba backend, exact
dot-product tests, autograd giving the adjoint. Without a GPU they run in Triton's interpreter
(``TRITON_INTERPRET=1``, set here before the kernels are first imported), at toy sizes."""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

import recon  # noqa: E402
from recon.operators import functional  # noqa: E402

from ..helpers import irregular_geometries, small_geometries  # noqa: E402

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
OPS = (("project", "image"), ("backproject", "sinogram"), ("weighted_backproject", "sinogram"),
       ("weighted_backproject_adjoint", "image"))
PAIRS = (("project", "backproject"), ("weighted_backproject", "weighted_backproject_adjoint"))


def _geometries(n: int = 10, views: int = 5) -> dict[str, recon.Geometry]:
    """Every kind, non-uniform angles, detector offsets (tests/helpers.py), cut to a few views."""
    out = {k: g.replace(angles=g.angles[:views]) for k, g in small_geometries(n=n).items()}
    out.update({f"vectors {k}": g.replace(vectors=g.vectors[:views]) for k, g in irregular_geometries(n=n).items()})
    return out


def _data(kind: str, g: recon.Geometry, dtype: torch.dtype, seed: int, lead=(2,)) -> torch.Tensor:
    shape = lead + (g.image_shape if kind == "image" else g.sino_shape)
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("name", ["parallel", "fan-flat", "fan-arc", "vectors parallel", "vectors fan-flat",
                                  "vectors fan-arc"])
def test_same_matrices_as_numba_and_exact_dot_products(name):
    g = _geometries()[name]
    for dtype, agree, defect in ((torch.float64, 1e-12, 1e-12), (torch.float32, 1e-5, 1e-5)):
        for op, kind in OPS:
            x = _data(kind, g, dtype, 1)
            fn = getattr(recon, op)
            got = fn(x.to(DEVICE), g, backend="triton").cpu()
            ref = fn(x, g, backend="numba")
            assert float((got - ref).abs().max() / ref.abs().max()) < agree, (op, dtype)
        for fwd, adj in PAIRS:
            x, y = _data(OPS[[o for o, _ in OPS].index(fwd)][1], g, dtype, 2), None
            y = _data(OPS[[o for o, _ in OPS].index(adj)][1], g, dtype, 3)
            lhs = float((getattr(recon, fwd)(x.to(DEVICE), g, backend="triton").cpu().double() * y.double()).sum())
            rhs = float((x.double() * getattr(recon, adj)(y.to(DEVICE), g, backend="triton").cpu().double()).sum())
            assert abs(lhs - rhs) <= defect * abs(rhs), (fwd, dtype)


def test_gradients_are_the_adjoints_and_gradcheck_passes():
    g = _geometries(n=6, views=3)["fan-arc"]
    x = _data("image", g, torch.float64, 4, lead=()).to(DEVICE).requires_grad_()
    y = _data("sinogram", g, torch.float64, 5, lead=()).to(DEVICE)
    (recon.project(x, g, backend="triton") * y).sum().backward()
    torch.testing.assert_close(x.grad, recon.backproject(y, g, backend="triton"), rtol=1e-12, atol=1e-14)
    for op, kind in OPS[2:]:
        inp = _data(kind, g, torch.float64, 6, lead=()).to(DEVICE).requires_grad_()
        assert torch.autograd.gradcheck(lambda t: getattr(recon, op)(t, g, backend="triton"), (inp,), fast_mode=True)


def test_batches_zeros_and_dispatch():
    g = _geometries()["fan-flat"]
    x = _data("image", g, torch.float32, 7, lead=(2, 3))
    x[0, 1] = 0.0
    got = recon.project(x.to(DEVICE), g, backend="triton").cpu()
    assert got.shape == (2, 3) + g.sino_shape and torch.all(got[0, 1] == 0)
    torch.testing.assert_close(got, recon.project(x, g), rtol=1e-5, atol=1e-6)
    assert functional.resolve_backend(None, torch.device("cuda")) == "triton"  # the default on a GPU
    assert functional.resolve_backend(None, torch.device("cpu")) == "numba"  # the CPU default is unchanged


def test_triton_on_the_cpu_without_the_interpreter_is_refused(monkeypatch):
    if DEVICE.type == "cuda":
        pytest.skip("a GPU runs the kernels compiled")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    g = _geometries()["parallel"]
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        recon.project(torch.zeros(g.image_shape), g, backend="triton")


def test_unrolled_network_runs_on_the_triton_kernels():
    """A model of many arcs (its operators, its analytic start and its gradients) on the Triton backend: the
    same image and parameter gradients as on the Numba kernels."""
    import numpy as np

    from recon.models import LearnedGradientDescent

    full = recon.FanBeam(np.radians(np.arange(36) * 10.0), n_det=16, det_spacing=0.8, image_size=8, pixel_size=1.0,
                         sod=30.0, sdd=50.0)
    arc = full.replace(angles=full.angles[3:9])  # 50° of 10° steps
    out, grads = {}, {}
    for backend in ("numba", "triton"):
        torch.manual_seed(0)  # the same initial CNNs
        model = LearnedGradientDescent(full.replace(angles=full.angles[:7]), iterations=2, channels=2, arcs=(40, 60),
                                       backend=backend, dtype=torch.float64)
        with torch.no_grad():
            for i, p in enumerate(model.parameters()):
                p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(i), dtype=p.dtype))
        model.to(DEVICE if backend == "triton" else "cpu")
        sino = _data("sinogram", arc, torch.float64, 6, lead=(1,)).to(next(model.parameters()).device)
        y = model(sino, geometry=arc)
        y.square().sum().backward()
        out[backend] = y.detach().cpu()
        grads[backend] = torch.cat([p.grad.cpu().reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(out["triton"], out["numba"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grads["triton"], grads["numba"], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["parallel", "fan-arc"])
def test_same_matrices_as_numba_on_a_shifted_grid(name):
    g = _geometries()[name]
    grid = recon.ImageGrid(7, 0.6, offset=(0.5, -0.3))
    for op, kind in OPS:
        shape = (2,) + (grid.shape if kind == "image" else g.sino_shape)
        x = torch.rand(shape, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
        fn = getattr(recon, op)
        got = fn(x.to(DEVICE), g, grid=grid, backend="triton").cpu()
        torch.testing.assert_close(got, fn(x, g, grid=grid, backend="numba"), rtol=1e-12, atol=1e-12)
