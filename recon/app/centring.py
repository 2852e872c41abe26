"""The rotation centre in the file workflows: check it on every scan, and set it when asked.

``reconstruct``, ``compare`` and ``info`` estimate the centre from the data (:mod:`recon.analytic.centre`) and
warn when the file's geometry puts it more than half a detector element away (the reconstruction would show
doubled edges); ``--center auto`` applies the estimate, ``--center COLUMN`` and ``--det-offset MM`` set it, and
``--center keep`` keeps the file's without checking. A centre that was changed is never applied silently: the
line printed and the outputs' metadata name it.
"""

from __future__ import annotations

import warnings
from typing import Optional, Union

from ..analytic.centre import CentreEstimate, estimate_centre
from ..io.plausibility import ScanWarning
from ..io.cone_scan import ConeScan
from ..io.scan import Scan

__all__ = ["CentreChoice", "estimate_for_check", "centre_mismatch", "check_centre", "apply_centre", "centre_choice",
           "length_unit", "apply_cone_centre"]

#: None (check and warn), "auto", "keep", or a detector column.
CentreChoice = Union[None, str, float]


def length_unit(scan: Scan) -> str:
    """"px" for a scan whose geometry is in detector pixels (no physical size recorded), else "mm"."""
    return "px" if scan.info.get("pixel_units") else "mm"


def centre_choice(text: str) -> Union[str, float]:
    """The ``--center`` argument: ``auto``, ``keep`` or a detector column (0-based, fractional)."""
    if text in ("auto", "keep"):
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--center must be auto, keep or a detector column such as 295.5, got {text!r}") from None


def estimate_for_check(scan: Scan) -> CentreEstimate:
    """The estimate a check needs (to 0.05 element: enough to tell half an element, and quicker);
    ``ValueError`` where the scan cannot tell its centre."""
    return estimate_centre(scan.sinogram, scan.geometry, tolerance=0.05)


def centre_mismatch(scan: Scan, est: CentreEstimate) -> Optional[str]:
    """What to tell the user when the data put the centre elsewhere than ``scan``'s geometry, or ``None``."""
    if not est.differs_from(scan.geometry):
        return None
    apart = abs(est.column - scan.rotation_center)
    return (f"the data put the rotation centre at detector column {est.column:.2f}, the geometry at "
            f"{scan.rotation_center:.2f} ({apart:.1f} elements apart): the reconstruction will show doubled edges; "
            f"use --center auto (or --center {est.column:.2f}), or correct the geometry")


def check_centre(scan: Scan, name: str) -> Optional[CentreEstimate]:
    """Estimate ``scan``'s centre and warn (:class:`ScanWarning`) when its geometry differs from it by more than
    half a detector element; ``None`` (and no warning) where the scan cannot tell (limited angle, flat data)."""
    try:
        est = estimate_for_check(scan)
    except ValueError:
        return None
    mismatch = centre_mismatch(scan, est)
    if mismatch:
        warnings.warn(ScanWarning(f"{name}: {mismatch}"))
    return est


def apply_centre(scan: Scan, name: str, centre: CentreChoice = None,
                 det_offset: Optional[float] = None) -> tuple[Scan, str]:
    """``scan`` with the centre asked for, and a note naming it for the outputs ("" when the file's is kept).

    ``det_offset`` (mm) sets the geometry's offset; ``centre`` is None (keep the file's, warn if the data
    disagree), "keep" (keep it unchecked), "auto" (the estimate) or a detector column."""
    if det_offset is not None and centre is not None:
        raise ValueError("give --center or --det-offset, not both")
    g = scan.geometry
    if det_offset is not None:
        return scan.shift_center(det_offset - g.det_offset), f"det_offset {det_offset:g} {length_unit(scan)} (given)"
    if centre is None:
        check_centre(scan, name)
        return scan, ""
    if centre == "keep":
        return scan, ""
    if centre == "auto":
        try:
            est = estimate_centre(scan.sinogram, scan.geometry)
        except ValueError as err:
            raise ValueError(f"{name}: --center auto: {err}") from None
        note = (f"rotation centre at column {est.column:.2f} (estimated, {est.method}; the file had "
                f"{scan.rotation_center:.2f})")
        return scan.shift_center(est.det_offset - g.det_offset), note
    column = float(centre)
    if not -g.n_det <= column <= 2 * g.n_det:
        raise ValueError(f"--center {column:g} lies far outside the detector's {g.n_det} columns")
    offset = ((g.n_det - 1) / 2.0 - column) * g.det_spacing
    return scan.shift_center(offset - g.det_offset), f"rotation centre at column {column:g} (given)"


def apply_cone_centre(scan: ConeScan, name: str, centre: CentreChoice = None,
                      det_offset: Optional[float] = None) -> tuple[ConeScan, str]:
    """:func:`apply_centre` for a circular cone-beam scan: the same choices, estimated and checked on the rows
    through the source plane (:meth:`recon.io.ConeScan.central_scan`), applied to the detector's column offset."""
    if centre == "keep" or (centre is None and det_offset is None and scan.geometry.kind != "cone"):
        return scan, ""  # (a scan given by vectors: nothing to check the centre against)
    fan = scan.central_scan()
    moved, note = apply_centre(fan, name, centre, det_offset)
    if moved.geometry.det_offset == fan.geometry.det_offset:
        return scan, note
    return scan.with_column_offset(moved.geometry.det_offset), note
