"""The file layout of a simulated dataset, shared by the writer (:mod:`.simulate`) and the reader
(:mod:`.dataset`), so that neither imports the other.

HDF5, ``format = "recon-simulated-v1"``: float32 datasets with one sample per chunk, gzip-compressed and
(since recon 0.2) Fletcher-32 checksummed, so that HDF5 refuses to return a chunk whose stored bytes changed —
``images`` ``[n, N, N]`` (μ in 1/mm), ``sinograms`` ``[n, n_views, n_det]`` (noisy line integrals),
``sinograms_clean`` (exact line integrals) and, with a target geometry, ``target_sinograms`` ``[n, V_t, D_t]``
(clean) — and the root attributes of :data:`ATTRIBUTES` (plus ``target_geometry``, JSON, when there is one). A
cone-beam file (``geometry`` of type ``cone``) holds volumes ``[n, nz, ny, nx]`` as ``images``, projections
``[n, n_views, rows, cols]`` as ``sinograms``, and the attribute ``volume_grid`` (JSON of the
:class:`recon.VolumeGrid`).
"""

from __future__ import annotations

import numpy as np

from ..geometry import Geometry, VolumeGrid

__all__ = ["FORMAT", "ATTRIBUTES", "dataset_shapes", "fletcher32"]

FORMAT = "recon-simulated-v1"
ATTRIBUTES = ("format", "recon_version", "geometry", "config", "seed", "n_samples")


def dataset_shapes(geometry: Geometry, target_geometry: Geometry | None = None,
                   volume: VolumeGrid | None = None) -> dict[str, tuple[int, ...]]:
    """Per-sample shape of every dataset of a file simulated in ``geometry`` (→ ``target_geometry``); a cone-beam
    file stores volumes on ``volume`` as ``images`` and projections ``[n_views, rows, cols]`` as ``sinograms``."""
    if getattr(geometry, "ndim", 2) == 3:
        if volume is None:
            raise ValueError("a cone-beam dataset needs its volume grid")
        return {"images": tuple(volume.shape), "sinograms": geometry.proj_shape, "sinograms_clean": geometry.proj_shape}
    shapes = {"images": geometry.image_shape, "sinograms": geometry.sino_shape, "sinograms_clean": geometry.sino_shape}
    if target_geometry is not None:
        shapes["target_sinograms"] = target_geometry.sino_shape
    return shapes


def fletcher32(data: bytes) -> bytes:
    """The 4 bytes HDF5's Fletcher-32 filter appends to a chunk of ``data`` (for chunks written directly,
    ``write_direct_chunk``, past the filter pipeline): the checksum of H5_checksum_fletcher32 — 16-bit
    big-endian words (an odd last byte as a high byte), ``sum1 = Σ wᵢ``, ``sum2 = Σ sum1ᵢ`` modulo 65535 with
    HDF5's representative (65535 for a non-zero multiple of 65535), ``(sum2 << 16) | sum1`` little-endian."""
    b = np.frombuffer(data, dtype=np.uint8)
    if b.size % 2:
        b = np.append(b, np.uint8(0))
    words = (b[0::2].astype(np.uint64) << np.uint64(8)) | b[1::2].astype(np.uint64)
    n = words.size
    exact = (int(words.sum()), int((words * np.arange(n, 0, -1, dtype=np.uint64)).sum()))
    sum1, sum2 = (65535 if s and s % 65535 == 0 else s % 65535 for s in exact)
    return ((sum2 << 16) | sum1).to_bytes(4, "little")
