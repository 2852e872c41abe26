"""One registry of back-ends: the built-in ones are registered by name, a third party registers its own without
touching recon, and names, devices and missing operators each get one clear error."""

from __future__ import annotations

import pytest
import torch

import recon
from recon.operators import registry

from ..helpers import small_geometries

GEOM = small_geometries(0)["fan-flat"]


class Doubled:
    """A third-party back-end: twice recon's torch projector, nothing else."""

    devices = "CPU tensors only"

    def usable(self, device):
        return device.type == "cpu"

    def project(self, x, g, grid):
        return 2.0 * registry.get_backend("torch").project(x, g, grid)


@pytest.fixture
def doubled():
    recon.operators.register_backend("doubled", Doubled())
    yield
    registry._REGISTRY.pop("doubled", None)


def test_builtin_backends_are_registered_in_order():
    names = recon.operators.backends()
    assert names[:3] == ("numba", "torch", "triton")
    assert recon.operators.BACKENDS[:3] == names[:3]


def test_a_third_party_backend_plugs_in_and_says_what_it_lacks(doubled):
    x = torch.rand(2, *GEOM.image_shape, dtype=torch.float64)
    torch.testing.assert_close(recon.project(x, GEOM, backend="doubled"), 2 * recon.project(x, GEOM), rtol=1e-12,
                               atol=0)
    x.requires_grad_()
    with pytest.raises(ValueError, match=r"backend 'doubled' has no backproject \(it provides project\)"):
        recon.project(x, GEOM, backend="doubled").sum().backward()  # the gradient needs the adjoint
    with pytest.raises(ValueError, match="backend 'doubled' has no weighted_backproject"):
        recon.weighted_backproject(torch.zeros(GEOM.sino_shape), GEOM, backend="doubled")
    assert "doubled" in recon.operators.backends()


def test_bad_registrations_and_names_are_refused():
    with pytest.raises(ValueError, match="must be an identifier"):
        recon.operators.register_backend("two words", Doubled())
    with pytest.raises(TypeError, match="usable\\(device\\) method and at least one of"):
        recon.operators.register_backend("empty", object())
    with pytest.raises(TypeError, match="needs a factory"):
        recon.operators.register_backend("later", Doubled(), lazy=True)
    with pytest.raises(ValueError, match=r"backend must be one of \('numba', 'torch', 'triton'.* got 'nope'"):
        recon.project(torch.zeros(GEOM.image_shape), GEOM, backend="nope")
    assert "empty" not in recon.operators.backends()


def test_a_lazy_backend_whose_import_fails_says_so():
    def missing():
        raise ImportError("No module named 'tigre'")
    recon.operators.register_backend("tigre", missing, lazy=True)
    try:
        with pytest.raises(ValueError, match="backend 'tigre' cannot be used here: No module named 'tigre'"):
            recon.project(torch.zeros(GEOM.image_shape), GEOM, backend="tigre")
    finally:
        registry._REGISTRY.pop("tigre", None)
        registry._LAZY.discard("tigre")


def test_a_backend_on_the_wrong_device_is_refused(doubled):
    with pytest.raises(ValueError, match="backend 'doubled' runs on CPU tensors only; got a tensor on cuda"):
        recon.operators.functional.resolve_backend("doubled", torch.device("cuda"))
