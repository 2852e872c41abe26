"""The file layout of a simulated dataset, shared by the writer (:mod:`.simulate`) and the reader
(:mod:`.dataset`), so that neither imports the other.

HDF5, ``format = "recon-simulated-v1"``: float32 datasets with one sample per chunk, gzip-compressed —
``images`` ``[n, N, N]`` (μ in 1/mm), ``sinograms`` ``[n, n_views, n_det]`` (noisy line integrals),
``sinograms_clean`` (exact line integrals) and, with a target geometry, ``target_sinograms`` ``[n, V_t, D_t]``
(clean) — and the root attributes of :data:`ATTRIBUTES` (plus ``target_geometry``, JSON, when there is one).
"""

from __future__ import annotations

from ..geometry import Geometry

__all__ = ["FORMAT", "ATTRIBUTES", "dataset_shapes"]

FORMAT = "recon-simulated-v1"
ATTRIBUTES = ("format", "recon_version", "geometry", "config", "seed", "n_samples")


def dataset_shapes(geometry: Geometry, target_geometry: Geometry | None = None) -> dict[str, tuple[int, ...]]:
    """Per-sample shape of every dataset of a file simulated in ``geometry`` (→ ``target_geometry``)."""
    shapes = {"images": geometry.image_shape, "sinograms": geometry.sino_shape, "sinograms_clean": geometry.sino_shape}
    if target_geometry is not None:
        shapes["target_sinograms"] = target_geometry.sino_shape
    return shapes
