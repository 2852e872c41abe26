"""A model file is verified before use: a changed byte in its parameters, NaN/Inf parameters or a foreign
payload are refused with one message, and nothing non-finite is ever saved."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recon
from recon.models import LearnedFBP, load_model, save_model
from recon.models.serialization import state_checksum

GEOMETRY = recon.ParallelBeam(np.linspace(0, np.pi, 12, endpoint=False), n_det=16, det_spacing=1.0,
                              image_size=12, pixel_size=1.0)


@pytest.fixture
def saved(tmp_path):
    model = LearnedFBP(GEOMETRY)
    with torch.no_grad():
        c = model.filter.coefficients
        c.copy_(torch.linspace(0.01, 0.02, c.numel(), dtype=c.dtype))  # a trained filter's (non-zero) offsets
    return model, save_model(model, tmp_path / "model.pt")


def test_a_round_trip_keeps_the_parameters_and_their_checksum(saved):
    model, path = saved
    loaded = load_model(path)
    torch.testing.assert_close(loaded.filter.coefficients, model.filter.coefficients, rtol=0, atol=0)
    assert state_checksum(loaded.state_dict()) == state_checksum(model.state_dict())


def _flip_in_tensor_bytes(path, model):
    """Flip the top exponent bit of one float of the filter inside the saved file (the bytes torch stores raw)."""
    data = bytearray(path.read_bytes())
    coefficients = model.filter.coefficients.detach().contiguous().numpy()
    at = data.find(coefficients.tobytes())
    assert at > 0 and data.count(coefficients.tobytes()) == 1, "the filter's bytes are stored raw, once"
    i = int(np.argmax(np.abs(coefficients)))
    data[at + 4 * i + 3] ^= 0x40  # float32 little-endian: byte 3 holds the sign and the top exponent bits
    path.write_bytes(bytes(data))


def test_a_flipped_exponent_bit_in_the_parameters_is_detected(saved):
    model, path = saved
    _flip_in_tensor_bytes(path, model)
    with pytest.raises(ValueError, match="parameters are corrupt"):
        load_model(path)


def test_non_finite_parameters_are_neither_saved_nor_loaded(saved, tmp_path):
    model, path = saved
    with torch.no_grad():
        model.filter.coefficients[0] = float("nan")
    with pytest.raises(ValueError, match="NaN/Inf"):
        save_model(model, tmp_path / "nan.pt")
    assert not (tmp_path / "nan.pt").exists()
    payload = torch.load(path, weights_only=True)  # a file written by other means, without a checksum
    payload["state_dict"] = {k: v.clone() for k, v in payload["state_dict"].items()}
    next(iter(payload["state_dict"].values())).view(-1)[0] = float("inf")
    del payload["sha256"], payload["record_sha256"]
    torch.save(payload, tmp_path / "inf.pt")
    with pytest.raises(ValueError, match="hold NaN/Inf values"):
        load_model(tmp_path / "inf.pt")


@pytest.mark.parametrize("change, message", [
    (lambda p: p.update(state_dict={"x": torch.zeros(3)}, sha256=None), "do not fit a LearnedFBP"),
    (lambda p: p.update(state_dict=[1, 2]), "no state dict of tensors"),
    (lambda p: p.update(config={"geometry": "nonsense"}), "stored configuration is unusable"),
    (lambda p: p.update(format="other"), "not a recon model file"),
    (lambda p: p.update(config=[1, 2]), "its config, metadata or training summary is not a table"),
    (lambda p: p.update(extra="x"), "its config, metadata or training summary is not a table"),
    (lambda p: p.update(extra={"summary": [1]}), "its config, metadata or training summary is not a table"),
])
def test_foreign_payloads_are_refused_with_one_message(saved, tmp_path, change, message):
    payload = torch.load(saved[1], weights_only=True)
    change(payload)
    payload.pop("record_sha256")  # written by other means: no record checksum (that is tested below)
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=message):
        load_model(tmp_path / "bad.pt")


@pytest.mark.parametrize("change", [
    lambda p: p["config"]["geometry"].update(pixel_size=p["config"]["geometry"]["pixel_size"] * 1.0000001),
    lambda p: p["config"]["geometry"]["angles"].__setitem__(3, 0.5),
    lambda p: p["extra"].update(summary={"data": "elsewhere.h5"}),
    lambda p: p.update(recon_version="9.9"),
])
def test_a_change_anywhere_in_the_record_is_detected(saved, tmp_path, change):
    """The checksum covers the whole record: the stored pixel size changed in its last digits would otherwise
    load silently and change the image by about its own maximum."""
    payload = torch.load(saved[1], weights_only=True)
    change(payload)
    torch.save(payload, tmp_path / "changed.pt")
    with pytest.raises(ValueError, match="model file is corrupt: its stored configuration, geometry or metadata"):
        load_model(tmp_path / "changed.pt")
    unchanged = torch.load(saved[1], weights_only=True)
    torch.save(unchanged, tmp_path / "same.pt")  # saved again unchanged: loads
    load_model(tmp_path / "same.pt")


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def test_a_crafted_model_is_refused_without_advice_that_would_run_it(tmp_path):
    torch.save({"format": "recon-model-v1", "state_dict": _RunsCode(tmp_path / "pwned")}, tmp_path / "evil.pt")
    with pytest.raises(ValueError) as err:
        load_model(tmp_path / "evil.pt")
    assert "would run code when loaded; recon never loads those" in str(err.value)
    assert "weights_only" not in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "pwned").exists()


def test_a_model_of_fewer_views_says_that_it_drops_the_rest():
    from recon.io.scan import Scan
    from recon.models.apply import apply_model

    full = GEOMETRY.replace(angles=np.linspace(0, np.pi, 24, endpoint=False))
    scan = Scan(np.zeros(full.sino_shape), full)
    with pytest.warns(UserWarning, match="trained for 12 views: 12 of the scan's 24 views are not used"):
        image, _ = apply_model(scan, LearnedFBP(GEOMETRY))
    assert image.shape == (12, 12)
