"""backend="astra": ASTRA's own projectors behind recon's operators — the same numbers as ASTRA's calls, an adjoint
pair to float32 precision, autograd, and clear errors for what ASTRA lacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.interop import to_astra

from ..helpers import irregular_geometries

astra = pytest.importorskip("astra")

ANGLES = np.linspace(0, 2 * np.pi, 60, endpoint=False)
GEOMETRIES = {
    "parallel, offset": recon.ParallelBeam(ANGLES[:30], 96, 0.7, 64, 0.9, det_offset=1.3),
    "fan flat, offset": recon.FanBeam(ANGLES, 96, 1.1, 64, 0.9, sod=200.0, sdd=350.0, det_offset=-2.1),
    "vectors fan flat": irregular_geometries(0, n=24)["fan-flat"],
}


def _astra_call(image: np.ndarray, g: recon.Geometry, backprojection: bool = False) -> np.ndarray:
    vol, proj = to_astra(g, vectors=True)
    pid = astra.create_projector("linear" if proj["type"] == "parallel_vec" else "line_fanflat", proj, vol)
    try:
        did, out = (astra.create_backprojection if backprojection else astra.create_sino)(image, pid)
        astra.data2d.delete(did)
    finally:
        astra.projector.delete(pid)
    return out


@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_astra_backend_gives_astras_numbers_and_an_adjoint_pair(name):
    g = GEOMETRIES[name]
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((2,) + g.image_shape, generator=gen)
    y = torch.randn((2,) + g.sino_shape, generator=gen)
    ax = recon.project(x, g, backend="astra")
    aty = recon.backproject(y, g, backend="astra")
    assert ax.shape == (2,) + g.sino_shape and ax.dtype == torch.float32
    np.testing.assert_array_equal(ax[1].numpy(), _astra_call(x[1].numpy(), g))
    np.testing.assert_array_equal(aty[0].numpy(), _astra_call(y[0].numpy(), g, backprojection=True))
    lhs, rhs = float((ax.double() * y.double()).sum()), float((x.double() * aty.double()).sum())
    assert abs(lhs - rhs) <= 1e-5 * float(ax.double().norm() * y.double().norm())
    image = recon.rasterize(recon.shepp_logan(radius=0.4 * g.image_size * g.pixel_size), g, supersample=2)
    theirs = recon.project(image.astype(np.float32), g, backend="astra")
    ours = recon.project(image.astype(np.float32), g)  # recon's matrix: parallel to float precision, fan close
    assert np.linalg.norm(theirs - ours) / np.linalg.norm(ours) <= (1e-4 if "parallel" in name else 0.05)


def test_astra_backend_in_autograd_and_in_float64():
    g = GEOMETRIES["fan flat, offset"]
    x = torch.rand(g.image_shape, dtype=torch.float64, requires_grad=True)
    y = torch.randn(g.sino_shape, dtype=torch.float64)
    (recon.project(x, g, backend="astra") * y).sum().backward()
    assert x.grad.dtype == torch.float64
    torch.testing.assert_close(x.grad, recon.backproject(y, g, backend="astra"), rtol=0, atol=0)


def test_what_astra_lacks_is_refused_clearly():
    g = GEOMETRIES["fan flat, offset"]
    with pytest.raises(ValueError, match=r"backend 'astra' has no weighted_backproject \(it provides project, "
                                         r"backproject\)"):
        recon.weighted_backproject(torch.zeros(g.sino_shape), g, backend="astra")
    arc = recon.FanBeam(ANGLES, 96, 1.1, 64, 0.9, sod=200.0, sdd=350.0, detector="arc")
    with pytest.raises(ValueError, match="no arc"):
        recon.project(torch.zeros(arc.image_shape), arc, backend="astra")
    if not astra.use_cuda():
        with pytest.raises(ValueError, match="backend 'astra' runs on CPU tensors, and CUDA tensors where ASTRA"):
            recon.operators.functional.resolve_backend("astra", torch.device("cuda"))
