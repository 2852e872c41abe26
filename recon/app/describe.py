"""``recon info FILE`` for every file the package reads or writes, not only scans: simulated datasets, trained
models and run folders (and their checkpoints), reference images and segmentations, reconstructions written by
``recon reconstruct``, and the JSON records of ``train``, ``compare``, ``evaluate`` and ``benchmark``.

Each kind is recognised from what the file holds (never from its name alone), read through the same checked
readers the commands use (models with ``weights_only``, HDF5 without following links, sizes checked first);
anything else is described as a scan (:func:`recon.app.info.describe_scan`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from ..io.config import MAX_TOML_BYTES
from ..io.formats.common import H5_EXT, GeometryArg, PathLike, reading
from ..io.scan import ScanFormatError
from ..io.readers import read_htc_reference
from ..io.volumes import read_volume
from ..models import load_model, training_summary
from ..simulation.dataset import SimulatedDataset
from ..simulation.layout import FORMAT
from ..training.loop import load_checkpoint
from .info import describe_scan

__all__ = ["describe_file"]


def _table(title: str, lines: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in lines)
    return "\n".join([title] + [f"  {k.ljust(width)}  {v}" for k, v in lines])


def _range(a: np.ndarray) -> str:
    a = np.asarray(a, dtype=np.float64)
    return f"{a.min():.4g} … {a.max():.4g} (mean {a.mean():.4g})"


def _geometry_line(g) -> str:
    text = repr(g)
    return text if len(text) <= 160 else text[:157] + "…"


# ---- the kinds ----------------------------------------------------------------------------------------------

def _model(path: Path) -> str:
    model = load_model(path)
    s = training_summary(model)
    lines = [("type", f"{type(model).__name__} ({model.learned_parts()})"), ("geometry", _geometry_line(model.geometry)),
             ("file", f"{model.path} (checksums intact)")]
    if s:
        lines += [("trained on", f"{s.get('data')} ({s.get('n_train')} training, {s.get('n_val')} validation samples)"),
                  ("target", s.get("target")), ("training time", f"{s.get('train_seconds', float('nan')):.0f} s")]
    return _table(f"{path}: a trained model", lines)


def _checkpoint(path: Path) -> str:
    import torch

    ckpt = load_checkpoint(path, torch.device("cpu"))
    last = ckpt["history"][-1] if ckpt["history"] else {}
    lines = [("epochs done", ckpt["epoch"]), ("last validation loss", last.get("val_loss")),
             ("resume", f"recon train --resume --out {path.parent} (with the run's config and data)")]
    return _table(f"{path}: a training checkpoint (checksum intact)", lines)


def _dataset(path: Path) -> str:
    d = SimulatedDataset(path, keys=("sinograms",))
    lines = [("samples", f"{d.n_samples} (seed {d.seed})"), ("geometry", _geometry_line(d.geometry))]
    if d.target_geometry is not None:
        lines.append(("target geometry", _geometry_line(d.target_geometry)))
    if d.volume is not None:
        lines.append(("volume", repr(d.volume)))
    family = next((ln.split("=", 1)[1].split("#")[0].strip().strip('"') for ln in d.config.splitlines()
                   if ln.strip().startswith("family")), "?")
    lines.append(("phantoms", family))
    return _table(f"{path}: a simulated dataset ({FORMAT})", lines)


def _reference(path: Path) -> str:
    image = read_htc_reference(path)
    binary = image.dtype == np.uint8 or np.array_equal(np.unique(image), [0, 1])
    if binary:
        what = f"a segmentation {image.shape[0]} × {image.shape[1]}, {100 * float(np.mean(image)):.1f} % material"
    else:
        what = f"a reference image {image.shape[0]} × {image.shape[1]}, μ {_range(image)} 1/mm"
    return f"{path}: {what} (HTC2022 organisers' file)"


def _volume(path: Path) -> str:
    volume, meta = read_volume(path)
    unit = meta.get("length_unit", "mm")
    lines = [("volume", f"{' × '.join(map(str, volume.shape))} float32 (z, y, x), μ {_range(volume)} 1/{unit}"),
             ("voxel size", " × ".join(f"{v:.4g}" for v in meta.get(f"voxel_size_{unit}", [])) + f" {unit} (z, y, x)"),
             ("method", meta.get("method")), ("source", meta.get("source")), ("recon", meta.get("recon_version"))]
    return _table(f"{path}: a volume reconstructed by recon", lines)


def _recon_volume_h5(path: Path) -> bool:
    import h5py

    try:
        with reading(path, "HDF5 file"), h5py.File(path, "r") as f:
            return isinstance(f.get("volume"), h5py.Dataset) and "recon_version" in f["volume"].attrs
    except (ScanFormatError, OSError):
        return False


def _reconstruction(path: Path, meta: dict) -> str:
    import tifffile

    if any(key.startswith("voxel_size") for key in meta):
        return _volume(path)
    with tifffile.TiffFile(path) as tif:
        image = tif.asarray()
    unit = "px" if "pixel_size_px" in meta else "mm"
    lines = [("image", f"{' × '.join(map(str, image.shape))} float32, μ {_range(image)} 1/{unit}"),
             ("pixel size", f"{meta.get(f'pixel_size_{unit}')} {unit}"), ("method", meta.get("method")),
             ("source", meta.get("source")), ("recon", meta.get("recon_version"))]
    return _table(f"{path}: a reconstruction written by recon", lines)


_RECORDS: list[tuple[str, Callable[[dict], bool], Callable[[dict], list[tuple[str, Any]]]]] = [
    ("a training record (recon train: metrics.json)", lambda d: "history" in d and "model" in d,
     lambda d: [("model", d["model"]), ("epochs", len(d["history"])), ("data", d.get("data")),
                ("final validation loss", d["history"][-1].get("val_loss") if d["history"] else None)]),
    ("a comparison of one scan (recon compare: metrics.json)", lambda d: "scan" in d and "scores" in d,
     lambda d: [("scan", d["scan"]), ("methods", ", ".join(d["scores"])), ("region", d.get("region"))]),
    ("a summary over scans (recon compare: summary.json)", lambda d: "scans" in d and "methods" in d,
     lambda d: [("scans", len(d["scans"])), ("methods", ", ".join(d["methods"])), ("region", d.get("region"))]),
    ("an evaluation (recon evaluate: evaluation.json)", lambda d: "results" in d and "n_test" in d,
     lambda d: [("model", d.get("model")), ("data", d.get("data")), ("test samples", d["n_test"]),
                ("methods", ", ".join(d["results"]))]),
    ("a benchmark record (recon benchmark)", lambda d: d.get("benchmark") is not None and "schema" in d,
     lambda d: [("benchmark", d["benchmark"]), ("data", (d.get("data") or {}).get("folder")),
                ("created", d.get("created"))]),
]


def _record(path: Path) -> Optional[str]:
    if path.stat().st_size > MAX_TOML_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes is too large for a recon record")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path}: not a JSON record recon wrote ({' '.join(str(err).split())})") from None
    for what, matches, lines in _RECORDS:
        if isinstance(data, dict) and matches(data):
            try:
                return _table(f"{path}: {what}", lines(data))
            except (KeyError, TypeError, AttributeError, IndexError) as err:
                raise ValueError(f"{path}: {what} with a malformed field ({err!r})") from None
    raise ValueError(f"{path}: a JSON file that is none of recon's records (training, comparison, summary, "
                     "evaluation, benchmark)")


# ---- dispatch -----------------------------------------------------------------------------------------------

def _simulated(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return str(f.attrs.get("format", "")) == FORMAT or f.attrs.get("format", b"") == FORMAT.encode()
    except OSError:
        return False


def _tiff_meta(path: Path) -> Optional[dict]:
    import tifffile

    try:
        with reading(path, "TIFF file"), tifffile.TiffFile(path) as tif:  # (what tifffile logs: one warning)
            meta = json.loads(tif.pages[0].description)
    except (ScanFormatError, ValueError):  # not a TIFF recon wrote: a scan (sinogram TIFF), for the scan reader
        return None
    return meta if isinstance(meta, dict) and meta.get("quantity") == "linear attenuation coefficient" else None


def _htc_reference(path: Path) -> bool:
    import scipy.io

    try:
        return any(name.startswith("recon") for name, _, _ in scipy.io.whosmat(path))
    except Exception:  # v7.3 or not a MATLAB file: the scan reader says what it is
        return False


def describe_file(path: PathLike, geometry: GeometryArg = None) -> str:
    """What ``path`` holds, whatever recon file it is (see the module docstring); ``geometry`` is used for
    scans that carry none."""
    p = Path(path)
    if p.is_dir() and (p / "model.pt").is_file() or (p.is_file() and p.suffix == ".pt"):
        return _checkpoint(p) if p.is_file() and p.name == "checkpoint.pt" else _model(p)
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix == ".json":
            return _record(p)
        if suffix in H5_EXT and _simulated(p):
            return _dataset(p)
        if suffix in H5_EXT and _recon_volume_h5(p):
            return _volume(p)
        if suffix in (".tif", ".tiff") and (meta := _tiff_meta(p)) is not None:
            return _reconstruction(p, meta)
        if suffix == ".mat" and _htc_reference(p):
            return _reference(p)
    return describe_scan(p, geometry=geometry)
