"""Bad input gets a clear error, never a silent wrong answer or a crash inside a kernel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon._checks import NotEnoughMemory
from recon.operators.functional import resolve_backend


GEOM = recon.FanBeam(np.linspace(0, 2 * np.pi, 10, endpoint=False), 20, 1.0, 16, 1.0, sod=50.0, sdd=100.0)


@pytest.mark.parametrize("op, shape, message", [
    (recon.project, (16, 15), r"image must have shape \[\.\.\., image_size, image_size\] = \[\.\.\., 16, 16\]"),
    (recon.project, (10, 20), r"\[\.\.\., 16, 16\]"),
    (recon.project, (16,), "got \\(16,\\)"),
    (recon.backproject, (10, 21), r"sinogram must have shape \[\.\.\., n_views, n_det\] = \[\.\.\., 10, 20\]"),
    (recon.backproject, (20, 10), r"\[\.\.\., 10, 20\]"),
    (recon.weighted_backproject, (3, 9, 20), r"\[\.\.\., 10, 20\]"),
])
def test_wrong_shapes_name_the_expected_shape(op, shape, message):
    with pytest.raises(ValueError, match=message):
        op(torch.zeros(shape), GEOM)


def test_empty_batch_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        recon.project(torch.zeros(0, 16, 16), GEOM)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool, torch.float16, torch.complex64])
def test_non_float_dtypes_are_rejected(dtype):
    with pytest.raises(TypeError, match="float32 or float64"):
        recon.project(torch.zeros(16, 16, dtype=dtype), GEOM)


def test_numpy_integer_arrays_and_lists_are_rejected():
    with pytest.raises(TypeError, match="float32 or float64"):
        recon.project(np.zeros((16, 16), dtype=np.uint16), GEOM)
    with pytest.raises(TypeError, match="torch.Tensor or numpy.ndarray"):
        recon.project([[0.0] * 16] * 16, GEOM)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_rejected(bad):
    x = torch.zeros(2, 16, 16)
    x[1, 3, 4] = bad
    with pytest.raises(ValueError, match="1 non-finite value"):
        recon.project(x, GEOM)
    y = torch.zeros(10, 20, dtype=torch.float64)
    y[0, 0] = bad
    with pytest.raises(ValueError, match="non-finite"):
        recon.weighted_backproject(y, GEOM)


def test_geometry_must_be_a_geometry():
    with pytest.raises(TypeError, match="recon geometry"):
        recon.project(torch.zeros(16, 16), {"type": "fan"})
    with pytest.raises(TypeError, match="recon geometry"):
        recon.Projector("fan")


def test_mismatched_geometry_is_caught():
    other = GEOM.replace(n_det=24)
    sino = recon.project(torch.rand(16, 16), GEOM)
    with pytest.raises(ValueError, match=r"\[\.\.\., 10, 24\]"):
        recon.backproject(sino, other)


def test_unknown_backend_and_numba_on_other_devices():
    with pytest.raises(ValueError, match="backend must be one of"):
        recon.project(torch.zeros(16, 16), GEOM, backend="tigre")
    with pytest.raises(ValueError, match="CPU tensors only"):
        resolve_backend("numba", torch.device("cuda"))


@pytest.mark.parametrize("op", [recon.project, recon.backproject, recon.weighted_backproject])
def test_meta_tensors_and_outputs_beyond_memory_are_refused_before_allocating(op):
    x = torch.zeros(16, 16, device="meta")
    with pytest.raises(ValueError, match="meta tensor"):
        op(x, GEOM, check_finite=False)
    if op is recon.project:  # 10⁹ images (a view of one), whose sinograms no machine holds
        data, geometry = torch.zeros(1, 16, 16).expand(10**9, 16, 16), GEOM
    else:  # a 200 000² image (160 GB)
        data, geometry = torch.zeros(GEOM.sino_shape), GEOM.replace(image_size=200_000, pixel_size=1e-4)
    with pytest.raises(NotEnoughMemory, match=r"needs .* GiB of memory, .* GiB available"):
        op(data, geometry, check_finite=False)


def test_input_is_not_modified():
    x = torch.rand(16, 16, dtype=torch.float64)
    before = x.clone()
    recon.project(x, GEOM)
    recon.weighted_backproject(recon.project(x, GEOM), GEOM)
    torch.testing.assert_close(x, before, rtol=0, atol=0)
