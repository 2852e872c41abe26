"""Scan geometries: plain data describing where the rays of a 2D CT scan go.

Conventions (shared with ASTRA, so that HTC2022 data and ASTRA results compare without flips):

* Lengths in mm, angles in radians.
* Image: array ``[row, col]`` of ``image_size`` x ``image_size`` pixels of ``pixel_size`` mm, centred on
  the rotation axis. Pixel centre: ``x = (col - (N-1)/2) * pixel_size``, ``y = ((N-1)/2 - row) * pixel_size``
  (row 0 is the +y edge).
* Detector: ``n_det`` elements; element ``j`` sits at ``u_j = (j - (n_det-1)/2) * det_spacing + det_offset``
  along the detector axis ``(cos θ, sin θ)``.
* Parallel beam: ray direction ``(sin θ, -cos θ)``; point ``(x, y)`` falls on ``u = x cos θ + y sin θ``.
* Fan beam: source at ``sod * (sin θ, -cos θ)``, detector centre at ``(sdd - sod) * (-sin θ, cos θ)``.
  Flat detector: ``u_j`` is a position in mm on the detector line (at distance ``sdd`` from the source).
  Arc (equiangular) detector: ``u_j`` is an arc length at radius ``sdd``, i.e. fan angle ``γ_j = u_j / sdd``.
* Sinograms: ``[..., n_views, n_det]``; images ``[..., N, N]``.

Geometries are immutable, validate their arguments, print readably and round-trip through
``to_dict``/``from_dict`` (and JSON), so that datasets and trained models can record the geometry they
were made for.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ._checks import integer, real

__all__ = ["Geometry", "ParallelBeam", "FanBeam", "check_geometry", "geometry_from_dict", "geometry_from_json",
           "geometry_differences", "view_indices", "evenly_spaced_views"]


def _angles(value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"angles must be a 1-D array of radians, got {type(value).__name__}") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"angles must be a 1-D array of radians, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("angles must contain at least one view")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"angles must be finite; angles[{bad}] = {arr[bad]}")
    arr = arr.copy()
    arr.flags.writeable = False
    return arr


class Geometry:
    """Common base of the scan geometries (not instantiated directly)."""

    kind: str = ""

    angles: np.ndarray
    n_det: int
    det_spacing: float
    image_size: int
    pixel_size: float
    det_offset: float

    def _init_common(self, angles, n_det, det_spacing, image_size, pixel_size, det_offset) -> None:
        object.__setattr__(self, "angles", _angles(angles))
        object.__setattr__(self, "n_det", integer("n_det", n_det, low=1, integral_float=True))
        object.__setattr__(self, "det_spacing", real("det_spacing", det_spacing, low=0, strict=True, unit="mm"))
        object.__setattr__(self, "image_size", integer("image_size", image_size, low=1, integral_float=True))
        object.__setattr__(self, "pixel_size", real("pixel_size", pixel_size, low=0, strict=True, unit="mm"))
        object.__setattr__(self, "det_offset", real("det_offset", det_offset))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace({name}=...) for a modified copy")

    # ---- derived quantities -------------------------------------------------------------------------
    @property
    def n_views(self) -> int:
        """Number of views (projection angles)."""
        return int(self.angles.size)

    @property
    def sino_shape(self) -> tuple[int, int]:
        """Shape of one sinogram, ``(n_views, n_det)``."""
        return (self.n_views, self.n_det)

    @property
    def image_shape(self) -> tuple[int, int]:
        """Shape of one image, ``(image_size, image_size)``."""
        return (self.image_size, self.image_size)

    @property
    def det_coords(self) -> np.ndarray:
        """Detector element positions ``u_j`` in mm (arc length at radius sdd for arc detectors), ``[n_det]``."""
        j = np.arange(self.n_det, dtype=np.float64)
        return (j - (self.n_det - 1) / 2.0) * self.det_spacing + self.det_offset

    @property
    def pixel_coords(self) -> np.ndarray:
        """Pixel-centre coordinates along one image axis in mm, ``[image_size]``: x of each column
        (and, reversed, y of each row)."""
        i = np.arange(self.image_size, dtype=np.float64)
        return (i - (self.image_size - 1) / 2.0) * self.pixel_size

    @property
    def image_extent(self) -> float:
        """Half-width in mm of the region covered by the image's pixel basis functions
        (bilinear hats reach one pixel beyond the outermost pixel centres)."""
        return (self.image_size + 1) / 2.0 * self.pixel_size

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        """Ray of every sinogram element as (point, unit direction), each ``[n_views, n_det, 2]`` (x, y) in mm.

        For fan beams the point is the source; for parallel beams it is the ray's foot on the detector axis
        through the origin. The line integral of a sinogram element runs along ``point + t * direction``.
        """
        raise NotImplementedError

    # ---- serialisation -------------------------------------------------------------------------------
    def _params(self) -> dict[str, Any]:
        return {
            "angles": self.angles,
            "n_det": self.n_det,
            "det_spacing": self.det_spacing,
            "image_size": self.image_size,
            "pixel_size": self.pixel_size,
            "det_offset": self.det_offset,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python description (JSON-serialisable): ``{"type": ..., "angles": [...], ...}``."""
        d: dict[str, Any] = {"type": self.kind}
        for k, v in self._params().items():
            d[k] = v.tolist() if isinstance(v, np.ndarray) else v
        return d

    def to_json(self, **kwargs: Any) -> str:
        """JSON text of :meth:`to_dict`; angles are written with full float64 precision."""
        return json.dumps(self.to_dict(), **kwargs)

    def replace(self, **changes: Any) -> "Geometry":
        """A copy with some parameters changed, e.g. ``geom.replace(angles=geom.angles[::4])``."""
        params = self._params()
        unknown = set(changes) - set(params)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no parameter(s) {sorted(unknown)}")
        params.update(changes)
        return type(self)(**params)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        a, b = self._params(), other._params()  # type: ignore[attr-defined]
        return all(
            np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k] for k in a
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.angles.tobytes()) + tuple(v for v in self._params().values()
                                                             if not isinstance(v, np.ndarray)))

    def _angles_repr(self) -> str:
        a = np.rad2deg(self.angles)
        if a.size == 1:
            return f"1 view at {a[0]:.4g}°"
        steps = np.diff(a)
        uniform = np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9)
        desc = f"{a.size} views, {a.min():.4g}° … {a.max():.4g}°"
        return desc + (f" step {steps[0]:.4g}°" if uniform else " (non-uniform)")

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self._params().items()
                        if k not in ("angles", "n_det", "det_spacing", "image_size", "pixel_size", "det_offset"))
        return (f"{type(self).__name__}({self._angles_repr()}; detector {self.n_det} × {self.det_spacing:g} mm"
                f"{f' offset {self.det_offset:g} mm' if self.det_offset else ''}; image {self.image_size}² × "
                f"{self.pixel_size:g} mm{extra})")


