"""FIPS / Helsinki Tomography Challenge 2022 ``.mat`` files: fan-beam scans and reference images."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ...geometry import FanBeam
from ..scan import Scan
from .h5trust import open_h5
from .common import (GeometryArg, PathLike, apply_overrides, checking, existing, fail, geometry_only, listing,
                     make_scan, reading, to_line_integrals)

__all__ = ["read_htc_mat", "read_htc_reference", "HTC_EFFECTIVE_PIXEL_SIZE", "HTC_IMAGE_SIZE"]


#: Isocentre pixel size (mm) of the HTC2022 data and of the organisers' 512² reference reconstructions.
HTC_EFFECTIVE_PIXEL_SIZE = 0.1483223173330444
#: Side (pixels) of the organisers' reconstruction grid, the default image size of :func:`read_htc_mat`.
HTC_IMAGE_SIZE = 512


def loadmat(path: Path) -> Optional[dict]:
    """The variables of a .mat file (structs as attribute objects, singleton dimensions squeezed), or None
    for a MATLAB v7.3 file (those are HDF5: read them with h5py)."""
    import scipy.io

    with reading(path, "MATLAB file"):
        try:
            contents = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
        except NotImplementedError:
            return None
    return {k: v for k, v in contents.items() if not k.startswith("__")}


def _loadmat_v7(path: Path) -> dict:
    contents = loadmat(path)
    if contents is None:
        raise fail(path, "is a MATLAB v7.3 (HDF5) file; the HTC2022 files are v7 .mat files")
    return contents


def mat_variables(path: Path) -> list[str]:
    """Names of the variables in a .mat file (v7.3 files: the HDF5 top-level names)."""
    import scipy.io

    with reading(path, "MATLAB file"):
        try:
            return [name for name, _, _ in scipy.io.whosmat(str(path))]
        except NotImplementedError:
            with open_h5(path) as f:
                return [k for k in f.keys() if not k.startswith("#")]


def _fields(obj: Any) -> list[str]:
    """Field names of a MATLAB struct loaded by scipy ([] for anything else)."""
    return list(getattr(obj, "_fieldnames", []) or [])


def field(path: Path, obj: Any, name: str, where: str) -> Any:
    """``obj.name`` of a MATLAB struct, or an error naming ``where`` and listing the fields it has."""
    if name not in _fields(obj):
        raise fail(path, f"{where} has no field {name!r}; it has {listing(_fields(obj))}")
    return getattr(obj, name)


def read_htc_mat(path: PathLike, geometry: GeometryArg = None, *, image_size: Optional[int] = None,
                 pixel_size: Optional[float] = None, center: Optional[float] = None,
                 det_spacing: Optional[float] = None) -> Scan:
    """Read a FIPS / Helsinki Tomography Challenge 2022 ``.mat`` file (fan beam, flat detector).

    Parameters
    ----------
    path : path to ``htc2022_*_full.mat`` / ``*_limited.mat`` holding a struct ``CtDataFull`` or
        ``CtDataLimited`` with ``sinogram`` ``[n_views, n_det]`` (line integrals, already flat/dark and
        centre corrected) and ``parameters`` (``angles`` in degrees, ``distanceSourceOrigin``,
        ``distanceSourceDetector``, ``numDetectorsPost``, ``pixelSizePost`` = detector pitch in mm,
        ``effectivePixelSizePost`` = pitch at the isocentre).
    geometry : optional Geometry / sidecar / table replacing the file's geometry.
    image_size, pixel_size : reconstruction grid; default 512 pixels of ``effectivePixelSizePost``
        (0.148322 mm, the organisers' grid).
    center, det_spacing : see the module docstring (normally not needed: the data are centred).

    Returns
    -------
    Scan
        ``sinogram`` float32 ``[n_views, n_det]`` (720 × 560 for the full files: a final view that repeats
        the first angle modulo 360° is dropped and noted in ``info["dropped_duplicate_view"]``),
        ``geometry`` :class:`recon.FanBeam` (``detector="flat"``, ASTRA ``fanflat`` conventions).
    """
    path = existing(path)
    contents = _loadmat_v7(path)
    names = [k for k in contents if k.startswith("CtData")]
    if not names:
        raise fail(path, f"no HTC2022 struct (CtDataFull or CtDataLimited); the file holds {listing(list(contents))}")
    name = "CtDataFull" if "CtDataFull" in names else ("CtDataLimited" if "CtDataLimited" in names else names[0])
    struct = contents[name]
    sino = np.asarray(field(path, struct, "sinogram", name))
    if sino.dtype.kind != "f":
        raise fail(path, f"{name}.sinogram holds {sino.dtype} values; HTC2022 sinograms are floating-point line "
                         "integrals")
    params = field(path, struct, "parameters", name)
    where = f"{name}.parameters"
    angles_deg = np.atleast_1d(np.asarray(field(path, params, "angles", where), dtype=np.float64))
    sod = field(path, params, "distanceSourceOrigin", where)
    sdd = field(path, params, "distanceSourceDetector", where)
    n_det = field(path, params, "numDetectorsPost", where)
    pitch = field(path, params, "pixelSizePost", where)
    eff = field(path, params, "effectivePixelSizePost", where)
    if sino.ndim != 2 or sino.shape != (angles_deg.size, int(n_det)):
        raise fail(path, f"{name}.sinogram has shape {sino.shape}, expected (views, detectors) = "
                         f"({angles_deg.size}, {int(n_det)}) from the parameters")
    info: dict[str, Any] = {"struct": name, "values": "log", "notes": [
        "already flat/dark corrected, centre corrected and log-transformed by the HTC2022 organisers"]}
    meta = {k: getattr(params, k) for k in ("projectName", "scanner", "date", "geometricMagnification")
            if k in _fields(params)}
    info["metadata"] = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in meta.items()}
    dropped = False
    if angles_deg.size > 1:
        gap = (angles_deg[-1] - angles_deg[0] + 180.0) % 360.0 - 180.0
        if abs(gap) < 1e-6:
            info["notes"].append(f"dropped the last view: its angle {angles_deg[-1]:g}° repeats the first "
                                 f"({angles_deg[0]:g}°) modulo 360°")
            angles_deg, sino, dropped = angles_deg[:-1], sino[:-1], True
    info["dropped_duplicate_view"] = dropped
    user_geometry = geometry_only(path, geometry)
    if user_geometry is None:
        with checking(path):
            user_geometry = FanBeam(np.deg2rad(angles_deg), n_det=int(n_det), det_spacing=float(pitch),
                                    image_size=HTC_IMAGE_SIZE if image_size is None else image_size,
                                    pixel_size=float(eff) if pixel_size is None else pixel_size,
                                    sod=float(sod), sdd=float(sdd), detector="flat")
        image_size = pixel_size = None  # already applied
    geometry_ = apply_overrides(path, user_geometry, center, det_spacing, image_size, pixel_size)
    sino = to_line_integrals(path, sino, "log", None, None, 1e-6, info)
    return make_scan(path, "htc2022-mat", sino, True, geometry_, info)


def read_htc_reference(path: PathLike, pixel_size: float = HTC_EFFECTIVE_PIXEL_SIZE) -> np.ndarray:
    """Read an HTC2022 reference image: ``*_recon_fbp.mat`` or ``*_recon_fbp_seg.mat``.

    Parameters
    ----------
    path : file holding ``reconFullFbp`` (the organisers' FBP in attenuation *per pixel*) or
        ``reconFullFbpSeg`` (segmentation, 0 = air, 1 = material); other ``recon*`` names (limited-angle
        files) are accepted alike.
    pixel_size : float
        Pixel size in mm the attenuation is divided by (default the HTC isocentre pixel 0.148322 mm).

    Returns
    -------
    numpy.ndarray ``[512, 512]``: float64 attenuation μ in 1/mm, or uint8 segmentation (unchanged).
    """
    path = existing(path)
    contents = _loadmat_v7(path)
    names = [k for k in contents if k.startswith("recon")]
    if len(names) != 1:
        raise fail(path, f"expected one HTC reference image (reconFullFbp or reconFullFbpSeg); the file holds "
                         f"{listing(list(contents))}")
    image = np.asarray(contents[names[0]])
    if image.ndim != 2 or not np.issubdtype(image.dtype, np.number):
        raise fail(path, f"{names[0]} is not a 2-D image (shape {image.shape}, dtype {image.dtype})")
    if names[0].endswith("Seg"):
        return image
    if not (isinstance(pixel_size, (int, float)) and math.isfinite(pixel_size) and pixel_size > 0):
        raise ValueError(f"pixel_size must be a positive number of mm, got {pixel_size!r}")
    if not np.all(np.isfinite(image)):
        raise fail(path, f"{names[0]} contains NaN/Inf")
    return image.astype(np.float64) / pixel_size
