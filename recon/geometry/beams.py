"""The scan geometries: immutable, validated values describing where the rays of a 2D CT scan go
(conventions in :mod:`recon.geometry`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._checks import integer, real
from .grid import LENGTHS, ImageGrid
from .values import ParameterValue
from .vectors import ViewVectors

__all__ = ["Geometry", "ParallelBeam", "FanBeam"]



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


class Geometry(ParameterValue):
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
        object.__setattr__(self, "det_spacing", real("det_spacing", det_spacing, *LENGTHS, unit="mm"))
        object.__setattr__(self, "image_size", integer("image_size", image_size, low=1, integral_float=True))
        object.__setattr__(self, "pixel_size", real("pixel_size", pixel_size, *LENGTHS, unit="mm"))
        object.__setattr__(self, "det_offset", real("det_offset", det_offset, -LENGTHS[1], LENGTHS[1], unit="mm"))

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

    #: The detector model of the vector form: "parallel" (rays parallel), "flat" or "arc" (from a point source).
    model: str = ""

    @property
    def point_source(self) -> bool:
        """Whether the rays leave a point source (fan beams) rather than run parallel: what FBP weights, redundancy
        and rebinning ask of a geometry, whatever its type."""
        return self.model != "parallel"

    @property
    def grid(self) -> ImageGrid:
        """The geometry's default image grid, ``ImageGrid(image_size, pixel_size)`` (centred on the axis)."""
        return ImageGrid(self.image_size, self.pixel_size)

    @property
    def ndim(self) -> int:
        """Dimension of the scanned object (2: slices)."""
        return 2

    def view_vectors(self) -> ViewVectors:
        """The per-view vector form (ASTRA's ``_vec`` layout, :mod:`recon.geometry.vectors`) that every operator
        reads."""
        raise NotImplementedError

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        """Ray of every sinogram element as (point, unit direction), each ``[n_views, n_det, 2]`` (x, y) in mm.

        For fan beams the point is the source; for parallel beams it is the detector element. The line integral
        of a sinogram element runs along ``point + t * direction``.
        """
        return self.view_vectors().rays()

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

    Examples
    --------
    180 views over 180°, a 256-element detector of 0.5 mm, a 128² image of 1 mm pixels:

    >>> import numpy as np, recon
    >>> g = recon.ParallelBeam(np.linspace(0, np.pi, 180, endpoint=False), n_det=256, det_spacing=0.5,
    ...                        image_size=128, pixel_size=1.0)
    >>> g
    ParallelBeam(180 views, 0° … 179° step 1°; detector 256 × 0.5 mm; image 128² × 1 mm)
    >>> g.sino_shape, g.image_shape
    ((180, 256), (128, 128))
    >>> recon.geometry_from_json(g.to_json()) == g
    True
    >>> g.replace(angles=g.angles[::4]).n_views  # a sparse-view copy
    45
    """

    kind = "parallel"
    model = "parallel"

    def __init__(self, angles, n_det: int, det_spacing: float, image_size: int, pixel_size: float,
                 det_offset: float = 0.0) -> None:
        self._init_common(angles, n_det, det_spacing, image_size, pixel_size, det_offset)

    def view_vectors(self) -> ViewVectors:
        c, s = np.cos(self.angles), np.sin(self.angles)
        axis = np.stack([c, s], axis=1)
        return ViewVectors(source=np.stack([s, -c], axis=1), detector=self.det_offset * axis,
                           u=self.det_spacing * axis, model="parallel", n_det=self.n_det)


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

    Examples
    --------
    The HTC2022 scanner's flat-detector fan beam, 720 views over 360°:

    >>> import numpy as np, recon
    >>> g = recon.FanBeam(np.linspace(0, 2 * np.pi, 720, endpoint=False), n_det=560, det_spacing=0.2,
    ...                   image_size=512, pixel_size=0.148322, sod=410.66, sdd=553.74)
    >>> round(g.magnification, 4), round(float(np.degrees(g.fan_angles.max())), 2)
    (1.3484, 5.76)
    >>> recon.FanBeam(g.angles, 560, 0.2, 512, 0.148322, sod=410.66, sdd=400.0)
    Traceback (most recent call last):
    ...
    ValueError: sdd (source-detector, 400.0 mm) must be larger than sod (source-origin, 410.66 mm)
    """

    kind = "fan"

    sod: float
    sdd: float
    detector: str

    def __init__(self, angles, n_det: int, det_spacing: float, image_size: int, pixel_size: float,
                 sod: float, sdd: float, detector: str = "flat", det_offset: float = 0.0) -> None:
        self._init_common(angles, n_det, det_spacing, image_size, pixel_size, det_offset)
        sod = real("sod", sod, *LENGTHS, unit="mm")
        sdd = real("sdd", sdd, *LENGTHS, unit="mm")
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
    def model(self) -> str:  # type: ignore[override]
        """``"flat"`` or ``"arc"``: the detector model of the vector form."""
        return self.detector

    @property
    def fan_angles(self) -> np.ndarray:
        """Fan angle γ_j (radians) of each detector element, ``[n_det]``; positive towards +u."""
        u = self.det_coords
        return np.arctan2(u, self.sdd) if self.detector == "flat" else u / self.sdd

    @property
    def magnification(self) -> float:
        """Geometric magnification ``sdd / sod`` at the rotation axis."""
        return self.sdd / self.sod

    def view_vectors(self) -> ViewVectors:
        c, s = np.cos(self.angles), np.sin(self.angles)
        axis, central = np.stack([c, s], axis=1), np.stack([-s, c], axis=1)
        source = -self.sod * central
        if self.detector == "flat":
            centre = (self.sdd - self.sod) * central + self.det_offset * axis
            u = self.det_spacing * axis
        else:  # the arc's middle element sits at the fan angle det_offset / sdd, its tangent turned with it
            g = self.det_offset / self.sdd
            turned_c = math.cos(g) * central + math.sin(g) * axis
            turned_a = math.cos(g) * axis - math.sin(g) * central
            centre = source + self.sdd * turned_c
            u = self.det_spacing * turned_a
        return ViewVectors(source=source, detector=centre, u=u, model=self.detector, n_det=self.n_det)
