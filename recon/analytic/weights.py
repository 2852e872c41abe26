"""View weights of analytic reconstruction: angular quadrature, scan coverage, and redundancy (Parker).

Fan-beam rays are lines: in this package's convention the ray (β, γ) — source angle β, fan angle γ — is
the parallel ray ``θ = β − γ``, ``s = sod · sin γ``, and its conjugate (the same line measured again) is
``(β + π − 2γ, −γ)``. A full 2π scan measures every line twice (weight ½); a short scan
(π + 2δ, δ = half fan angle) measures some twice and some once, which Parker's weights compensate
(D. L. Parker, Med. Phys. 9(2), 1982), here in the generalised form for any span ≥ π + 2δ
(δ' = (span − π)/2, Silver 2000).

References
----------
D. L. Parker, "Optimal short scan convolution reconstruction for fan beam CT", *Med. Phys.* 9(2),
254–257 (1982); M. D. Silver, "A method for including redundant data in computed tomography", *Med. Phys.*
27(4), 773–774 (2000).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..geometry import FanBeam, Geometry

__all__ = ["ScanCoverage", "LimitedAngleWarning", "scan_coverage", "arc_positions", "quadrature_weights",
           "parker_weights", "redundancy_weights"]


class LimitedAngleWarning(UserWarning):
    """The views cover less than a complete (short) scan: analytic FBP is biased for such data."""


@dataclass(frozen=True)
class ScanCoverage:
    """Angular coverage of a scan.

    kind : "full" (every line measured over the whole period), "short" (a fan scan of at least π + fan
        angle) or "limited" (less than needed for exact reconstruction).
    start : angle (rad) where the covered arc begins (0 for full scans).
    span : covered angular range (rad), from the first to the last view of the arc.
    required : the span an exact reconstruction needs: π for parallel beam, π + 2δ for fan beam.
    period : π (parallel) or 2π (fan): the angle after which views repeat.
    """

    kind: str
    start: float
    span: float
    required: float
    period: float


def _half_fan(geometry: FanBeam) -> float:
    return float(np.max(np.abs(geometry.fan_angles)))


def scan_coverage(geometry: Geometry) -> ScanCoverage:
    """Classify the angles of ``geometry``. A scan is *full* when no gap between neighbouring views
    (modulo the period) exceeds 3× the mean gap ``period / n_views`` or 1/36 of the period (5° parallel,
    10° fan) — so sparse, irregular or random full scans, and parallel 2π scans whose views pair up modulo
    π, count as full; otherwise its arc runs from the view after the largest gap, and its span decides
    between short scan and limited angle."""
    fan = geometry.point_source
    period = 2 * math.pi if fan else math.pi
    required = math.pi + 2 * _half_fan(geometry) if fan else math.pi
    a = np.sort(np.mod(geometry.angles, period))
    gaps = np.diff(np.concatenate([a, [a[0] + period]]))
    if a.size > 1:
        if gaps.max() <= max(3.0 * period / a.size, period / 36) + 1e-9:
            return ScanCoverage("full", 0.0, period, required, period)
    largest = int(np.argmax(gaps))
    start = float(a[(largest + 1) % a.size])
    span = float(period - gaps[largest])
    step = span / max(a.size - 1, 1)
    if fan and span >= required - 0.5 * step:
        kind = "short"
    else:
        kind = "limited"
    return ScanCoverage(kind, start, span, required, period)


def arc_positions(geometry: Geometry, coverage: ScanCoverage) -> np.ndarray:
    """Angle of each view measured from the start of the covered arc, in [0, period), ``[n_views]``."""
    return np.mod(geometry.angles - coverage.start, coverage.period)


def quadrature_weights(geometry: Geometry, coverage: ScanCoverage | None = None) -> np.ndarray:
    """Angular integration weight Δθ (rad) of each view, ``[n_views]``, from the actual angle gaps.

    Full scans: half the gap to each circular neighbour (modulo the period), so a uniform scan gets
    period / n_views everywhere and views repeated at the same angle share their weight. Arcs (short or
    limited): the trapezoidal rule over the arc (end views get half a gap).
    """
    coverage = coverage or scan_coverage(geometry)
    if coverage.kind == "full":
        pos = np.mod(geometry.angles, coverage.period)
        closed = True
    else:
        pos = arc_positions(geometry, coverage)
        closed = False
    order = np.argsort(pos, kind="stable")
    s = pos[order]
    if s.size == 1:
        w_sorted = np.array([coverage.period if closed else 0.0])
    elif closed:
        gaps = np.diff(np.concatenate([s, [s[0] + coverage.period]]))
        w_sorted = 0.5 * (gaps + np.roll(gaps, 1))
    else:
        gaps = np.diff(s)
        w_sorted = 0.5 * (np.concatenate([[0.0], gaps]) + np.concatenate([gaps, [0.0]]))
    weights = np.empty_like(w_sorted)
    weights[order] = w_sorted
    return weights


def parker_weights(beta: np.ndarray, gamma: np.ndarray, delta: float) -> np.ndarray:
    """Parker redundancy weights for source positions ``beta`` (rad from the arc start) and fan angles
    ``gamma`` (rad, this package's sign convention), over a span of π + 2·``delta``; broadcasts.

    With ``g = -gamma`` (Parker's sign convention, conjugate ray at β + π + 2g):
    ``sin²(π/4 · β/(δ−g))`` for β ≤ 2δ − 2g; 1 up to π − 2g; ``sin²(π/4 · (π+2δ−β)/(δ+g))`` up to π + 2δ;
    0 beyond. A ray and its conjugate sum to 1.
    """
    g = -np.clip(np.asarray(gamma, dtype=np.float64), -delta, delta)
    beta = np.asarray(beta, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.sin(np.pi / 4 * beta / (delta - g)) ** 2
        fall = np.sin(np.pi / 4 * (np.pi + 2 * delta - beta) / (delta + g)) ** 2
    w = np.where(beta < 2 * delta - 2 * g, rise, np.where(beta <= np.pi - 2 * g, 1.0, fall))
    w = np.where((beta < 0) | (beta > np.pi + 2 * delta), 0.0, w)
    return np.nan_to_num(w, nan=0.0)


def redundancy_weights(geometry: Geometry, warn: bool = True) -> np.ndarray:
    """Per-element weights ``[n_views, n_det]`` that turn a backprojection sum into the FBP integral:
    angular quadrature × redundancy. Full fan scans: Δβ · ½; short scans: Δβ · Parker(β, γ); parallel
    scans: Δθ over period π (a 2π parallel scan gets half weights automatically).

    For a *limited-angle* scan (less than π, or less than π + fan angle for fan beam) a
    :class:`LimitedAngleWarning` is issued and the best-effort weights (Parker over the available span
    for fan beam, plain quadrature for parallel beam) are returned: the image will be biased.
    """
    coverage = scan_coverage(geometry)
    quad = quadrature_weights(geometry, coverage)
    if coverage.kind == "limited" and warn:
        warnings.warn(
            f"the views span {math.degrees(coverage.span):.1f}°, less than the "
            f"{math.degrees(coverage.required):.1f}° an exact reconstruction needs "
            f"({'π + fan angle' if geometry.point_source else 'π'}): this is limited-angle data and "
            "analytic FBP will be biased (streaks, missing edges)", LimitedAngleWarning, stacklevel=3)
    if not geometry.point_source:
        return np.repeat(quad[:, None], geometry.n_det, axis=1)
    if coverage.kind == "full":
        return np.repeat(0.5 * quad[:, None], geometry.n_det, axis=1)
    delta = max((coverage.span - math.pi) / 2.0, 0.0)
    if delta == 0.0:
        return np.repeat(quad[:, None], geometry.n_det, axis=1)
    beta = arc_positions(geometry, coverage)[:, None]
    return quad[:, None] * parker_weights(beta, geometry.fan_angles[None, :], delta)
