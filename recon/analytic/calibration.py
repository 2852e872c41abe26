"""Fan-beam geometry from a scan's own data: detector offset, in-plane detector tilt and source–detector distance
found by opposite rays.

A fan-beam scan over a full turn measures every line twice. Which pairs of (view, element) see the same line
depends on where the detector really is: its offset along itself (the rotation centre), its in-plane tilt (the
detector turned about its centre within the plane), and the source–detector distance ``sdd`` (which sets the fan
angle of each element). For trial values the conjugate of every ray is computed exactly — the line through the
source and the element meets the source circle again at the conjugate source, and the detector of that view at
the conjugate element — and the data are interpolated there; the estimate minimises the mean squared
disagreement relative to the data's (as :func:`recon.analytic.centre.estimate_centre` does for the offset
alone), first on binned data, then on the data.

What data consistency cannot give: the source–origin distance ``sod`` and the detector pitch only scale the
image (with ``sdd`` fixed their ratio is the magnification: a known object size is needed), and a constant
view-angle offset only turns the image. Those stay as the file says.

The geometry follows :func:`recon.operators.geometric.project_geometry`: ``tilt`` (radians) turns the
detector's u axis towards the source–detector axis, so ``project_geometry(x, g, {"det_offset": …, "tilt": …,
"sdd": …})`` is the scan :func:`calibrated_geometry` returns (a :class:`recon.FanBeamVec` where tilted).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, optimize

from ..geometry import FanBeam, Geometry, as_circular, check_geometry, tilted_fan, untilt_sinogram
from ..geometry.tilt import detector_axes

__all__ = ["FanCalibration", "calibrate_fan", "calibrated_geometry", "untilted", "PARAMETERS", "DECISIVE_RISE"]

PARAMETERS = ("offset", "tilt", "sdd")

#: How much (relative) the opposite-ray residual must rise when a fitted tilt or sdd is set back to the file's
#: value and the other parameters are fitted again (the profile) for the data to decide it; measured values in
#: docs/centre.md (a rotationally symmetric object trades tilt against offset: the HTC2022 solid disc's −1.35°
#: tilt rises 0.54 with the offset held, 0.018 with it refitted).
DECISIVE_RISE = 0.05


@dataclass(frozen=True)
class FanCalibration:
    """The estimate: detector offset (mm), tilt (rad), sdd (mm), the relative opposite-ray residual at the
    estimate and at the file's geometry, the seconds it took, the parameters it changed (``params``: those the
    data decide) and, per fitted parameter, how much the residual rises when it is set back (``evidence``)."""

    det_offset: float
    tilt: float
    sdd: float
    residual: float
    residual_before: float
    seconds: float
    params: tuple = field(default=PARAMETERS)
    evidence: dict = field(default_factory=dict)

    def describe(self, geometry: Geometry) -> str:
        kept = [q for q in self.evidence if q not in self.params]
        return (f"det_offset {self.det_offset:+.4g} mm (file {geometry.det_offset:+.4g}), tilt "
                f"{math.degrees(self.tilt):+.3f}° (file 0), sdd {self.sdd:.5g} mm (file {geometry.sdd:.5g}); "
                f"opposite-ray residual {self.residual:.3g} (file's geometry {self.residual_before:.3g})"
                + (f"; not decided by the data, kept as the file says: {', '.join(kept)}" if kept else ""))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _conjugates(g: FanBeam, offset: float, tilt: float, sdd: float) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (view, element) of the conjugate of every ray ``[n_views, n_det]`` (NaN where the line misses
    the detector at the conjugate view)."""
    theta = np.unwrap(np.asarray(g.angles, dtype=np.float64))  # (angles listed wrapping through 0: one run)
    a, n = detector_axes(theta)
    u = math.cos(tilt) * a + math.sin(tilt) * n
    t = (np.arange(g.n_det) - (g.n_det - 1) / 2.0) * g.det_spacing
    source = -g.sod * n
    element = ((sdd - g.sod) * n + offset * a)[:, None, :] + t[None, :, None] * u[:, None, :]
    d = element - source[:, None, :]
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    other = source[:, None, :] - 2.0 * np.sum(source[:, None, :] * d, axis=-1, keepdims=True) * d
    theta2 = np.arctan2(other[..., 0], -other[..., 1])  # the source at −sod·n(θ′)
    a2, n2 = detector_axes(theta2)
    u2 = math.cos(tilt) * a2 + math.sin(tilt) * n2
    centre2 = (sdd - g.sod) * n2 + offset * a2
    denominator = _cross(d, u2)
    t2 = _cross(centre2 - other, d) / np.where(np.abs(denominator) > 1e-12, denominator, np.nan)
    j2 = t2 / g.det_spacing + (g.n_det - 1) / 2.0
    step = (theta[-1] - theta[0]) / (theta.size - 1)
    v2 = np.mod((theta2 - theta[0]) / step, theta.size)
    return v2, np.where((j2 >= 0) & (j2 <= g.n_det - 1), j2, np.nan)


