"""The per-view vector form of a 2-D scan: the one description of where the rays go that every kernel reads.

Every geometry — the circular :class:`~recon.ParallelBeam` and :class:`~recon.FanBeam` as well as the
per-view :class:`~recon.ParallelBeamVec` and :class:`~recon.FanBeamVec` — provides :meth:`vectors`, and the
operators derive everything they need from it (the Joseph coefficients of ``A``/``Aᵀ``, the detector map of
``B_w``), so a new geometry supplies its vectors and no operator needs a branch for it. The layout is ASTRA's
``parallel_vec``/``fanflat_vec`` (one row per view, mm):

* ``source`` ``[n_views, 2]``: the source position (fan), or the unit ray direction, from source side to
  detector side (parallel);
* ``detector`` ``[n_views, 2]``: the centre of the detector (the middle of its ``n_det`` elements);
* ``u`` ``[n_views, 2]``: from element ``j`` to element ``j + 1``, of length the element pitch.

Element ``j`` sits at ``detector + (j - (n_det - 1) / 2) · u``. An ``"arc"`` detector (not in ASTRA) is the
circle about the source through ``detector``; ``u`` is its tangent there (perpendicular to
``detector - source``) and its length the arc length between elements, so element ``j`` lies at the angle
``(j - (n_det - 1) / 2) · |u| / |detector - source|`` from the central ray.

Reference: W. van Aarle et al., "Fast and flexible X-ray tomography using the ASTRA toolbox", Opt. Express
24(22) 2016 (the ``_vec`` geometries); A. Hendriksen et al., "Tomosipo", Opt. Express 29(24) 2021 (``to_vec``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ViewVectors", "MODELS"]

#: The detector models a vector form can describe: rays parallel to ``source``, or from a point source onto
#: a flat line or onto an arc about the source.
MODELS = ("parallel", "flat", "arc")

# how far from perpendicular an arc detector's u axis may be (|cos| of the angle to the central ray)
_ARC_SQUARE = 1e-9


def _frozen(name: str, value, n_views: int | None) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(f"vectors: {name} must have shape [n_views, 2] (x, y in mm), got {arr.shape}")
    if n_views is not None and arr.shape[0] != n_views:
        raise ValueError(f"vectors: {name} has {arr.shape[0]} views, source has {n_views}")
    if not np.all(np.isfinite(arr)):
        view = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise ValueError(f"vectors: {name} must be finite; view {view} is {arr[view].tolist()}")
    arr.flags.writeable = False
    return arr


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


@dataclass(frozen=True, eq=False)
class ViewVectors:
    """One scan as per-view vectors (conventions in the module docstring).

    Parameters
    ----------
    source, detector, u : array_like, ``[n_views, 2]``
        Source position (or unit ray direction, ``model="parallel"``), detector centre, and the step from one
        detector element to the next, all in mm.
    model : {"parallel", "flat", "arc"}
    n_det : int
        Number of detector elements.

    Raises
    ------
    ValueError
        For vectors that are not finite or of inconsistent lengths, a detector axis of length 0, a ray direction
        of length 0 or along the detector, a source on the detector line, or an arc detector whose axis is not
        tangent to its circle.
    """

    source: np.ndarray
    detector: np.ndarray
    u: np.ndarray
    model: str
    n_det: int

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"vectors: model must be one of {MODELS}, got {self.model!r}")
        source = _frozen("source", self.source, None)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "detector", _frozen("detector", self.detector, source.shape[0]))
        object.__setattr__(self, "u", _frozen("u", self.u, source.shape[0]))
        self._check_degenerate()

    def _check_degenerate(self) -> None:
        pitch = np.hypot(*self.u.T)
        if pitch.min() <= 0:
            raise ValueError(f"vectors: the detector axis u has length 0 in view {int(np.argmin(pitch))}")
        if self.model == "parallel":
            ray = np.hypot(*self.source.T)
            if ray.min() <= 0:
                raise ValueError(f"vectors: the ray direction has length 0 in view {int(np.argmin(ray))}")
            slant = np.abs(_cross(self.u / pitch[:, None], self.source / ray[:, None]))
            if slant.min() < 1e-6:
                raise ValueError(f"vectors: the rays run along the detector in view {int(np.argmin(slant))}")
            return
        to_det = self.detector - self.source
        radius = np.hypot(*to_det.T)
        # the source's distance to the detector line (flat), or the arc's radius
        dist = np.abs(_cross(to_det, self.u)) / pitch if self.model == "flat" else radius
        if dist.min() <= 1e-9 * max(1.0, float(radius.max())):
            raise ValueError(f"vectors: the source lies on the detector in view {int(np.argmin(dist))}")
        if self.model == "arc":
            cos = np.abs((to_det * self.u).sum(axis=1)) / (radius * pitch)
            if cos.max() > _ARC_SQUARE ** 0.5:
                raise ValueError(f"vectors: an arc detector's u must be tangent to its circle (perpendicular to "
                                 f"detector - source); view {int(np.argmax(cos))} is off by "
                                 f"{np.degrees(np.arcsin(min(1.0, cos.max()))):.3g}°")

    # ---- derived ------------------------------------------------------------------------------------------
    @property
    def n_views(self) -> int:
        """Number of views."""
        return int(self.source.shape[0])

    @property
    def pitch(self) -> np.ndarray:
        """Detector element pitch per view, ``|u|`` in mm (arc length for an arc detector), ``[n_views]``."""
        return np.hypot(self.u[:, 0], self.u[:, 1])

    def element_offsets(self) -> np.ndarray:
        """``j - (n_det - 1) / 2`` for every element, ``[n_det]``: element ``j`` is this many steps from the centre."""
        return np.arange(self.n_det, dtype=np.float64) - (self.n_det - 1) / 2.0

    def as_array(self) -> np.ndarray:
        """ASTRA's row layout ``[n_views, 6]``: source (or ray), detector centre, u."""
        return np.concatenate([self.source, self.detector, self.u], axis=1)

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        """Ray of every sinogram element as (point, unit direction), each ``[n_views, n_det, 2]`` (mm).

        Parallel: the point is the detector element and the direction the ray's; fan: the point is the source
        and the direction points from it to the element (flat) or to its place on the arc."""
        k = self.element_offsets()[None, :, None]
        if self.model == "parallel":
            point = self.detector[:, None, :] + k * self.u[:, None, :]
            ray = self.source / np.hypot(*self.source.T)[:, None]
            return point, np.broadcast_to(ray[:, None, :], point.shape).copy()
        point = np.broadcast_to(self.source[:, None, :], (self.n_views, self.n_det, 2)).copy()
        if self.model == "flat":
            d = self.detector[:, None, :] + k * self.u[:, None, :] - point
        else:
            radius = np.hypot(*(self.detector - self.source).T)[:, None]
            central = (self.detector - self.source) / radius
            tangent = self.u / self.pitch[:, None]
            gamma = (k[..., 0] * self.pitch[:, None] / radius)[..., None]
            d = np.cos(gamma) * central[:, None, :] + np.sin(gamma) * tangent[:, None, :]
        return point, d / np.hypot(d[..., 0], d[..., 1])[..., None]

    def detector_map(self) -> "DetectorMap":
        """Where every image point lands on the detector, per view (the normal form of ``B_w``)."""
        return DetectorMap.from_vectors(self)


