"""Relations between geometries and their views: rebuilding from plain data, what differs, which views of
one scan another holds, evenly spread view subsets, and the one check that a value is a geometry."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from .beams import FanBeam, Geometry, ParallelBeam
from .cone import ConeBeam, ConeBeamVec
from .vector_beams import FanBeamVec, ParallelBeamVec

__all__ = ["check_geometry", "geometry_from_dict", "geometry_from_json", "geometry_differences", "view_indices",
           "arc_views", "evenly_spaced_views"]


def check_geometry(value: Any, name: str = "geometry") -> Geometry:
    """``value`` if it is a geometry of this package, else ``TypeError`` naming ``name``."""
    if not isinstance(value, Geometry):
        raise TypeError(f"{name} must be a recon geometry (ParallelBeam, FanBeam, ParallelBeamVec or FanBeamVec), "
                        f"got {type(value).__name__}")
    return value


_KINDS: dict[str, type] = {"parallel": ParallelBeam, "fan": FanBeam, "parallel_vec": ParallelBeamVec,
                           "fan_vec": FanBeamVec, "cone": ConeBeam, "cone_vec": ConeBeamVec}


def geometry_from_dict(d: dict[str, Any]) -> Any:
    """Rebuild a geometry (2-D or cone beam) from its ``to_dict`` output (validating it again)."""
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
    scale = getattr(expected, "pixel_size", 1.0)  # length tolerance: rtol × the pixel (mm for cone beams)
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
        elif isinstance(va, np.ndarray):
            if va.shape != vb.shape:
                diffs.append(f"{key}: shape {va.shape} expected, got {vb.shape}")
            elif not np.allclose(va, vb, rtol=rtol, atol=rtol * scale):
                view = int(np.argmax(np.abs(va - vb).max(axis=-1)))
                diffs.append(f"{key} differ (view {view}: {va[view].tolist()} expected, got {vb[view].tolist()})")
        elif isinstance(va, str) or isinstance(va, int):
            if va != vb:
                diffs.append(f"{key} {va!r} expected, got {vb!r}")
        elif isinstance(va, tuple):
            if len(va) != len(vb) or not np.allclose(va, vb, rtol=rtol, atol=rtol * scale):
                diffs.append(f"{key} {tuple(va)} expected, got {tuple(vb)}")
        elif not math.isclose(va, vb, rel_tol=rtol, abs_tol=rtol * scale):
            diffs.append(f"{key} {va:g} expected, got {vb:g}")
    return diffs


def evenly_spaced_views(n_views: int, count: int) -> np.ndarray:
    """Indices of ``count`` views evenly spread over ``range(n_views)`` starting with the first,
    ``round(k · n_views / count)``: 60 of 720 views keeps every 12th. ``[count]`` int64."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 1 <= count <= n_views:
        raise ValueError(f"cannot select {count!r} of {n_views} views (need an integer in 1 … {n_views})")
    return np.round(np.arange(count) * (n_views / count)).astype(np.int64)


def arc_views(angles: np.ndarray, start: float, stop: float) -> tuple[np.ndarray, np.ndarray]:
    """The views of ``angles`` (radians) on the arc from ``start`` to ``stop`` (both included): ``(indices,
    angles)``, the indices in their order along the arc and the angles continued by whole turns so that they
    increase from ``start``; the arc runs counter-clockwise, wraps through 0 when ``stop < start``, and one of 2π or
    more keeps every view as it is. ``ValueError`` when no view lies on it (the caller's scan semantics:
    :meth:`recon.io.Scan.select_angles`)."""
    two_pi = 2.0 * math.pi
    angles = np.asarray(angles, dtype=np.float64)
    length = stop - start if stop >= start else math.fmod(stop - start, two_pi) + two_pi
    if length >= two_pi:
        return np.arange(angles.size), angles.copy()
    tol = 1e-9 * max(1.0, abs(start), abs(stop))
    rel = np.mod(angles - start, two_pi)
    rel = np.where(rel > two_pi - tol, rel - two_pi, rel)  # an angle a hair below start counts as start
    keep = np.flatnonzero(rel <= length + tol)
    if keep.size == 0:
        raise ValueError(f"no view lies on the arc {math.degrees(start):.4g}° … {math.degrees(stop):.4g}°")
    keep = keep[np.argsort(rel[keep], kind="stable")]
    turns = np.round((start + rel[keep] - angles[keep]) / two_pi)  # whole turns that continue the arc
    return keep, angles[keep] + two_pi * turns


def view_indices(full: Geometry, subset: Geometry, tol: float = 1e-6) -> np.ndarray:
    """Indices into ``full.angles`` of the views of ``subset`` (angles compared modulo 2π within ``tol``
    rad), ``[subset.n_views]`` int64 — e.g. to cut a sparse-view model's views out of a full dataset.
    Raises ``ValueError`` if a view is missing or the detectors differ (the message names ``subset``'s value as
    the expected one and ``full``'s as the one found: a model's geometry against the data's)."""
    diffs = geometry_differences(subset, full, ignore=("angles", "image_size", "pixel_size"))
    if diffs:
        raise ValueError("the data's geometry differs from the one asked for: " + "; ".join(diffs))
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