class ParallelBeam(Geometry):
    """2D parallel-beam geometry.

    Parameters
    ----------
    angles : array_like, shape (n_views,)
        View angles θ in radians; any set (uniform, limited, sparse, unordered).
    n_det : int
        Number of detector elements.
    det_spacing : float
        Detector element spacing in mm.
    image_size : int
        Reconstruction grid size N (the image is N x N pixels).
    pixel_size : float
        Pixel side length in mm.
    det_offset : float, optional
        Shift of the detector centre along the detector axis in mm (rotation-centre offset): element ``j``
        sits at ``u_j = (j - (n_det-1)/2) * det_spacing + det_offset``.

    Notes
    -----
    For view θ the rays travel along ``(sin θ, -cos θ)`` and the detector axis ``u`` points along
    ``(cos θ, sin θ)``: the point ``(x, y)`` (mm) projects to ``u = x cos θ + y sin θ``.
    Image pixel ``[row, col]`` has its centre at ``x = (col - (N-1)/2) * pixel_size``,
    ``y = ((N-1)/2 - row) * pixel_size``. These are ASTRA's ``parallel`` conventions.
    """

    kind = "parallel"

    def __init__(self, angles, n_det: int, det_spacing: float, image_size: int, pixel_size: float,
                 det_offset: float = 0.0) -> None:
        self._init_common(angles, n_det, det_spacing, image_size, pixel_size, det_offset)

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        c, s = np.cos(self.angles)[:, None], np.sin(self.angles)[:, None]
        u = self.det_coords[None, :]
        point = np.stack(np.broadcast_arrays(u * c, u * s), axis=-1)
        direction = np.stack(np.broadcast_arrays(s + 0 * u, -c + 0 * u), axis=-1)
        return point, direction


