"""A measured scan: sinogram of line integrals plus the geometry it was measured in.

:class:`Scan` is what every reader in :mod:`recon.io.readers` returns. Its methods derive new scans for
the usual experiments on real data — sparse views, short scans / limited angle, detector binning,
rotation-centre correction, one slice of a multi-slice scan — without modifying the original, and keep
the geometry exact (angles, detector offset) so that :func:`recon.fbp` and the operators can be applied
directly: ``recon.fbp(scan.sinogram, scan.geometry)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional, Sequence, Union

import numpy as np

from .._checks import integer, real
from ..geometry import Geometry, arc_views, check_geometry, evenly_spaced_views

__all__ = ["Scan", "ScanFormatError", "measured_values"]


class ScanFormatError(ValueError):
    """A scan file cannot be read as asked: missing file or variable, wrong layout, corrupt content,
    non-finite values. The message is one line and starts with the file path."""


def measured_values(values: np.ndarray, name: str, verb: str) -> np.ndarray:
    """``values`` (line integrals of a scan) as a C-contiguous float32 array; ``TypeError`` for values that are no
    real numbers, ``ValueError`` counting NaN/Inf (``"<name> <verb> N NaN/Inf values"``)."""
    if not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        raise TypeError(f"{name} must hold real numbers, got dtype {values.dtype}")
    values = np.ascontiguousarray(values, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} {verb} {int(np.count_nonzero(~np.isfinite(values)))} NaN/Inf values")
    return values


@dataclass(frozen=True, eq=False)  # arrays make field-wise == ambiguous; compare .sinogram/.geometry
class Scan:
    """Sinogram of line integrals with its geometry.

    Attributes
    ----------
    sinogram : numpy.ndarray, float32, ``[n_views, n_det]`` or ``[n_slices, n_views, n_det]``
        Line integrals ∫μ dl (dimensionless), i.e. ``-log`` of the flat/dark-normalised intensity.
    geometry : recon.Geometry
        Geometry of one slice; ``geometry.sino_shape == sinogram.shape[-2:]``.
    path : str
        File the scan was read from ("" when built in memory).
    format : str
        Layout it was read as, e.g. ``"htc2022-mat"``, ``"dxchange-hdf5"``, ``"nxtomo-hdf5"``, ``"tiff"``,
        ``"array+sidecar"``.
    info : dict
        What the reader found: ``values`` ("log" or "raw"), ``n_clipped`` (pixels clipped by the log
        transform), ``raw_range`` (of the stored values), ``rows``, ``n_flats``/``n_darks``, ``pixel_units``,
        ``notes`` ... and ``history`` (the derivations applied by the methods below). The rotation centre is
        the property :attr:`rotation_center` (always in step with the geometry).
    """

    sinogram: np.ndarray
    geometry: Geometry
    path: str = ""
    format: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_geometry(self.geometry)
        sino = np.asarray(self.sinogram)
        if sino.ndim not in (2, 3):
            raise ValueError(f"sinogram must be [n_views, n_det] or [n_slices, n_views, n_det], got shape {sino.shape}")
        if sino.shape[-2:] != self.geometry.sino_shape:
            raise ValueError(f"sinogram shape {sino.shape} does not match the geometry: its last two dimensions "
                             f"must be (n_views, n_det) = {self.geometry.sino_shape}")
        object.__setattr__(self, "sinogram", measured_values(sino, "sinogram", "has"))
        object.__setattr__(self, "info", dict(self.info))

    # ---- derived quantities ---------------------------------------------------------------------------
    @property
    def n_views(self) -> int:
        """Number of views."""
        return self.geometry.n_views

    @property
    def n_det(self) -> int:
        """Number of detector elements."""
        return self.geometry.n_det

    @property
    def n_slices(self) -> int:
        """Number of slices (detector rows): 1 for a 2-D sinogram."""
        return 1 if self.sinogram.ndim == 2 else int(self.sinogram.shape[0])

    @property
    def rotation_center(self) -> float:
        """Detector column (fractional index) that sees the rotation axis: ``(n_det-1)/2 - det_offset/det_spacing``."""
        g = self.geometry
        return (g.n_det - 1) / 2.0 - g.det_offset / g.det_spacing

    def __repr__(self) -> str:
        return (f"Scan({self.format or 'array'}, sinogram {tuple(self.sinogram.shape)}, {self.geometry!r}"
                f"{', path=' + repr(self.path) if self.path else ''})")

    # ---- derivations ----------------------------------------------------------------------------------
    def _derive(self, sinogram: np.ndarray, geometry: Geometry, step: str, **info: Any) -> "Scan":
        new_info = dict(self.info)
        new_info.update(info)
        new_info["history"] = list(self.info.get("history", [])) + [step]
        return replace(self, sinogram=sinogram, geometry=geometry, info=new_info)

    def _take_views(self, indices: np.ndarray, step: str) -> "Scan":
        geometry = self.geometry.replace(angles=self.geometry.angles[indices])
        return self._derive(np.take(self.sinogram, indices, axis=-2), geometry, step)

    def select_views(self, step: Optional[int] = None, count: Optional[int] = None,
                     indices: Union[Sequence[int], np.ndarray, None] = None) -> "Scan":
        """A scan with a subset of the views (sparse-view experiments).

        Give exactly one of

        step : int ≥ 1
            Keep every ``step``-th view, starting with the first.
        count : int, 1 … n_views
            Keep ``count`` views evenly spaced over the index range (``round(k · n_views / count)``): 60 of
            720 views keeps every 12th.
        indices : sequence of int, or boolean mask ``[n_views]``
            Keep these views, in this order (negative indices count from the end; no duplicates).
        """
        given = [name for name, v in (("step", step), ("count", count), ("indices", indices)) if v is not None]
        if len(given) != 1:
            raise ValueError(f"select_views needs exactly one of step, count, indices; got {given or 'none'}")
        n = self.n_views
        if step is not None:
            step = integer("step", step, 1, n)
            return self._take_views(np.arange(0, n, step), f"select_views(step={step})")
        if count is not None:
            count = integer("count (--views on the command line)", count, 1, n)
            idx = evenly_spaced_views(n, count)
            return self._take_views(idx, f"select_views(count={count})")
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise ValueError(f"a boolean view mask must have shape ({n},), got {idx.shape}")
            idx = np.flatnonzero(idx)
        elif idx.ndim != 1 or not (np.issubdtype(idx.dtype, np.integer) or idx.size == 0):
            raise ValueError(f"indices must be a 1-D sequence of integers or a boolean mask, got {idx.dtype} "
                             f"of shape {idx.shape}")
        if idx.size == 0:
            raise ValueError("indices select no views")
        if idx.min() < -n or idx.max() >= n:
            raise ValueError(f"view indices must lie in [-{n}, {n - 1}], got {idx.min()} … {idx.max()}")
        idx = np.mod(idx, n).astype(np.int64)
        if np.unique(idx).size != idx.size:
            raise ValueError("indices contain duplicate views")
        return self._take_views(idx, f"select_views(indices=<{idx.size} views>)")

    def select_angles(self, start: float, stop: float) -> "Scan":
        """A scan with the views whose angle lies on the arc from ``start`` to ``stop`` (radians, both
        included), for short-scan and limited-angle experiments.

        Angles are compared modulo 2π. The arc runs counter-clockwise from ``start``; when ``stop < start``
        it wraps through 0 (``select_angles(radians(350), radians(10))`` is a 20° arc), and an arc of 2π or
        more keeps every view as it is. The views of a shorter arc come in their order along it, their angles
        continued by whole turns so that they increase from the start (350°, …, 359.5°, 360°, …, 370°), as
        arc weights, view completion and arc models need.
        """
        start = real("start", start)
        stop = real("stop", stop)
        step = f"select_angles({start:.6g}, {stop:.6g})"
        try:
            keep, angles = arc_views(self.geometry.angles, start, stop)
        except ValueError as err:
            raise ValueError(f"{err} (views span {self.geometry._angles_repr()})") from None
        return self._derive(np.take(self.sinogram, keep, axis=-2), self.geometry.replace(angles=angles), step)

    def bin_detector(self, factor: int) -> "Scan":
        """A scan with ``factor`` neighbouring detector elements averaged into one.

        ``det_spacing`` grows by ``factor``. When ``n_det`` is not a multiple of ``factor`` the last
        ``n_det % factor`` elements are dropped and ``det_offset`` shifts by ``-remainder · det_spacing / 2``,
        so every binned element sits exactly at the centre of the elements it averages.
        """
        n = self.n_det
        factor = integer("factor", factor, 1, n)
        n_new, rest = divmod(n, factor)
        sino = self.sinogram[..., : n_new * factor]
        sino = sino.reshape(sino.shape[:-1] + (n_new, factor)).mean(axis=-1, dtype=np.float64)
        g = self.geometry
        geometry = g.replace(n_det=n_new, det_spacing=g.det_spacing * factor,
                             det_offset=g.det_offset - rest * g.det_spacing / 2.0)
        extra = {"dropped_detector_elements": int(rest)} if rest else {}
        return self._derive(sino.astype(np.float32), geometry, f"bin_detector({factor})", **extra)

    def resample_detector(self, det_offset: float) -> "Scan":
        """The same rays sampled on a detector whose offset is ``det_offset`` (mm; the elements, their pitch and
        everything else unchanged): each view's line integrals interpolated along the detector (cubic spline;
        beyond the measured elements the edge value). For a flat or arc detector this moves the samples, not the
        rays, so a model or filter made for ``det_offset`` takes the scan. A shift of more than a tenth of the
        detector is refused (the data would lose too much of their width)."""
        from scipy.ndimage import shift

        det_offset = real("det_offset", det_offset)
        g = self.geometry
        elements = (g.det_offset - det_offset) / g.det_spacing  # the new element k is the old k − elements
        if abs(elements) > 0.1 * g.n_det:
            raise ValueError(f"resampling the detector by {elements:+.1f} elements (det_offset {g.det_offset:g} → "
                             f"{det_offset:g} mm) would lose more than a tenth of its {g.n_det} elements")
        moved = shift(self.sinogram.astype(np.float64), (0,) * (self.sinogram.ndim - 1) + (elements,), order=3,
                      mode="nearest")
        return self._derive(moved.astype(np.float32), g.replace(det_offset=det_offset),
                            f"resample_detector({det_offset:.6g})")

    def shift_center(self, offset_mm: float) -> "Scan":
        """A scan whose detector is shifted by ``offset_mm`` along its axis: ``det_offset += offset_mm``.

        Equivalently the rotation axis moves by ``-offset_mm / det_spacing`` detector columns
        (see :attr:`rotation_center`). The sinogram values are unchanged.
        """
        offset_mm = real("offset_mm", offset_mm)
        g = self.geometry
        geometry = g.replace(det_offset=g.det_offset + offset_mm)
        return self._derive(self.sinogram, geometry, f"shift_center({offset_mm:.6g})")

    def slice(self, i: int) -> "Scan":
        """The 2-D scan of slice ``i`` (negative counts from the end) of a multi-slice scan."""
        if self.sinogram.ndim != 3:
            raise ValueError("slice() needs a multi-slice scan [n_slices, n_views, n_det]; this one is 2-D")
        n = self.n_slices
        i = integer("slice index", i, -n, n - 1)
        i = i % n
        extra: dict[str, Any] = {}
        rows = self.info.get("rows")
        if isinstance(rows, (list, tuple)) and len(rows) == n:
            extra = {"rows": [rows[i]], "row": rows[i]}
        return self._derive(self.sinogram[i].copy(), self.geometry, f"slice({i})", **extra)


