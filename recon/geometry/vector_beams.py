"""Scans given view by view: :class:`ParallelBeamVec` and :class:`FanBeamVec` (ASTRA's ``parallel_vec`` and
``fanflat_vec``, plus an arc detector) for calibrated, wobbling or otherwise irregular trajectories."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import integer, real
from .beams import FanBeam, Geometry, ParallelBeam
from .grid import LENGTHS, source_clearance
from .vectors import ViewVectors

__all__ = ["ParallelBeamVec", "FanBeamVec", "as_vectors", "as_circular"]

# what a circular geometry has and a vector geometry does not (each view has its own)
_CIRCULAR_ONLY = ("angles", "det_spacing", "det_offset", "sod", "sdd", "det_coords", "fan_angles", "magnification")


def _vector_rows(value: Any) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"vectors must be an array [n_views, 6] of mm, got {type(value).__name__}") from None
    if arr.ndim != 2 or arr.shape[1] != 6 or arr.shape[0] == 0:
        raise ValueError(f"vectors must have shape [n_views, 6] (source or ray x, y; detector centre x, y; "
                         f"u x, y in mm), got {arr.shape}")
    arr.flags.writeable = False
    return arr


class _VectorGeometry(Geometry):
    """Common part of the per-view geometries: the rows, the detector and the image grid."""

    vectors: np.ndarray

    def _init_vectors(self, vectors, n_det, image_size, pixel_size, model: str) -> None:
        rows = _vector_rows(vectors)
        n_det = integer("n_det", n_det, low=1, integral_float=True)
        object.__setattr__(self, "n_det", n_det)
        object.__setattr__(self, "image_size", integer("image_size", image_size, low=1, integral_float=True))
        object.__setattr__(self, "pixel_size", real("pixel_size", pixel_size, *LENGTHS, unit="mm"))
        view_vectors = ViewVectors(rows[:, 0:2], rows[:, 2:4], rows[:, 4:6], model, n_det)
        pitch = view_vectors.pitch
        if pitch.min() < LENGTHS[0] or pitch.max() > LENGTHS[1] or np.abs(rows).max() > LENGTHS[1]:
            raise ValueError(f"vectors: detector pitches must lie in [{LENGTHS[0]:g}, {LENGTHS[1]:g}] mm and "
                             f"positions within {LENGTHS[1]:g} mm (got pitches {pitch.min():g} … {pitch.max():g})")
        object.__setattr__(self, "vectors", rows)
        object.__setattr__(self, "_view_vectors", view_vectors)

    def __getattr__(self, name: str) -> Any:
        if name in _CIRCULAR_ONLY:
            raise AttributeError(f"{type(self).__name__} has no single {name}: each view has its own vectors "
                                 "(methods that need a circular scan, such as FBP, do not apply)")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def n_views(self) -> int:
        return int(self.vectors.shape[0])

    def view_vectors(self) -> ViewVectors:
        return self._view_vectors

    def _params(self) -> dict[str, Any]:
        return {"vectors": self.vectors, "n_det": self.n_det, "image_size": self.image_size,
                "pixel_size": self.pixel_size}

    def __repr__(self) -> str:
        pitch = self._view_vectors.pitch
        return (f"{type(self).__name__}({self.n_views} views as vectors; detector {self.n_det} × "
                f"{pitch.mean():.4g} mm{'' if np.ptp(pitch) <= 1e-9 * pitch.max() else ' (mean)'}"
                f"{'' if self.model in ('parallel', 'flat') else ', arc'}; image {self.image_size}² × "
                f"{self.pixel_size:g} mm)")


class ParallelBeamVec(_VectorGeometry):
    """2-D parallel beam given view by view (ASTRA's ``parallel_vec``).

    Parameters
    ----------
    vectors : array_like, ``[n_views, 6]``
        Per view: the ray direction (x, y; any length, from source side to detector side), the detector centre
        (x, y, mm) and the step ``u`` from one detector element to the next (x, y, mm).
    n_det : int
        Number of detector elements.
    image_size, pixel_size
        The default image grid (as for :class:`~recon.ParallelBeam`).

    Notes
    -----
    ``A``, its exact adjoint and the pixel-driven ``B_w`` (with its adjoint) work on any such scan; FBP needs a
    circular one. :func:`as_vectors` gives the vectors of a circular scan, with bit-for-bit the same
    operators.

    Examples
    --------
    >>> import numpy as np, recon
    >>> g = recon.ParallelBeam(np.linspace(0, np.pi, 4, endpoint=False), 8, 1.0, 8, 1.0)
    >>> v = recon.ParallelBeamVec(g.view_vectors().as_array(), 8, 8, 1.0)
    >>> v
    ParallelBeamVec(4 views as vectors; detector 8 × 1 mm; image 8² × 1 mm)
    >>> x = np.ones(g.image_shape)
    >>> bool((recon.project(x, v) == recon.project(x, g)).all())
    True
    """

    kind = "parallel_vec"
    model = "parallel"

    def __init__(self, vectors, n_det: int, image_size: int, pixel_size: float) -> None:
        self._init_vectors(vectors, n_det, image_size, pixel_size, "parallel")


class FanBeamVec(_VectorGeometry):
    """2-D fan beam given view by view (ASTRA's ``fanflat_vec``, or an arc detector).

    Parameters
    ----------
    vectors : array_like, ``[n_views, 6]``
        Per view: the source position, the detector centre and the step ``u`` from one detector element to the
        next (x, y each, mm). For ``detector="arc"`` the elements lie on the circle about the source through the
        detector centre, ``u`` is its tangent there and ``|u|`` the arc length between elements.
    n_det : int
        Number of detector elements.
    image_size, pixel_size
        The default image grid; it must lie on the detector side of every source.
    detector : {"flat", "arc"}

    Examples
    --------
    A wobbling source (±2 mm along the detector), 36 views:

    >>> import numpy as np, recon
    >>> g = recon.FanBeam(np.linspace(0, 2 * np.pi, 36, endpoint=False), 64, 1.0, 32, 1.0, sod=100, sdd=200)
    >>> rows = g.view_vectors().as_array()
    >>> rows[:, 0:2] += 2.0 * np.sin(np.arange(36))[:, None] * rows[:, 4:6]
    >>> recon.FanBeamVec(rows, 64, 32, 1.0)
    FanBeamVec(36 views as vectors; detector 64 × 1 mm; image 32² × 1 mm)
    """

    kind = "fan_vec"

    def __init__(self, vectors, n_det: int, image_size: int, pixel_size: float, detector: str = "flat") -> None:
        if detector not in ("flat", "arc"):
            raise ValueError(f"detector must be 'flat' or 'arc', got {detector!r}")
        object.__setattr__(self, "model", detector)
        self._init_vectors(vectors, n_det, image_size, pixel_size, detector)
        self._check_image_before_sources()

    def _check_image_before_sources(self) -> None:
        clearance = source_clearance(self.grid, self._view_vectors.detector_map())
        if clearance.min() <= 0:
            v = int(np.argmin(clearance))
            raise ValueError(f"the image ({self.image_size} px × {self.pixel_size:g} mm) must lie on the detector "
                             f"side of every source; view {v}'s source at {self.vectors[v, :2].tolist()} mm is "
                             "inside it")

    @property
    def detector(self) -> str:
        """``"flat"`` or ``"arc"``."""
        return self.model

    def _params(self) -> dict[str, Any]:
        p = super()._params()
        p.update(detector=self.model)
        return p


def as_vectors(geometry: Geometry) -> Geometry:
    """The same scan as a :class:`ParallelBeamVec` or :class:`FanBeamVec` (same rays, same default image grid),
    e.g. to perturb it view by view; the operators of the two agree bit for bit."""
    v = geometry.view_vectors()
    if v.model == "parallel":
        return ParallelBeamVec(v.as_array(), geometry.n_det, geometry.image_size, geometry.pixel_size)
    return FanBeamVec(v.as_array(), geometry.n_det, geometry.image_size, geometry.pixel_size, detector=v.model)


def _turns(angles: np.ndarray) -> np.ndarray:
    """View angles unwrapped into one increasing or decreasing run, the first in [0, 2π)."""
    theta = np.unwrap(angles)
    return theta - 2 * np.pi * np.floor(theta[0] / (2 * np.pi))


def _circular_fit(geometry: "_VectorGeometry") -> Geometry:
    """The circular geometry whose parameters best match the vectors (not yet checked against them)."""
    v = geometry.view_vectors()
    grid = {"n_det": geometry.n_det, "image_size": geometry.image_size, "pixel_size": geometry.pixel_size}
    if v.model == "parallel":
        ray = v.source / np.hypot(*v.source.T)[:, None]
        theta = _turns(np.arctan2(ray[:, 0], -ray[:, 1]))
    else:
        theta = _turns(np.arctan2(v.source[:, 0], -v.source[:, 1]))
    axis = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    central = np.stack([-axis[:, 1], axis[:, 0]], axis=1)
    pitch = float(v.pitch.mean())
    if v.model == "parallel":
        return ParallelBeam(theta, det_spacing=pitch, det_offset=float((v.detector * axis).sum(1).mean()), **grid)
    sod = float(np.hypot(*v.source.T).mean())
    to_det = v.detector - v.source
    if v.model == "flat":
        sdd = float((to_det * central).sum(1).mean())
        offset = float((v.detector * axis).sum(1).mean())
    else:
        sdd = float(np.hypot(*to_det.T).mean())
        offset = sdd * float(np.arctan2((to_det * axis).sum(1), (to_det * central).sum(1)).mean())
    return FanBeam(theta, det_spacing=pitch, sod=sod, sdd=sdd, detector=v.model, det_offset=offset, **grid)


def as_circular(geometry: Geometry, purpose: str = "this method", tol: float = 1e-7) -> Geometry:
    """``geometry`` as a :class:`~recon.ParallelBeam` or :class:`~recon.FanBeam`: itself if it is one, the circular
    scan a :class:`ParallelBeamVec`/:class:`FanBeamVec` describes if its vectors are one (every row within ``tol``
    relative to the largest coordinate), else ``ValueError`` saying that ``purpose`` needs a circular scan and
    which view departs from the best circle."""
    if not isinstance(geometry, _VectorGeometry):
        return geometry
    try:
        circle = _circular_fit(geometry)
    except ValueError as err:
        circle, reason = None, str(err)
    if circle is not None:
        given, fitted = geometry.vectors, circle.view_vectors().as_array()
        off = np.abs(given - fitted).max(axis=1)
        scale = max(float(np.abs(given).max()), 1e-300)
        if off.max() <= tol * scale:
            return circle
        view = int(np.argmax(off))
        reason = (f"view {view} departs from the best circular orbit by {off[view]:.3g} mm (its row "
                  f"{np.round(given[view], 6).tolist()}, the circle's {np.round(fitted[view], 6).tolist()})")
    raise ValueError(f"{purpose} needs a circular scan (recon.ParallelBeam or recon.FanBeam); this "
                     f"{type(geometry).__name__} is not one: {reason}. Reconstruct it with recon.sirt, recon.cgls "
                     "or recon.tv_reconstruct, which take any geometry")