class FanBeam(Geometry):
    """2D fan-beam geometry with a flat or an arc (equiangular) detector.

    Parameters
    ----------
    angles : array_like, shape (n_views,)
        Source angles θ in radians; any set (full 2π, short scan, limited angle, sparse, unordered).
    n_det : int
        Number of detector elements.
    det_spacing : float
        Detector element spacing in mm, measured on the detector (at distance ``sdd`` from the source):
        the element pitch of a flat detector, or the arc length between elements of an arc detector.
    image_size : int
        Reconstruction grid size N (the image is N x N pixels).
    pixel_size : float
        Pixel side length in mm.
    sod : float
        Source-to-origin (rotation axis) distance in mm.
    sdd : float
        Source-to-detector distance in mm (> sod).
    detector : {"flat", "arc"}
        Flat detector, or arc detector centred on the source (equiangular fan).
    det_offset : float, optional
        Shift of the detector centre along the detector in mm (same units as ``det_spacing``).

    Notes
    -----
    For view θ the source sits at ``sod * (sin θ, -cos θ)``, the detector centre at
    ``(sdd - sod) * (-sin θ, cos θ)`` and the detector axis ``u`` points along ``(cos θ, sin θ)``.
    Flat: element ``j`` is at ``u_j`` mm on the detector line, fan angle ``γ_j = atan(u_j / sdd)``.
    Arc: fan angle ``γ_j = u_j / sdd``. These are ASTRA's ``fanflat`` conventions (HTC2022 data load
    without flips). The magnification is ``sdd / sod``; a detector pitch ``det_spacing`` corresponds to
    ``det_spacing * sod / sdd`` at the isocentre. The image (with its pixel support) must lie inside the
    source circle.
    """

    kind = "fan"

    sod: float
    sdd: float
    detector: str

    def __init__(self, angles, n_det: int, det_spacing: float, image_size: int, pixel_size: float,
                 sod: float, sdd: float, detector: str = "flat", det_offset: float = 0.0) -> None:
        self._init_common(angles, n_det, det_spacing, image_size, pixel_size, det_offset)
        sod = real("sod", sod, low=0, strict=True, unit="mm")
        sdd = real("sdd", sdd, low=0, strict=True, unit="mm")
        if sdd <= sod:
            raise ValueError(f"sdd (source-detector, {sdd} mm) must be larger than sod (source-origin, {sod} mm)")
        if detector not in ("flat", "arc"):
            raise ValueError(f"detector must be 'flat' or 'arc', got {detector!r}")
        object.__setattr__(self, "sod", sod)
        object.__setattr__(self, "sdd", sdd)
        object.__setattr__(self, "detector", detector)
        corner = math.sqrt(2.0) * self.image_extent
        if corner >= sod:
            raise ValueError(
                f"the image ({self.image_size} px × {self.pixel_size:g} mm, corner at {corner:.4g} mm from the axis) "
                f"must lie inside the source circle (sod = {sod:g} mm)")
        if detector == "arc":
            half_fan = np.max(np.abs(self.det_coords) + 0.5 * self.det_spacing) / sdd
            if half_fan >= math.pi / 2:
                raise ValueError(f"arc detector spans ±{math.degrees(half_fan):.1f}° (must be < ±90°): "
                                 "n_det * det_spacing / sdd is too large")

    def _params(self) -> dict[str, Any]:
        p = super()._params()
        p.update(sod=self.sod, sdd=self.sdd, detector=self.detector)
        return p

    @property
    def fan_angles(self) -> np.ndarray:
        """Fan angle γ_j (radians) of each detector element, ``[n_det]``; positive towards +u."""
        u = self.det_coords
        return np.arctan2(u, self.sdd) if self.detector == "flat" else u / self.sdd

    @property
    def magnification(self) -> float:
        """Geometric magnification ``sdd / sod`` at the rotation axis."""
        return self.sdd / self.sod

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        c, s = np.cos(self.angles)[:, None], np.sin(self.angles)[:, None]
        g = self.fan_angles[None, :]
        cg, sg = np.cos(g), np.sin(g)
        # central ray (-sin θ, cos θ) rotated by γ towards the detector axis (cos θ, sin θ)
        dx = -s * cg + c * sg
        dy = c * cg + s * sg
        point = np.stack(np.broadcast_arrays(self.sod * s + 0 * g, -self.sod * c + 0 * g), axis=-1)
        return point, np.stack([dx, dy], axis=-1)


