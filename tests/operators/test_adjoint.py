"""Adjointness and autograd of the operator pairs (A, Aᵀ) and (B_w, B_wᵀ), on both backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.operators import weighted_backproject_adjoint

from ..helpers import small_geometries


PAIRS = {  # name: (operator image→sinogram, its adjoint sinogram→image)
    "A": (recon.project, recon.backproject),
    "B_w": (weighted_backproject_adjoint, recon.weighted_backproject),
}
BACKENDS = ["numba", "torch"]


def dot_defect(fwd, adj, geom, dtype, backend, seed=0, lead=(2, 3)):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(lead + geom.image_shape, generator=gen, dtype=dtype)
    y = torch.randn(lead + geom.sino_shape, generator=gen, dtype=dtype)
    ax = fwd(x, geom, backend=backend)
    aty = adj(y, geom, backend=backend)
    lhs = (ax.double() * y.double()).sum()
    rhs = (x.double() * aty.double()).sum()
    return float(abs(lhs - rhs) / (ax.double().norm() * y.double().norm()))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("seed", [0, 1])
def test_dot_product_float64(pair, backend, seed):
    for name, geom in small_geometries(seed).items():
        defect = dot_defect(*PAIRS[pair], geom, torch.float64, backend, seed)
        assert defect <= 1e-9, (name, defect)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pair", PAIRS)
def test_dot_product_float32(pair, backend):
    for name, geom in small_geometries(3).items():
        defect = dot_defect(*PAIRS[pair], geom, torch.float32, backend, 3)
        assert defect <= 1e-4, (name, defect)


def test_dot_product_at_realistic_size():
    """512² fan-flat with 90 random views: the exact adjoint holds at scale, not only on toy grids."""
    rng = np.random.default_rng(5)
    geom = recon.FanBeam(rng.uniform(0, 2 * np.pi, 90), 700, 0.3, 512, 0.2, sod=300.0, sdd=600.0)
    assert dot_defect(*PAIRS["A"], geom, torch.float64, "numba", lead=(1,)) <= 1e-12


def test_dot_defect_detects_a_wrong_adjoint(small_geometry):
    """Sanity check of the test itself: an adjoint off by 0.1 % in scale fails the float64 bound."""
    def wrong_adjoint(y, g, backend=None):
        return recon.backproject(y, g, backend=backend) * 1.001
    assert dot_defect(recon.project, wrong_adjoint, small_geometry, torch.float64, "numba") > 1e-9


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", [recon.project, recon.backproject, recon.weighted_backproject,
                                weighted_backproject_adjoint])
def test_gradcheck(op, backend):
    rng = np.random.default_rng(2)
    geoms = [recon.ParallelBeam(rng.uniform(0, np.pi, 5), 9, 1.3, 6, 1.0, det_offset=0.2),
             recon.FanBeam(rng.uniform(0, 6.3, 5), 9, 2.0, 6, 1.0, sod=20, sdd=40, detector="flat"),
             recon.FanBeam(rng.uniform(0, 6.3, 5), 9, 2.0, 6, 1.0, sod=20, sdd=45, detector="arc")]
    for geom in geoms:
        shape = geom.image_shape if op in (recon.project, weighted_backproject_adjoint) else geom.sino_shape
        x = torch.rand((2,) + shape, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: op(t, geom, backend=backend), (x,))
        assert torch.autograd.gradgradcheck(lambda t: op(t, geom, backend=backend) ** 2, (x,))


@pytest.mark.parametrize("pair", PAIRS)
def test_gradient_of_each_operator_is_its_adjoint(pair, small_geometry):
    fwd, adj = PAIRS[pair]
    x = torch.rand((2,) + small_geometry.image_shape, dtype=torch.float64, requires_grad=True)
    y = torch.randn((2,) + small_geometry.sino_shape, dtype=torch.float64, requires_grad=True)
    (fwd(x, small_geometry) * y.detach()).sum().backward()
    torch.testing.assert_close(x.grad, adj(y.detach(), small_geometry), rtol=1e-12, atol=1e-12)
    (adj(y, small_geometry) * x.detach()).sum().backward()
    torch.testing.assert_close(y.grad, fwd(x.detach(), small_geometry), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", [recon.project, recon.backproject, recon.weighted_backproject,
                                weighted_backproject_adjoint])
def test_torch_backend_computes_the_same_matrix_as_the_compiled_kernels(op, small_geometry):
    """The CUDA path is plain PyTorch code: checked here on the CPU against the Numba kernels."""
    shape = small_geometry.image_shape if op in (recon.project, weighted_backproject_adjoint) \
        else small_geometry.sino_shape
    x = torch.randn((3,) + shape, dtype=torch.float64)
    a = op(x, small_geometry, backend="numba")
    b = op(x, small_geometry, backend="torch")
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10 * float(a.abs().max()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(small_geometry):  # pragma: no cover - runs only where a GPU exists
    x = torch.rand((2,) + small_geometry.image_shape, dtype=torch.float32)
    y = recon.project(x.cuda(), small_geometry)
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), recon.project(x, small_geometry), rtol=1e-4, atol=1e-4)
    bp = recon.backproject(y, small_geometry)
    torch.testing.assert_close(bp.cpu(), recon.backproject(y.cpu(), small_geometry), rtol=1e-4, atol=1e-3)


def paired_geometries() -> list[recon.Geometry]:
    """Scans in which views 180° apart exist (uniform 2π scans, plus extra unpaired views), on even and
    odd grids: the compiled backprojector shares the detector coordinates of such views."""
    rng = np.random.default_rng(3)
    uniform = np.linspace(0, 2 * np.pi, 16, endpoint=False) + 0.2
    mixed = np.concatenate([uniform, rng.uniform(0, 2 * np.pi, 3)])
    geoms = []
    for n in (24, 25):
        geoms.append(recon.FanBeam(uniform, n_det=41, det_spacing=0.9, image_size=n, pixel_size=0.5, sod=30.0,
                                   sdd=60.0, detector="flat", det_offset=-0.7))
        geoms.append(recon.FanBeam(mixed, n_det=41, det_spacing=0.9, image_size=n, pixel_size=0.5, sod=30.0,
                                   sdd=55.0, detector="arc", det_offset=0.4))
        geoms.append(recon.ParallelBeam(mixed, n_det=37, det_spacing=0.45, image_size=n, pixel_size=0.5,
                                        det_offset=0.3))
    return geoms


def _opposite_views(angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The view pairs B_w shares coordinates between, for a fan scan with these angles."""
    return recon.FanBeam(angles, 16, 1.0, 8, 1.0, sod=50.0, sdd=80.0).view_vectors().detector_map().opposite_views()