@dataclass(frozen=True)
class DetectorMap:
    """Where a point ``(x, y)`` (mm) lands on the detector in each view, and its FBP distance weight.

    With ``t = tx·x + ty·y + t0`` and ``L = lx·x + ly·y + l0`` (mm; all ``[n_views]`` float64):

    * ``parallel``: ``s = t``, weight 1;
    * ``flat``: ``s = R · t / L``, weight ``(D / L)²`` — ``L`` the distance from the source along the detector
      normal, ``R`` that of the detector line, ``D`` that of the origin (sod for a circular scan);
    * ``arc``: ``s = R · atan(t / L)``, weight ``1 / (L² + t²)`` — ``R`` the arc's radius.

    ``s`` is the position along the detector in mm, and the fractional element index is ``(s - s0) / pitch``
    with ``s0`` the position of element 0. For a circular scan ``t = x cos θ + y sin θ``,
    ``L = sod - x sin θ + y cos θ``, ``R = sdd``, ``D = sod``.
    """

    model: str
    tx: np.ndarray
    ty: np.ndarray
    t0: np.ndarray
    lx: np.ndarray
    ly: np.ndarray
    l0: np.ndarray
    radius: np.ndarray
    s0: np.ndarray
    pitch: np.ndarray
    n_det: int

    @classmethod
    def from_vectors(cls, v: ViewVectors) -> "DetectorMap":
        """The map of a vector form (see the class docstring for the quantities)."""
        pitch = v.pitch
        uhat = v.u / pitch[:, None]
        first = -(v.n_det - 1) / 2.0 * pitch  # element 0, from the detector centre
        ones, zeros = np.ones(v.n_views), np.zeros(v.n_views)
        if v.model == "parallel":
            ray = v.source / np.hypot(*v.source.T)[:, None]
            kappa = _cross(uhat, ray)  # s = cross(p - c, ray) / cross(û, ray)
            tx, ty = ray[:, 1] / kappa, -ray[:, 0] / kappa
            t0 = -(v.detector[:, 0] * tx + v.detector[:, 1] * ty)
            return cls("parallel", tx, ty, t0, zeros, zeros, ones, ones, first, pitch, v.n_det)
        to_det = v.detector - v.source
        if v.model == "arc":
            radius = np.hypot(*to_det.T)
            normal = to_det / radius[:, None]
            s_centre = zeros
        else:
            normal = np.stack([-uhat[:, 1], uhat[:, 0]], axis=1)  # ⟂ u, towards the detector
            normal *= np.sign((to_det * normal).sum(axis=1))[:, None]
            radius = (to_det * normal).sum(axis=1)
            s_centre = -(to_det * uhat).sum(axis=1)  # where the source's foot lies, from the detector centre
        tx, ty = uhat[:, 0], uhat[:, 1]
        t0 = -(v.source * uhat).sum(axis=1)
        lx, ly = normal[:, 0], normal[:, 1]
        l0 = -(v.source * normal).sum(axis=1)
        return cls(v.model, tx, ty, t0, lx, ly, l0, radius, first - s_centre, pitch, v.n_det)

    @property
    def n_views(self) -> int:
        return int(self.tx.size)

    def opposite_views(self, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
        """Pairs of views in which the point ``(-x, -y)`` of one lands where ``(x, y)`` lands in the other, with
        the same weight (views 180° apart on a circular orbit): ``(primary [m], opposite [m])`` int64, every view
        once, ``opposite = -1`` where a view has none. Candidates are paired by the direction of each view's
        ``(tx, ty)`` and kept where every coefficient agrees within ``tol`` (relative to its largest value)."""
        partner = partners_by_angle(np.arctan2(self.ty, self.tx), tol)
        views = np.flatnonzero(partner >= 0)
        for name, sign in (("tx", -1), ("ty", -1), ("lx", -1), ("ly", -1), ("t0", 1), ("l0", 1), ("radius", 1),
                           ("s0", 1), ("pitch", 1)):
            arr = getattr(self, name)
            off = np.abs(arr[partner[views]] - sign * arr[views]) > tol * (1.0 + np.abs(arr).max())
            bad = views[off]
            partner[partner[bad]] = -1
            partner[bad] = -1
            views = np.flatnonzero(partner >= 0)
        primary = np.flatnonzero((partner < 0) | (partner > np.arange(partner.size)))
        return primary.astype(np.int64), partner[primary].copy()


def partners_by_angle(angles: np.ndarray, tol: float) -> np.ndarray:
    """For each view the index of a view whose angle differs by π modulo 2π within ``tol`` rad (each view in at
    most one pair), or -1: ``[n_views]`` int64."""
    n = angles.size
    two_pi = 2.0 * np.pi
    wrapped = np.mod(angles, two_pi)
    order = np.argsort(wrapped, kind="stable")
    sorted_angles = wrapped[order]
    target = np.mod(wrapped + np.pi, two_pi)
    slot = np.searchsorted(sorted_angles, target)
    partner = np.full(n, -1, dtype=np.int64)
    for v in range(n):
        if partner[v] >= 0 or n < 2:
            continue
        for candidate in (slot[v] % n, (slot[v] - 1) % n):
            w = int(order[candidate])
            gap = abs((wrapped[w] - target[v] + np.pi) % two_pi - np.pi)
            if w != v and partner[w] < 0 and gap <= tol:
                partner[v], partner[w] = w, v
                break
    return partner
