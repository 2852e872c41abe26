"""A trained model applied to a measured scan: the scan cut to the model's views, an arc model moved to the
scan's arc, and the output on the model's grid."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .._logging import logger
from ..analytic.weights import arc_positions, scan_coverage
from ..geometry import Geometry, geometry_differences, view_indices
from ..io.scan import Scan
from .base import KnownOperatorModel
from .conversion import GeometryConversion

__all__ = ["match_model_views", "apply_model"]


def match_model_views(scan: Scan, model: KnownOperatorModel) -> tuple[Scan, KnownOperatorModel]:
    """The scan cut to the views the model was trained for (if it has more), and the model to apply: a
    model trained on a limited-angle or short-scan arc is moved to the scan's arc when that is the same arc
    rotated (same length and view spacing, another start; :meth:`recon.models.LearnedFBP.for_geometry`), a model
    of several arc lengths (:class:`recon.models.UnrolledNetwork` with ``arcs``) to any arc it reconstructs.
    A scan whose rotation centre (detector offset) differs from the model's — calibrated, estimated with
    ``--center auto``, or another scan of the scanner — is resampled onto the model's detector first
    (:meth:`recon.io.Scan.resample_detector`, logged). Raises ``ValueError`` saying what differs."""
    scan = _onto_model_detector(scan, model)
    diffs = geometry_differences(model.geometry, scan.geometry, ignore=("angles", "image_size", "pixel_size"))
    if getattr(model, "arcs", None) is not None and not diffs:  # a model of every arc in a range of lengths
        if scan_coverage(scan.geometry).kind != "full":
            scan = scan.select_views(indices=np.argsort(arc_positions(scan.geometry, scan_coverage(scan.geometry)),
                                                        kind="stable"))
        return scan, model.for_geometry(scan.geometry)
    if diffs:
        raise ValueError(f"the scan does not match the model's geometry ({type(model).__name__} expects "
                         f"{model.geometry!r}): " + "; ".join(diffs))
    if scan.n_views != model.geometry.n_views:
        try:
            idx = view_indices(scan.geometry, model.geometry)
        except ValueError as err:
            hint = (" (for an arc model, cut the scan's arc first, e.g. Scan.select_angles)"
                    if scan_coverage(model.geometry).kind != "full" else "")
            raise ValueError(f"the scan's views do not include the model's: {err}{hint}") from None
        warnings.warn(f"the model was trained for {model.geometry.n_views} views: {scan.n_views - len(idx)} of the "
                      f"scan's {scan.n_views} views are not used (their information is lost; FBP of all views may "
                      "be better)", stacklevel=2)
        scan = scan.select_views(indices=idx)
    elif scan_coverage(model.geometry).kind != "full" and geometry_differences(model.geometry, scan.geometry):
        coverage = scan_coverage(scan.geometry)  # the scan's views in order along its arc, then the model moved
        scan = scan.select_views(indices=np.argsort(arc_positions(scan.geometry, coverage), kind="stable"))
        try:
            model = model.for_geometry(scan.geometry)
        except ValueError as err:
            raise ValueError(f"the scan's arc is not the model's arc at another start: {err}") from None
    model.check_geometry(scan.geometry, what="scan")
    return scan, model


def _onto_model_detector(scan: Scan, model: KnownOperatorModel) -> Scan:
    """``scan`` resampled onto the model's detector offset where that is all that differs, else unchanged."""
    same = ("angles", "image_size", "pixel_size")
    if (geometry_differences(model.geometry, scan.geometry, ignore=same + ("det_offset",))
            or not geometry_differences(model.geometry, scan.geometry, ignore=same)):
        return scan
    before, after = scan.geometry.det_offset, model.geometry.det_offset
    logger.info(f"the scan's rotation centre differs from the model's: its detector resampled from det_offset "
                f"{before:.4g} to the model's {after:.4g} ({(before - after) / scan.geometry.det_spacing:+.2f} "
                "elements)")
    return scan.resample_detector(after)


def apply_model(scan: Scan, model: KnownOperatorModel, device: str = "cpu") -> tuple[np.ndarray, Geometry]:
    """The model's output for ``scan`` (cut to its views, see :func:`match_model_views`) as float64 numpy,
    and its geometry: the image ``[N, N]`` on the model's grid, or — for a conversion network — the converted
    sinogram, in the target geometry on the scan's image grid."""
    scan, model = match_model_views(scan, model)
    model = model.to(device).eval()
    sino = torch.from_numpy(scan.sinogram).to(device=device, dtype=model.dtype)
    with torch.no_grad():
        out = model(sino).cpu().double().numpy()
    if model.output_kind == "image":
        return out, model.geometry
    assert isinstance(model, GeometryConversion)
    return out, model.output_geometry.replace(image_size=scan.geometry.image_size,
                                              pixel_size=scan.geometry.pixel_size)
