"""Simulated training datasets: random phantoms, their exact analytic sinograms, Poisson noise, HDF5 output.

A simulation is described by a TOML config::

    [simulation]
    n = 1000                 # samples
    seed = 0                 # sample i is a function of (seed, i) only
    det_supersample = 3      # rays per detector element (analytic line integrals: no inverse crime)

    [phantom]
    family = "disc_with_holes"   # a key of recon.simulation.phantoms.PHANTOMS
    radius = 35.0                # other keys are the family function's keyword parameters

    [noise]                      # optional; omit i0 (or set 0) for noiseless data
    i0 = 1e4                     # incident photons per detector element, or [min, max]: drawn log-uniformly
                                 # per sample (the dose of a real scan is known only roughly)
    electronic_sigma = 0.0       # counts
    min_counts = 0.5             # counts are clipped below at this before the log
    beam_hardening = 0.0         # b of p − b·p² (recon.simulation.noise.beam_hardening), or [min, max]
                                 # drawn uniformly per sample; the HTC2022 scanner: b ≈ 0.1

    [geometry]                   # see recon.io.config
    type = "fan"  ...

    [target_geometry]            # optional second geometry whose clean sinograms are stored too
    type = "parallel"  ...

    [volume]                     # cone beam ([geometry] type = "cone") only: the voxel grid of the images
    shape = [64, 64, 64]         # nz, ny, nx
    voxel_size = 1.0             # mm

    [acquisition]                # optional: measure in this geometry (the noise is drawn here) and rebin the
    type = "fan"  ...            # noisy data to [geometry] by interpolation (recon.rebin), as real data that
                                 # were rebinned from another scan are (their noise interpolated, correlated)

and written by :func:`simulate_to_file` as HDF5 (``format = "recon-simulated-v1"``):

* float32 datasets, one sample per chunk, compressed and Fletcher-32 checksummed: ``images`` ``[n, N, N]``
  (μ in 1/mm, rasterised with 4×4 supersampling on the geometry's grid), ``sinograms``
  ``[n, n_views, n_det]`` (noisy line integrals), ``sinograms_clean`` (exact analytic line integrals) and,
  with ``[target_geometry]``, ``target_sinograms`` ``[n, V_t, D_t]`` (clean, same ``det_supersample``);
* root attributes ``format``, ``recon_version``, ``geometry`` (JSON), ``target_geometry`` (JSON, if given),
  ``config`` (the TOML text as read), ``seed``, ``n_samples``; with ``[acquisition]`` the noisy ``sinograms`` are
  rebinned from it (``sinograms_clean`` stay exact in ``[geometry]``) and ``acquisition_geometry`` (JSON) is
  stored.

:class:`recon.simulation.dataset.SimulatedDataset` reads such files (layout: :mod:`recon.simulation.layout`).
"""

from __future__ import annotations

import collections
import functools
import json
import multiprocessing
import os
import signal
import zlib
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch

from .shapes import rasterize, ray_transform
from .._checks import integer
from .._version import __version__
from ..analytic.rebinning import Rebinning
from ..geometry import Geometry
from ..io import atomic_output, check_writable
from ..io.atomic import check_distinct
from .._logging import progress_disabled
from .layout import FORMAT, dataset_shapes, fletcher32
from .ellipsoids import exact_projections, rasterize_volume
from .noise import beam_hardening, poisson_noise
from .phantoms import make_phantom
from .sim_config import SimulationConfig, load_config, parse_config

__all__ = ["IMAGE_SUPERSAMPLE", "SimulationConfig", "load_config", "parse_config", "simulate_sample",
           "simulate_to_file"]

IMAGE_SUPERSAMPLE = 4  # point samples per pixel side of the ground-truth images
VOLUME_SUPERSAMPLE = 2  # point samples per voxel side of the ground-truth volumes
GZIP_LEVEL = 1  # deflate level of the stored chunks (noisy float32 sinograms barely gain from more)

