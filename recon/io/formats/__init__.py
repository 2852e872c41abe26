"""Format-specific scan readers (see :mod:`recon.io.readers` for the entry point :func:`~recon.io.read_scan`).

* :mod:`.htc` — FIPS/HTC2022 ``.mat`` files (fan beam) and their reference images;
* :mod:`.hdf5` — APS Data Exchange and NeXus NXtomo raw counts (parallel beam);
* :mod:`.arrays` — plain arrays and TIFF stacks described by a TOML sidecar;
* :mod:`.nikon` — Nikon XT cone-beam scans (``.xtekct`` + TIFF projections);
* :mod:`.common` — what they share: errors, sidecars, geometry options, raw counts → line integrals.
"""

from .plain import read_array, read_tiff
from .hdf5 import read_dxchange, read_nxtomo
from .htc import HTC_EFFECTIVE_PIXEL_SIZE, HTC_IMAGE_SIZE, read_htc_mat, read_htc_reference
from .nikon import read_nikon

__all__ = ["read_htc_mat", "read_htc_reference", "read_dxchange", "read_nxtomo", "read_array", "read_tiff",
           "read_nikon", "HTC_EFFECTIVE_PIXEL_SIZE", "HTC_IMAGE_SIZE"]