def _residual(p: np.ndarray, g: FanBeam, offset: float, tilt: float, sdd: float) -> float:
    v2, j2 = _conjugates(g, offset, tilt, sdd)
    inside = np.isfinite(j2)
    if inside.sum() < 0.3 * inside.size:
        return math.inf
    opposite = ndimage.map_coordinates(p, np.stack([v2[inside], j2[inside]]), order=1, mode="grid-wrap")
    own = p[inside]
    return float(np.mean((own - opposite) ** 2) / max(np.mean(own ** 2), 1e-300))


def _check(sinogram, geometry: Geometry) -> tuple[np.ndarray, FanBeam]:
    check_geometry(geometry)
    g = as_circular(geometry, "geometry calibration")
    if not g.point_source or getattr(g, "detector", "flat") != "flat":
        raise ValueError("geometry calibration by opposite rays takes fan-beam scans with a flat detector "
                         f"(got {type(geometry).__name__}{'' if not g.point_source else ', ' + g.detector})")
    p = np.asarray(sinogram, dtype=np.float64)
    if p.shape[-2:] != g.sino_shape:
        raise ValueError(f"sinogram of shape {p.shape} does not fit the geometry's {g.sino_shape} (views, elements)")
    p = p.reshape((-1,) + g.sino_shape).sum(axis=0)
    if not np.all(np.isfinite(p)) or np.ptp(p) == 0:
        raise ValueError("the sinogram is not finite or holds no object: nothing to calibrate on")
    a = np.unwrap(g.angles)
    steps = np.diff(a)
    if np.ptp(steps) > 1e-6 * abs(steps.mean()) + 1e-9 or abs(abs(steps.mean()) * a.size - 2 * math.pi) > 1e-6:
        raise ValueError(f"geometry calibration needs one full turn of evenly spaced views (these span "
                         f"{math.degrees(abs(steps.mean()) * a.size):.1f}°)")
    return p, g


def _binned(p: np.ndarray, g: FanBeam, factor: int) -> tuple[np.ndarray, FanBeam, float]:
    """Elements averaged ``factor`` at a time: the data, their geometry, and how far (mm, along the detector) the
    binned detector's middle lies from the original's (the binned offset is the original's plus this)."""
    n = g.n_det // factor
    first = (g.n_det - n * factor) // 2
    q = p[:, first:first + n * factor].reshape(g.n_views, n, factor).mean(-1)
    shift = (first + (factor - 1) / 2.0 + (n - 1) * factor / 2.0 - (g.n_det - 1) / 2.0) * g.det_spacing
    return q, g.replace(n_det=n, det_spacing=g.det_spacing * factor, det_offset=g.det_offset + shift), shift


def _fit(p: np.ndarray, g: FanBeam, free: list[int], x0: np.ndarray, tilt_limit: float, sdd_limit: float,
         grid_offset: bool) -> np.ndarray:
    """Minimise the opposite-ray residual over the parameters ``free`` (indices into :data:`PARAMETERS`) from
    ``x0``: binned data first (the offset on a grid where ``grid_offset``), then the data."""
    factor = 4 if g.n_det >= 256 else 2 if g.n_det >= 64 else 1
    small, g_small, shift = _binned(p, g, factor)
    scale = np.array([g.det_spacing, math.radians(0.5), 0.005 * g.sdd])
    bounds = [(g.det_offset - g.n_det / 4 * g.det_spacing, g.det_offset + g.n_det / 4 * g.det_spacing),
              (-tilt_limit, tilt_limit), (g.sdd * (1 - sdd_limit), g.sdd * (1 + sdd_limit))]

    def at(z: np.ndarray) -> np.ndarray:
        x = x0.copy()
        x[free] = x0[free] + z * scale[free]
        return x

    def objective(data, geo, dx):
        def f(z):
            x = at(z)
            if any(not lo <= v <= hi for v, (lo, hi) in ((x[k], bounds[k]) for k in free)):
                return 1e3
            return _residual(data, geo, x[0] + dx, x[1], x[2])
        return f

    z = np.zeros(len(free))
    if grid_offset and 0 in free:  # the offset first, alone, on a grid (the residual is far from convex in it)
        grid = np.arange(bounds[0][0], bounds[0][1], 0.5 * g_small.det_spacing)
        values = [_residual(small, g_small, c + shift, x0[1], x0[2]) for c in grid]
        z[free.index(0)] = (grid[int(np.argmin(values))] - x0[0]) / scale[0]
    for data, geo, dx, tol in ((small, g_small, shift, 1e-3), (p, g, 0.0, 1e-5)):
        z = optimize.minimize(objective(data, geo, dx), z, method="Powell",
                              options={"xtol": tol, "ftol": 1e-10, "maxfev": 4000}).x
    return at(z)