PathLike = Union[str, os.PathLike]


@functools.lru_cache(maxsize=4)
def _rebinning(acquisition: Geometry, geometry: Geometry) -> Rebinning:
    """The float64 rebinning layer ``acquisition`` → ``geometry``, built once per process (its sparse map costs
    more than applying it)."""
    return Rebinning(acquisition, geometry, dtype=torch.float64)


# ---- one sample ---------------------------------------------------------------------------------------------

def simulate_sample(config: SimulationConfig, index: int, seed: Optional[int] = None) -> dict[str, np.ndarray]:
    """Sample ``index`` of a simulation: a function of ``(seed, index)`` only.

    The phantom and the noise draw from two independent streams spawned from ``SeedSequence([seed, index])``
    (so changing the noise level keeps the phantoms). Returns float32 arrays: ``images`` ``[N, N]`` (1/mm),
    ``sinograms`` and ``sinograms_clean`` ``[n_views, n_det]``, and ``target_sinograms`` ``[V_t, D_t]`` when the
    config has a target geometry.
    """
    seed = config.seed if seed is None else seed
    phantom_seq, noise_seq = np.random.SeedSequence([seed, index]).spawn(2)
    phantom = make_phantom(config.family, np.random.default_rng(phantom_seq), **config.phantom_params)
    if config.volume is not None:  # cone beam: exact projections of ellipsoids, the volume voxelised
        clean = exact_projections(phantom, config.geometry, config.det_supersample)
        image = rasterize_volume(phantom, config.volume, VOLUME_SUPERSAMPLE)
    else:
        clean = ray_transform(phantom, config.geometry, det_supersample=config.det_supersample)
        image = rasterize(phantom, config.geometry, supersample=IMAGE_SUPERSAMPLE)
    measured = clean if config.acquisition is None else ray_transform(phantom, config.acquisition,
                                                                      det_supersample=config.det_supersample)
    noise_rng = np.random.default_rng(noise_seq)
    i0 = config.i0
    if isinstance(i0, tuple):  # a range: this sample's dose, log-uniform (drawn first from the noise stream)
        i0 = float(np.exp(noise_rng.uniform(np.log(i0[0]), np.log(i0[1])))) if i0[1] > i0[0] else i0[0]
    lo, hi = config.beam_hardening  # (a fixed value draws nothing: configs without it keep their samples)
    b = noise_rng.uniform(lo, hi) if hi > lo else lo
    if b > 0:
        measured = beam_hardening(measured, b)
    noisy = poisson_noise(measured, i0, noise_rng, config.electronic_sigma, config.min_counts)
    if config.acquisition is not None:
        noisy = _rebinning(config.acquisition, config.geometry)(torch.from_numpy(noisy)).numpy()
    out = {
        "images": image.astype(np.float32),
        "sinograms": noisy.astype(np.float32),
        "sinograms_clean": clean.astype(np.float32),
    }
    if config.target_geometry is not None:
        out["target_sinograms"] = ray_transform(phantom, config.target_geometry,
                                                det_supersample=config.det_supersample).astype(np.float32)
    return out


# ---- many samples, in order, from a process pool ------------------------------------------------------------

def _encode(sample: dict[str, np.ndarray]) -> dict[str, bytes]:
    """Each array as one stored HDF5 chunk: the bytes of HDF5's gzip (deflate) then Fletcher-32 filters. Done in
    the workers, so that the writing process only copies bytes and compression scales with the pool."""
    chunks = {name: zlib.compress(np.ascontiguousarray(a, dtype="<f4").tobytes(), GZIP_LEVEL)
              for name, a in sample.items()}
    return {name: data + fletcher32(data) for name, data in chunks.items()}


_WORKER: dict[str, Any] = {}


