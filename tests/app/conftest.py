"""The bundled real scan on a coarse grid, and an untrained learned FBP for 60 of its views."""

from __future__ import annotations

import pytest

from recon.app.bundled import HTC_SCAN, bundled_file
from recon.io import read_htc_mat
from recon.models import LearnedFBP, save_model


SCAN = str(bundled_file(HTC_SCAN))


GRID = {"image_size": 128, "pixel_size": 0.5932892693321776}  # 4 × the organisers' pixel: fast tests


@pytest.fixture(scope="module")
def scan():
    return read_htc_mat(SCAN, **GRID)


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory, scan):
    """An untrained learned FBP for 60 of the 720 views: it must equal analytic Ram-Lak FBP."""
    path = tmp_path_factory.mktemp("model") / "model.pt"
    save_model(LearnedFBP(scan.select_views(count=60).geometry), path)
    return path