def calibrate_fan(sinogram, geometry: Geometry, params=PARAMETERS, tilt_limit: float = math.radians(5.0),
                  sdd_limit: float = 0.05) -> FanCalibration:
    """Estimate the detector offset, tilt and ``sdd`` (those named in ``params``) of a full-turn fan-beam scan
    with a flat detector from its opposite rays (see the module docstring).

    ``sinogram`` ``[..., n_views, n_det]`` line integrals (slices summed); ``geometry`` the file's; the search
    spans a quarter of the detector for the offset, ±``tilt_limit`` radians and ±``sdd_limit`` (relative) of the
    file's ``sdd``. Tilt and ``sdd`` are kept only where the data decide them: setting one back to the file's
    value and fitting the others again must raise the residual by :data:`DECISIVE_RISE` (relative), else it stays
    as the file says and the others are fitted again (``evidence`` holds each parameter's rise; ``params`` the
    ones changed). ``ValueError``
    for other scans (parallel beams, arc detectors, less than a full turn, uneven views), flat or non-finite
    data, or an unknown parameter.
    """
    t0 = time.perf_counter()
    unknown = [q for q in params if q not in PARAMETERS]
    if unknown or not params:
        raise ValueError(f"params must name some of {PARAMETERS}, got {tuple(params)!r}")
    p, g = _check(sinogram, geometry)
    file = np.array([g.det_offset, 0.0, g.sdd])
    free = [PARAMETERS.index(q) for q in PARAMETERS if q in params]
    x = _fit(p, g, free, file, tilt_limit, sdd_limit, grid_offset=True)
    residual = _residual(p, g, *x)
    evidence = {}
    for k in free:  # the profile: this parameter back to the file's value, the others fitted again
        back = x.copy()
        back[k] = file[k]
        others = [j for j in free if j != k]
        if others:
            back = _fit(p, g, others, back, tilt_limit, sdd_limit, grid_offset=False)
        evidence[PARAMETERS[k]] = _residual(p, g, *back) / max(residual, 1e-300) - 1.0
    decided = [k for k in free if k == 0 or evidence[PARAMETERS[k]] > DECISIVE_RISE]
    if decided != free:  # the undecided ones back to the file's values, the others fitted again from there
        x[[k for k in free if k not in decided]] = file[[k for k in free if k not in decided]]
        x = _fit(p, g, decided, x, tilt_limit, sdd_limit, grid_offset=False) if decided else x
    return FanCalibration(det_offset=float(x[0]), tilt=float(x[1]), sdd=float(x[2]),
                          residual=_residual(p, g, *x), residual_before=_residual(p, g, *file),
                          seconds=time.perf_counter() - t0, params=tuple(PARAMETERS[k] for k in decided),
                          evidence=evidence)


def _calibrated_fan(geometry: Geometry, calibration: FanCalibration) -> FanBeam:
    """The file's circular scan with the calibrated offset and ``sdd`` (its detector untilted)."""
    return as_circular(geometry, "geometry calibration").replace(det_offset=calibration.det_offset,
                                                                 sdd=calibration.sdd)


def calibrated_geometry(geometry: Geometry, calibration: FanCalibration) -> Geometry:
    """``geometry`` with the calibrated offset and ``sdd`` (a :class:`~recon.FanBeam`), or, where the detector is
    tilted, the scan as a :class:`~recon.FanBeamVec` (:func:`recon.geometry.tilted_fan`: the vectors of
    :func:`recon.operators.geometric.project_geometry`)."""
    g = _calibrated_fan(geometry, calibration)
    return g if calibration.tilt == 0.0 else tilted_fan(g, calibration.tilt)


def untilted(sinogram, geometry: Geometry, calibration: FanCalibration) -> tuple[np.ndarray, FanBeam]:
    """The data of a tilted detector resampled onto the untilted one (same centre, pitch and elements), so that
    FBP and everything that needs a circular :class:`~recon.FanBeam` take them: ``(sinogram, geometry)``
    (:func:`recon.geometry.untilt_sinogram`)."""
    g = _calibrated_fan(geometry, calibration)
    p = np.asarray(sinogram, dtype=np.float64)
    if p.shape[-2:] != g.sino_shape:
        raise ValueError(f"sinogram of shape {p.shape} does not fit the geometry's {g.sino_shape}")
    return untilt_sinogram(p, g, calibration.tilt), g