def _init_worker(config: SimulationConfig, seed: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the main process, which stops the pool
    _WORKER.update(config=config, seed=seed)


def _worker_sample(index: int) -> dict[str, bytes]:
    return _encode(simulate_sample(_WORKER["config"], index, _WORKER["seed"]))


def _produce(config: SimulationConfig, n: int, seed: int, workers: int,
             consume: Callable[[int, dict[str, bytes]], None]) -> None:
    """Call ``consume(i, chunks)`` for i = 0 … n−1 in order, ``chunks`` being sample i :func:`_encode`-d. Several
    workers run in a 'spawn' process pool (fork is unsafe after OpenMP threads ran), with at most 2 × workers
    samples in flight."""
    if workers == 1:
        for i in range(n):
            consume(i, _encode(simulate_sample(config, i, seed)))
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(config, seed)) as pool:
        pending: collections.deque = collections.deque()
        next_index = 0
        while next_index < n or pending:
            while next_index < n and len(pending) < 2 * workers:
                pending.append(pool.apply_async(_worker_sample, (next_index,)))
                next_index += 1
            i = next_index - len(pending)
            consume(i, pending.popleft().get())


def simulate_to_file(config: Union[PathLike, SimulationConfig], out: PathLike, n: Optional[int] = None,
                     seed: Optional[int] = None, workers: Optional[int] = None, force: bool = False) -> Path:
    """Simulate a dataset into an HDF5 file (layout in the module docstring).

    Parameters
    ----------
    config : path or SimulationConfig
        Simulation config (TOML file).
    out : path
        Output HDF5 file. Written to a temporary file next to it and renamed at the end, so an interrupted run
        leaves no complete-looking file.
    n, seed : int, optional
        Override the config's number of samples and seed.
    workers : int, optional
        Worker processes (default: ``os.cpu_count()``); 1 runs in this process. The output is the same for any
        number of workers.
    force : bool
        Overwrite an existing ``out`` (otherwise ``FileExistsError``, and the file is untouched).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    FileExistsError
        ``out`` exists and ``force`` is false.
    FileNotFoundError, ValueError
        Missing or invalid config (the message names the file, section and key).
    """
    import h5py
    from tqdm import tqdm

    cfg = config if isinstance(config, SimulationConfig) else load_config(config)
    n = cfg.n if n is None else integer("n", n, low=1)
    seed = cfg.seed if seed is None else integer("seed", seed, low=0)
    workers = (os.cpu_count() or 1) if workers is None else integer("workers", workers, low=1)
    workers = min(workers, n)
    out = check_writable(out, force)
    check_distinct([out], [config] if not isinstance(config, SimulationConfig) else [])

    with atomic_output(out, force=force) as tmp, h5py.File(tmp, "w") as f:
        datasets = {name: f.create_dataset(name, shape=(n, *shape), dtype=np.float32, chunks=(1, *shape),
                                           compression="gzip", compression_opts=GZIP_LEVEL, fletcher32=True,
                                           track_times=False)
                    for name, shape in dataset_shapes(cfg.geometry, cfg.target_geometry, cfg.volume).items()}
        f.attrs["format"] = FORMAT
        f.attrs["recon_version"] = __version__
        f.attrs["geometry"] = cfg.geometry.to_json()
        if cfg.target_geometry is not None:
            f.attrs["target_geometry"] = cfg.target_geometry.to_json()
        if cfg.acquisition is not None:
            f.attrs["acquisition_geometry"] = cfg.acquisition.to_json()
        if cfg.volume is not None:
            f.attrs["volume_grid"] = json.dumps(cfg.volume.to_dict())
        f.attrs["config"] = cfg.text
        f.attrs["seed"] = seed
        f.attrs["n_samples"] = n
        with tqdm(total=n, unit="sample", desc=f"simulate {out.name}", disable=progress_disabled(),
                  dynamic_ncols=True) as bar:
            def write(i: int, chunks: dict[str, bytes]) -> None:
                for name, data in chunks.items():
                    datasets[name].id.write_direct_chunk((i,) + (0,) * (datasets[name].ndim - 1), data)
                bar.update()

            _produce(cfg, n, seed, workers, write)
    return out