def test_opposite_views_pairs_every_view_180_degrees_away_once():
    angles = np.concatenate([np.linspace(0, 2 * np.pi, 8, endpoint=False), [0.3, 5.0]])
    primary, opposite = _opposite_views(angles)
    assert sorted(np.concatenate([primary, opposite[opposite >= 0]])) == list(range(angles.size))
    for v, w in zip(primary, opposite):
        if w >= 0:
            assert abs(np.cos(angles[w] - angles[v]) + 1) < 1e-12
    assert (opposite >= 0).sum() == 4  # the 8 uniform views form 4 pairs, 0.3 and 5.0 have no partner
    assert (_opposite_views(np.linspace(0, np.pi, 9, endpoint=False))[1] == -1).all()


@pytest.mark.parametrize("index", range(6))
def test_backprojector_with_opposite_views_is_exact(index):
    """B_w with shared coordinates of opposite views: the same matrix as the plain PyTorch path, and the
    compiled adjoint is its exact transpose (odd grids included: the middle row pairs with itself)."""
    geom = paired_geometries()[index]
    fwd, adj = PAIRS["B_w"]
    assert dot_defect(fwd, adj, geom, torch.float64, "numba") < 1e-13
    y = torch.randn((2,) + geom.sino_shape, dtype=torch.float64)
    a = recon.weighted_backproject(y, geom, backend="numba")
    b = recon.weighted_backproject(y, geom, backend="torch")
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10 * float(a.abs().max()))
    x = torch.randn((2,) + geom.image_shape, dtype=torch.float64)
    a = weighted_backproject_adjoint(x, geom, backend="numba")
    b = weighted_backproject_adjoint(x, geom, backend="torch")
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10 * float(a.abs().max()))
