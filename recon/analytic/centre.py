"""Where is the rotation axis? The centre of rotation estimated from a scan's own data.

A detector whose middle is not the projection of the rotation axis (``det_offset`` in the geometries) doubles
every edge of a reconstruction; scanner files often record it wrongly or not at all. Two estimators, each for
the scans it suits, both sub-element:

* **opposite rays** — every ray of a scan that covers a half turn plus the fan (parallel beams over more than
  180°, fan beams over 360° or a short scan) is measured twice, once from each side: ``p(β, γ) = p(β + π − 2γ,
  −γ)`` (``γ = 0`` for parallel beams). Only the right detector offset makes the two agree; the estimate
  minimises their mean squared difference, relative to the data's, over the offset (coarse grid, then a
  golden-section search).
* **Fourier double wedge** (N. T. Vo, M. Drakopoulos, R. C. Atwood and C. Reinhard, "Reliable method for
  calculating the center of rotation in parallel-beam tomography", Opt. Express 22(16), 19078 (2014)) — for
  parallel scans over 180°, which have no opposite rays: the sinogram and its mirror about a candidate column,
  stacked, form a 360° sinogram; only the right column makes it a sinogram of an object, whose 2-D spectrum
  has no energy in the double wedge ``|n| > π |k|`` (``n`` harmonics per turn, ``k`` cycles across the detector).
  The estimate minimises the mean spectrum magnitude there.

``confidence`` is how much the metric rises one detector element away from the estimate, relative to its value
there: near 0 means the data do not decide the centre (a flat or symmetric object).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import ndimage, optimize

from ..geometry import Geometry, as_circular, check_geometry

__all__ = ["CentreEstimate", "estimate_centre", "METHODS", "DECISIVE"]

METHODS = ("auto", "opposite", "vo")

#: How much worse (relative) a centre's metric must be than the estimate's for the data to decide against it,
#: per method: measured on random sinograms (opposite rays up to 0.84, double wedge up to 0.09) against real and
#: simulated scans off by 0.6–1 element (opposite rays ≥ 2.9 on HTC2022, double wedge ≥ 0.12).
DECISIVE = {"opposite rays": 2.0, "Fourier double wedge (Vo 2014)": 0.11}


@dataclass(frozen=True)
class CentreEstimate:
    """The estimated rotation centre of a scan.

    ``det_offset`` (mm, the geometry's parameter that puts the axis where the data have it), ``column`` (the
    fractional detector column the axis projects to, 0-based), ``method``, ``confidence`` (relative rise of the
    metric one element away), ``evidence`` (relative rise of the metric at the geometry's own centre: how much
    worse the data agree with it), ``curve`` (``[k, 2]``: offsets tried in mm, metric) and ``seconds``."""

    det_offset: float
    column: float
    method: str
    confidence: float
    evidence: float
    curve: np.ndarray
    seconds: float

    def differs_from(self, geometry: Geometry, evidence: Optional[float] = None) -> bool:
        """Whether ``geometry``'s detector offset is more than half a detector element from this estimate, and the
        data agree with it clearly worse: its metric more than ``1 + evidence`` times the estimate's (by default
        :data:`DECISIVE` of the method), so that random or featureless data, whose metric hardly changes with the
        offset, do not decide."""
        threshold = DECISIVE.get(self.method, 0.0) if evidence is None else evidence
        return abs(geometry.det_offset - self.det_offset) > 0.5 * geometry.det_spacing and self.evidence > threshold

    def describe(self, geometry: Geometry, unit: str = "mm") -> str:
        """One line: the estimate beside the geometry's own centre (lengths in ``unit``: "px" for a scan whose
        geometry is in detector pixels)."""
        given = _column(geometry, geometry.det_offset)
        return (f"rotation centre at column {self.column:.2f} (det_offset {self.det_offset:+.4g} {unit}; "
                f"{self.method}, confidence {self.confidence:.2g}); the geometry has column {given:.2f} "
                f"(det_offset {geometry.det_offset:+.4g} {unit})")


def _column(geometry: Geometry, det_offset: float) -> float:
    """Detector column (0-based) of the rotation axis for a detector offset (mm): where ``u = 0``."""
    return (geometry.n_det - 1) / 2.0 - det_offset / geometry.det_spacing


def _check(sinogram, geometry: Geometry) -> tuple[np.ndarray, Geometry]:
    geometry = as_circular(check_geometry(geometry), "centre estimation")
    p = np.asarray(sinogram, dtype=np.float64)
    if p.ndim < 2 or p.shape[-2:] != geometry.sino_shape:
        raise ValueError(f"sinogram must have shape [..., {geometry.n_views}, {geometry.n_det}] for {geometry!r}, "
                         f"got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("sinogram contains non-finite values (NaN or Inf)")
    p = p.reshape((-1,) + geometry.sino_shape).sum(axis=0)  # slices of one scan: a sinogram of their sum
    if np.ptp(p) <= 1e-12 * max(1.0, float(np.abs(p).max())):
        raise ValueError("the sinogram is flat: it holds no structure to find the rotation centre from")
    return p, geometry


def _uniform(geometry: Geometry) -> tuple[float, float]:
    """``(first angle, step)`` of evenly spaced views in increasing order, else ``ValueError``."""
    a = np.unwrap(geometry.angles)
    steps = np.diff(a)
    if a.size < 3 or steps.mean() <= 0 or np.ptp(steps) > 1e-6 * abs(steps.mean()) + 1e-9:
        raise ValueError("centre estimation needs at least 3 evenly spaced views in increasing angle order")
    return float(a[0]), float(steps.mean())


def _opposite_span(geometry: Geometry) -> float:
    """The angular span (rad) a scan must cover for every ray to have an opposite one: π + the full fan."""
    return math.pi + (2.0 * float(np.abs(geometry.fan_angles).max()) if geometry.point_source else 0.0)


def _opposite_residual(p: np.ndarray, geometry: Geometry, offset: float, start: float, step: float,
                       full: bool) -> float:
    """Mean squared disagreement of the rays with their opposite rays (relative) for ``det_offset = offset``."""
    g = geometry.replace(det_offset=offset)
    n_views, n_det = g.sino_shape
    j = np.arange(n_det, dtype=np.float64)
    mid = (n_det - 1) / 2.0
    j_opp = 2.0 * mid - j - 2.0 * offset / g.det_spacing  # u' = -u
    gamma = g.fan_angles if g.point_source else np.zeros(n_det)
    beta = start + step * np.arange(n_views, dtype=np.float64)
    v_opp = (beta[:, None] + math.pi - 2.0 * gamma[None, :] - start) / step
    if full:
        v_opp = np.mod(v_opp, n_views)
        inside_v = np.ones(v_opp.shape, dtype=bool)
    else:
        inside_v = (v_opp >= 0) & (v_opp <= n_views - 1)
    inside = inside_v & ((j_opp >= 0) & (j_opp <= n_det - 1))[None, :]
    if inside.sum() < 0.05 * inside.size:
        return math.inf
    coords = np.stack([v_opp[inside], np.broadcast_to(j_opp, inside.shape)[inside]])
    opp = ndimage.map_coordinates(p, coords, order=1, mode="grid-wrap" if full else "nearest")
    own = p[inside]
    return float(np.mean((own - opp) ** 2) / max(np.mean(own ** 2), 1e-300))


def _vo_metric(p: np.ndarray, column: float, mask: np.ndarray) -> float:
    """Mean spectrum magnitude in the double wedge of the 360° sinogram made with the mirror about ``column``."""
    n_det = p.shape[1]
    k = np.arange(n_det, dtype=np.float64)
    mirrored = ndimage.map_coordinates(p, np.stack(np.meshgrid(np.arange(p.shape[0]), 2.0 * column - k,
                                                               indexing="ij")), order=1, mode="nearest")
    spectrum = np.abs(np.fft.fft2(np.concatenate([p, mirrored], axis=0)))
    return float(spectrum[mask].mean())


def _vo_mask(shape: tuple[int, int]) -> np.ndarray:
    """The double wedge ``|n| > π |k| `` (and ``|n| >= 2``) of an FFT of ``shape`` (rows: harmonics per turn)."""
    n = np.abs(np.fft.fftfreq(shape[0]) * shape[0])[:, None]
    k = np.abs(np.fft.fftfreq(shape[1]) * shape[1])[None, :]
    return (n > math.pi * k) & (n >= 2)


def _binned(p: np.ndarray, geometry: Geometry, det: int, views: int) -> tuple[np.ndarray, Geometry, float]:
    """The sinogram with every ``views``-th view and ``det`` neighbouring elements averaged, its geometry, and the
    shift (mm) to add to a detector offset found in it (the columns left over are dropped from the end)."""
    n = geometry.n_det // det
    binned = p[::views, :n * det].reshape(-1, n, det).mean(axis=2)
    shift = 0.5 * (geometry.n_det - n * det) * geometry.det_spacing
    g = geometry.replace(angles=geometry.angles[::views], n_det=n, det_spacing=det * geometry.det_spacing,
                         det_offset=geometry.det_offset - shift)
    return binned, g, shift


def _opposite_metric(p: np.ndarray, geometry: Geometry):
    """``det_offset → residual`` of the opposite rays of ``p`` in ``geometry``."""
    start, step = _uniform(geometry)
    full = step * geometry.n_views >= 2 * math.pi - 1e-6
    return lambda d: _opposite_residual(p, geometry, d, start, step, full)


def _vo_column_metric(p: np.ndarray, geometry: Geometry):
    """``det_offset → double-wedge energy`` of the first half turn of ``p`` in ``geometry``."""
    _, step = _uniform(geometry)
    q = p[:int(round(math.pi / step))]
    mask = _vo_mask((2 * q.shape[0], q.shape[1]))
    return lambda d: _vo_metric(q, _column(geometry, d), mask)


def _minimise(metric, lo: float, hi: float, coarse: float, tol: float) -> tuple[float, list[tuple[float, float]]]:
    """Grid search of ``metric`` over [lo, hi] at ``coarse`` steps, then a bounded golden-section search around the
    best grid point; returns the minimiser and every (x, metric) evaluated."""
    seen: list[tuple[float, float]] = []

    def f(x: float) -> float:
        value = metric(float(x))
        seen.append((float(x), value))
        return value

    grid = np.arange(lo, hi + 0.5 * coarse, coarse)
    values = [f(x) for x in grid]
    best = int(np.argmin(values))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    res = optimize.minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": tol})
    return float(res.x), seen


def estimate_centre(sinogram, geometry: Geometry, *, method: str = "auto", search: Optional[float] = None,
                    tolerance: float = 0.002) -> CentreEstimate:
    """Estimate the detector offset that puts the rotation axis where the data have it.

    Parameters
    ----------
    sinogram : array_like, ``[..., n_views, n_det]``
        Line integrals (several slices of one scan are summed).
    geometry : ParallelBeam or FanBeam
        The scan's geometry; its own ``det_offset`` is the starting point of the search.
    method : {"auto", "opposite", "vo"}
        "auto": opposite rays where the scan has them (see the module docstring), else the Fourier double wedge
        for a parallel scan over 180°.
    search : float, optional
        Half-width of the search in detector elements around the geometry's centre (default: a quarter of
        the detector).
    tolerance : float
        Precision of the final search, detector elements (0.05 is enough to tell whether a centre is off by
        half an element, and quicker).

    Returns
    -------
    CentreEstimate
        ``geometry.replace(det_offset=estimate.det_offset)`` is the corrected geometry.

    Raises ``ValueError`` for a flat sinogram, non-finite data, a shape that does not fit, unevenly spaced views,
    and for a scan that covers too little for either method (a limited-angle scan), saying why.
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    p, geometry = _check(sinogram, geometry)
    start, step = _uniform(geometry)
    span = step * geometry.n_views
    parallel = not geometry.point_source
    has_opposites = span >= _opposite_span(geometry) + 2 * step
    if method == "auto":
        method = "opposite" if has_opposites else "vo"
    if method == "opposite" and not has_opposites:
        raise ValueError(f"the views span {math.degrees(span):.1f}°: opposite rays need at least "
                         f"{math.degrees(_opposite_span(geometry) + 2 * step):.1f}° (half a turn plus the fan); the "
                         "rotation centre cannot be estimated from them")
    if method == "vo" and not (parallel and span >= math.pi - 3 * step):
        raise ValueError(f"the views span {math.degrees(span):.1f}° of a {'parallel' if parallel else 'fan'} beam: "
                         "the Fourier double-wedge estimate needs a parallel scan over 180°, and opposite rays "
                         f"need {math.degrees(_opposite_span(geometry) + 2 * step):.1f}°; the rotation centre "
                         "cannot be estimated from this scan")
    half = geometry.n_det / 4.0 if search is None else float(search)
    metric = _opposite_metric if method == "opposite" else _vo_column_metric
    # coarse: views thinned and detector elements binned (a smooth metric, cheap), then fine on the data
    small, g_small, shift = _binned(p, geometry, 4 if geometry.n_det >= 256 else 1,
                                    2 if geometry.n_views >= 180 else 1)
    pitch_s = g_small.det_spacing
    centre_s = geometry.det_offset - shift
    rough, _ = _minimise(metric(small, g_small), centre_s - half * geometry.det_spacing,
                         centre_s + half * geometry.det_spacing, 0.5 * pitch_s, 0.05 * pitch_s)
    rough += shift
    pitch = geometry.det_spacing
    fine = metric(p, geometry)
    x, seen = _minimise(fine, rough - 2 * pitch_s, rough + 2 * pitch_s, 0.25 * pitch, tolerance * pitch)
    name = "opposite rays" if method == "opposite" else "Fourier double wedge (Vo 2014)"
    curve = np.array(sorted(seen))
    at = np.interp(x, curve[:, 0], curve[:, 1])
    near = np.interp([x - pitch, x + pitch], curve[:, 0], curve[:, 1])
    confidence = float((near.mean() - at) / max(abs(at), 1e-300))
    evidence = float((fine(geometry.det_offset) - at) / max(abs(at), 1e-300))
    return CentreEstimate(det_offset=x, column=_column(geometry, x), method=name, confidence=confidence,
                          evidence=evidence, curve=curve, seconds=time.perf_counter() - t0)