def check_geometry(value: Any, name: str = "geometry") -> Geometry:
    """``value`` if it is a geometry of this package, else ``TypeError`` naming ``name``."""
    if not isinstance(value, Geometry):
        raise TypeError(f"{name} must be a recon.ParallelBeam or recon.FanBeam, got {type(value).__name__}")
    return value


_KINDS: dict[str, type[Geometry]] = {"parallel": ParallelBeam, "fan": FanBeam}


def geometry_from_dict(d: dict[str, Any]) -> Geometry:
    """Rebuild a geometry from :meth:`Geometry.to_dict` output (validating it again)."""
    if not isinstance(d, dict):
        raise TypeError(f"expected a dict describing a geometry, got {type(d).__name__}")
    kind = d.get("type")
    if kind not in _KINDS:
        raise ValueError(f"geometry 'type' must be one of {sorted(_KINDS)}, got {kind!r}")
    params = {k: v for k, v in d.items() if k != "type"}
    try:
        return _KINDS[kind](**params)
    except TypeError as err:
        raise ValueError(f"invalid {kind} geometry description: {err}") from None


def geometry_differences(expected: Geometry, actual: Geometry, rtol: float = 1e-6,
                         ignore: tuple[str, ...] = ()) -> list[str]:
    """What differs between two geometries, one readable item per parameter (empty if they agree to
    ``rtol``; angles are compared modulo 2π, with an absolute tolerance of ``rtol`` rad). Parameters named
    in ``ignore`` (e.g. ``("image_size", "pixel_size")`` to compare only the acquisition) are skipped."""
    if type(expected) is not type(actual):
        return [f"geometry type {expected.kind!r} expected, got {actual.kind!r}"]
    diffs = []
    a, b = expected._params(), actual._params()
    for key in a:
        if key in ignore:
            continue
        va, vb = a[key], b[key]
        if key == "angles":
            if va.shape != vb.shape:
                diffs.append(f"{va.size} views expected, got {vb.size}")
            else:
                delta = np.abs(np.angle(np.exp(1j * (va - vb))))
                if delta.max() > rtol:
                    i = int(np.argmax(delta))
                    diffs.append(f"view angles differ (view {i}: {np.degrees(va[i]):.4g}° expected, "
                                 f"got {np.degrees(vb[i]):.4g}°)")
        elif isinstance(va, str) or isinstance(va, int):
            if va != vb:
                diffs.append(f"{key} {va!r} expected, got {vb!r}")
        elif not math.isclose(va, vb, rel_tol=rtol, abs_tol=rtol * expected.pixel_size):
            diffs.append(f"{key} {va:g} expected, got {vb:g}")
    return diffs


def evenly_spaced_views(n_views: int, count: int) -> np.ndarray:
    """Indices of ``count`` views evenly spread over ``range(n_views)`` starting with the first,
    ``round(k · n_views / count)``: 60 of 720 views keeps every 12th. ``[count]`` int64."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 1 <= count <= n_views:
        raise ValueError(f"cannot select {count!r} of {n_views} views (need an integer in 1 … {n_views})")
    return np.round(np.arange(count) * (n_views / count)).astype(np.int64)


def view_indices(full: Geometry, subset: Geometry, tol: float = 1e-6) -> np.ndarray:
    """Indices into ``full.angles`` of the views of ``subset`` (angles compared modulo 2π within ``tol``
    rad), ``[subset.n_views]`` int64 — e.g. to cut a sparse-view model's views out of a full dataset.
    Raises ``ValueError`` if a view is missing or the detectors differ."""
    diffs = geometry_differences(full, subset, ignore=("angles", "image_size", "pixel_size"))
    if diffs:
        raise ValueError("the geometries differ: " + "; ".join(diffs))
    delta = np.abs(np.angle(np.exp(1j * (subset.angles[:, None] - full.angles[None, :]))))
    idx = np.argmin(delta, axis=1)
    missing = np.flatnonzero(delta[np.arange(subset.n_views), idx] > tol)
    if missing.size:
        raise ValueError(f"{missing.size} of {subset.n_views} views are not in the data (first at "
                         f"{np.degrees(subset.angles[missing[0]]):.4g}°)")
    return idx.astype(np.int64)


def geometry_from_json(text: str) -> Geometry:
    """Rebuild a geometry from :meth:`Geometry.to_json` output."""
    return geometry_from_dict(json.loads(text))
