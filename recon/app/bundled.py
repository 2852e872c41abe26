"""The small real scan(s) bundled with recon (``data/`` in a checkout, package ``recon.bundled`` when
installed): HTC2022 training phantom ``ta`` — a 2D fan-beam scan of a 70 mm acrylic disc with holes, its
organisers' full-data FBP and the ground-truth segmentation (CC BY 4.0, Finnish Inverse Problems Society;
see ``data/README.md``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["bundled_file", "HTC_SCAN", "HTC_REFERENCE", "HTC_SEGMENTATION"]

HTC_SCAN = "htc2022_ta_full.mat"
HTC_REFERENCE = "htc2022_ta_full_recon_fbp.mat"
HTC_SEGMENTATION = "htc2022_ta_full_recon_fbp_seg.mat"


def bundled_file(name: str) -> Path:
    """Path of a bundled data file, from an installed package or from a source checkout."""
    candidates = []
    try:
        candidates.append(Path(str(resources.files("recon.bundled") / name)))
    except ModuleNotFoundError:
        pass
    candidates.append(Path(__file__).resolve().parents[2] / "data" / name)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"bundled data file {name!r} not found (looked in {', '.join(map(str, candidates))}); "
                            "reinstall recon")
