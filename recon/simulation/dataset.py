"""The one reader of simulated HDF5 datasets (written by :func:`recon.simulation.simulate.simulate_to_file`,
layout in :mod:`recon.simulation.layout`): training, evaluation and comparison read them through it.

* :class:`SimulatedDataset` — a file as a lazily opened :class:`torch.utils.data.Dataset`;
* :func:`load_samples` — inputs and targets in memory (a view subset, an arc, the full-view FBP target);
* :func:`read_dataset` — one dataset of the file as a tensor.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np
import torch

from .._checks import one_line
from ..geometry import Geometry, VolumeGrid, evenly_spaced_views, geometry_from_json
from ..io.formats.h5trust import check_h5_file
from .layout import ATTRIBUTES, FORMAT, dataset_shapes
from .targets import full_view_fbp

__all__ = ["SimulatedDataset", "Samples", "load_samples", "read_dataset", "split_indices"]

PathLike = Union[str, os.PathLike]


class SimulatedDataset(torch.utils.data.Dataset):
    """A simulated dataset file as a :class:`torch.utils.data.Dataset`.

    Parameters
    ----------
    path : path
        HDF5 file in the ``recon-simulated-v1`` layout.
    keys : sequence of str
        Datasets returned by ``dataset[i]``, in this order: any of ``"images"`` ``[N, N]`` (μ, 1/mm),
        ``"sinograms"`` (noisy) and ``"sinograms_clean"`` ``[n_views, n_det]`` (line integrals), and
        ``"target_sinograms"`` ``[V_t, D_t]`` when the file has a target geometry.
    indices : sequence of int, optional
        The samples of the file this dataset exposes (e.g. from :func:`split_indices`); default all.

    Notes
    -----
    The file is validated when the dataset is made, then opened lazily: one read-only h5py handle per process,
    opened by the first ``__getitem__`` in that process, so the dataset pickles and works with ``DataLoader``
    worker processes. Items are tuples of float32 CPU tensors.
    """

    def __init__(self, path: PathLike, keys: Sequence[str] = ("sinograms", "images"),
                 indices: Optional[Sequence[int]] = None) -> None:
        import h5py

        self.path = Path(path)
        if isinstance(keys, str):
            keys = (keys,)
        self.keys = tuple(keys)
        if not self.keys:
            raise ValueError("keys must name at least one dataset")
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such file")
        try:
            with h5py.File(self.path, "r") as f:
                check_h5_file(self.path, f)  # nothing read from another file (external links, storage, VDS)
                self._read_header(f)
        except OSError as err:
            raise ValueError(f"{self.path}: not a readable HDF5 file ({err})") from None
        if indices is None:
            self.indices = np.arange(self.n_samples, dtype=np.int64)
        else:
            idx = np.asarray(indices)
            if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
                raise ValueError(f"indices must be a 1-D sequence of integers, got shape {idx.shape} {idx.dtype}")
            idx = idx.astype(np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= self.n_samples):
                raise ValueError(f"{self.path}: indices must lie in [0, {self.n_samples}), "
                                 f"got {idx.min()} … {idx.max()}")
            self.indices = idx
        self._file: Any = None
        self._pid: Optional[int] = None

    def _read_header(self, f: Any) -> None:
        missing = [a for a in ATTRIBUTES if a not in f.attrs]
        if missing:
            raise ValueError(f"{self.path}: not a simulated dataset: missing attribute(s) {missing}")
        fmt = _text(f.attrs["format"])
        if fmt != FORMAT:
            raise ValueError(f"{self.path}: unsupported format {fmt!r} (expected {FORMAT!r})")
        try:
            self._geometry = geometry_from_json(_text(f.attrs["geometry"]))
            self._target = (geometry_from_json(_text(f.attrs["target_geometry"]))
                            if "target_geometry" in f.attrs else None)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{self.path}: invalid geometry attribute: {err}") from None
        self._volume = None
        if getattr(self._geometry, "ndim", 2) == 3:
            try:
                self._volume = VolumeGrid.from_dict(json.loads(_text(f.attrs["volume_grid"])))
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{self.path}: a cone-beam dataset without a valid volume_grid attribute "
                                 f"({one_line(err)})") from None
        self._config = _text(f.attrs["config"])
        self.n_samples = int(f.attrs["n_samples"])
        self.seed = int(f.attrs["seed"])
        expected = dataset_shapes(self._geometry, self._target, self._volume)
        missing = [d for d in expected if d not in f]
        if missing:
            raise ValueError(f"{self.path}: missing dataset(s) {missing}")
        for name, shape in expected.items():
            if f[name].shape != (self.n_samples, *shape):
                raise ValueError(f"{self.path}: dataset {name!r} has shape {f[name].shape}, "
                                 f"expected {(self.n_samples, *shape)}")
        unknown = [k for k in self.keys if k not in expected]
        if unknown:
            raise ValueError(f"{self.path}: no dataset(s) {unknown}; available: {list(expected)}")

    # ---- metadata ------------------------------------------------------------------------------------------
    @property
    def geometry(self) -> Geometry:
        """Geometry of ``images``, ``sinograms`` and ``sinograms_clean``."""
        return self._geometry

    @property
    def volume(self) -> Optional[VolumeGrid]:
        """The voxel grid of a cone-beam file's ``images`` (volumes), else ``None``."""
        return self._volume

    @property
    def target_geometry(self) -> Optional[Geometry]:
        """Geometry of ``target_sinograms``, or ``None`` when the file has none."""
        return self._target

    @property
    def config(self) -> str:
        """The TOML text of the simulation config."""
        return self._config

    # ---- Dataset protocol ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.indices.size)

    def _handle(self) -> Any:
        if self._file is None or self._pid != os.getpid():
            import h5py

            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} samples")
        f = self._handle()
        j = int(self.indices[i])
        return tuple(torch.from_numpy(np.asarray(f[k][j], dtype=np.float32)) for k in self.keys)

    def sample_digests(self, key: str = "images", chunk: int = 64) -> list[str]:
        """The SHA-256 of every sample of dataset ``key`` (its stored bytes), in the order of :attr:`indices`:
        two files share a sample where a digest repeats (``"images"``: the same phantom). Reads ``chunk``
        samples at a time."""
        import hashlib

        f = self._handle()
        if key not in f:
            raise ValueError(f"{self.path}: no dataset {key!r}")
        digests = {}
        wanted = np.unique(self.indices)
        with _corruption(self.path):
            for start in range(0, wanted.size, chunk):
                part = wanted[start:start + chunk]
                block = np.asarray(f[key][part.tolist()])  # h5py: increasing indices
                digests.update((int(j), hashlib.sha256(np.ascontiguousarray(b).tobytes()).hexdigest())
                               for j, b in zip(part, block))
        return [digests[int(j)] for j in self.indices]

    def close(self) -> None:
        """Close this process's file handle (it reopens on the next access)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._pid = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    def __repr__(self) -> str:
        return (f"SimulatedDataset({str(self.path)!r}, keys={self.keys}, {len(self)} of {self.n_samples} samples; "
                f"{self._geometry!r})")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def split_indices(n: int, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random train/validation split of ``range(n)``.

    Returns sorted int64 arrays ``(train, val)`` with ``round(n · val_fraction)`` validation samples (at least
    one of each when ``0 < val_fraction`` and ``n >= 2``); the same for the same ``seed``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    n_val = int(round(n * val_fraction))
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]).astype(np.int64), np.sort(perm[:n_val]).astype(np.int64)


@dataclass
class Samples:
    """Samples in memory: inputs ``[n, n_views, n_det]`` float32 (line integrals in ``geometry``) and targets
    (images ``[n, N, N]`` μ in 1/mm, or sinograms in ``target_geometry``), read from ``path``."""

    inputs: torch.Tensor
    targets: torch.Tensor
    geometry: Geometry
    target_geometry: Optional[Geometry]
    path: Path
    volume: Optional[VolumeGrid] = None  # the grid of a cone-beam file's volumes


def load_samples(path: PathLike, target: str = "images", views: Union[None, int, np.ndarray] = None,
                 max_samples: Optional[int] = None) -> Samples:
    """The noisy sinograms of a simulated file as inputs and ``target`` as targets: ``images``,
    ``target_sinograms``, or ``full_view_fbp`` (computed here from every view of the noisy sinograms, see
    :func:`recon.simulation.targets.full_view_fbp`). ``views``: a number of evenly spaced views to keep, or the
    view indices themselves (e.g. from :func:`recon.geometry.view_indices`); ``max_samples`` caps the count."""
    import h5py

    computed = target == "full_view_fbp"
    ds = SimulatedDataset(path, keys=("sinograms",) if computed else ("sinograms", target))
    if computed and ds.volume is not None:
        raise ValueError(f"{path}: target full_view_fbp is for 2-D scans; a cone-beam model learns the volumes "
                         "(target images)")
    n = len(ds) if max_samples is None else min(len(ds), max_samples)
    full_geometry = ds.geometry
    if views is None:
        idx = np.arange(full_geometry.n_views)
    elif np.ndim(views) == 0:
        idx = evenly_spaced_views(full_geometry.n_views, int(views))
    else:
        idx = np.asarray(views, dtype=np.int64)
    geometry = full_geometry.replace(angles=full_geometry.angles[idx])
    targets = torch.empty((n,) + geometry.image_shape) if computed else None
    with h5py.File(path, "r") as f, _corruption(path):
        inputs = np.empty((n, idx.size) + f["sinograms"].shape[2:], dtype=np.float32)
        for i in range(0, n, 64):  # chunk by chunk: the file holds every view, memory only the selected
            chunk = f["sinograms"][i:min(n, i + 64)]
            inputs[i:i + 64] = chunk[:, idx, :]
            if computed:
                targets[i:i + 64] = full_view_fbp(torch.from_numpy(np.ascontiguousarray(chunk)), full_geometry)
    if not computed:
        targets = _read(path, target, n)
    for name, values in (("sinograms", torch.from_numpy(inputs)), (target, targets)):
        bad = int((~torch.isfinite(values)).reshape(len(values), -1).any(dim=1).sum())
        if bad:
            raise ValueError(f"{path}: {bad} of {n} samples have NaN/Inf {name}")
    return Samples(torch.from_numpy(inputs), targets, geometry, ds.target_geometry, Path(path), ds.volume)


def read_dataset(path: PathLike, key: str, n: Optional[int] = None) -> torch.Tensor:
    """The first ``n`` (default all) samples of dataset ``key`` of a simulated file (validated first), float32."""
    SimulatedDataset(path, keys=(key,))
    return _read(path, key, n)


def _read(path: PathLike, key: str, n: Optional[int]) -> torch.Tensor:
    """:func:`read_dataset` of a file whose header was already validated."""
    import h5py

    with h5py.File(path, "r") as f, _corruption(path):
        return torch.from_numpy(np.asarray(f[key][:n], dtype=np.float32))


@contextlib.contextmanager
def _corruption(path: PathLike) -> Iterator[None]:
    """HDF5's read errors (a chunk failing its Fletcher-32 checksum or its decompression) as one message."""
    try:
        yield
    except OSError as err:
        raise ValueError(f"{path}: cannot read the samples, the file is corrupt ({' '.join(str(err).split())}; "
                         "simulated files carry a checksum per sample: simulate it again)") from None
