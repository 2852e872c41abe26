"""Limited-angle and short-scan reconstruction: arcs, the tuned analytic baseline, and learned redundancy
weights that work for any start angle of their arc length.

An *arc* is a run of consecutive views covering ``length`` radians from a start angle ``β₀`` (HTC2022's
limited-angle data: 90° … 30° arcs of a 0.5°-step fan scan). Tools:

* :func:`arc_view_indices`, :func:`cut_arc` — cut an arc from a full scan (sinogram + geometry); the cut
  geometry's angles run unwrapped from ``β₀`` (they equal the original ones modulo 2π);
* :func:`end_taper` — a smooth sin² ramp of the view weights over ``taper`` radians at both ends of the arc
  (reduces the streaks that the hard arc ends cause);
* :class:`LimitedAngleFBP` / :func:`tune_limited_angle_fbp` — the fair analytic baseline: FBP with window,
  cut-off, end-of-arc taper and a global scale all chosen for the lowest MSE on training data (the scale
  is the least-squares optimum for each candidate, so it is exact, not a grid value);
  :meth:`LimitedAngleFBP.model` builds a :class:`recon.models.LearnedFBP` that reproduces it exactly
  (the starting point of learning: Parker weights for short scans, the tuned limited-angle FBP otherwise);
* :func:`arc_offset`, :func:`retarget` — a model trained for an arc ``[β₀, β₀ + L]`` applied to a scan of
  the same arc length and view spacing starting elsewhere: the weights ``W(β − β_start, u)`` are indexed by
  the position along the arc, so they carry over unchanged; only the backprojection uses the scan's actual
  angles. Retargeting a model to its own arc is the identity;
* view completion (:func:`recon.views.complete_arc`, ``LearnedFBP(..., complete_views=True)``): the missing
  views of the circle are filled with the mean of the measured views (exact for a centred rotation-symmetric
  object such as the HTC2022 discs, whose projection is the same in every view), and a learned FBP over the
  full circle with weights ``W(β − β_start, u)`` decides how much each measured and each filled-in ray counts;
  :func:`tune_start` tunes the analytic start of either kind of model;
* :func:`fit_filter_on_arcs`, :func:`train_on_arcs` — least-squares filter and Adam training (filter +
  weights) on samples whose arcs start at different angles (each sample is backprojected with its own
  angles through a parameter-sharing retargeted model).

Angles are in radians throughout (the study script and the CLI speak degrees).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np
import torch

from .filtered_backprojection import fbp_weights, filter_spacing
from .filters import WINDOWS, apply_filter, filter_response
from ..geometry import Geometry, geometry_differences
from ..models import KnownOperatorModel, LearnedFBP
from ..models.lstsq import filter_normal_equations
from ..operators.functional import weighted_backproject
from .views import complete_arc
from .weights import arc_positions, scan_coverage

__all__ = ["arc_view_indices", "cut_arc", "end_taper", "LimitedAngleFBP", "tune_limited_angle_fbp",
           "DEFAULT_TAPERS", "DEFAULT_CUTOFFS", "arc_offset", "retarget", "ArcSample", "fit_filter_on_arcs",
           "train_on_arcs", "arc_loss", "tune_start"]

# the MSE optimum of limited-angle FBP is a strong low-pass (HTC discs: hamming/hann 0.03 of Nyquist at 90°
# and 70°, 0.003 at 50°; docs/limited_angle.md): the cut-off grid reaches far below the usual 0.3
DEFAULT_CUTOFFS = (0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
DEFAULT_TAPERS = tuple(np.deg2rad([0.0, 2.5, 5.0, 10.0, 20.0]))

ArrayLike = Union[np.ndarray, torch.Tensor]


# ---- arcs ------------------------------------------------------------------------------------------------------

def _from_start(angles: np.ndarray, start: float, tol: float = 1e-6) -> np.ndarray:
    """Angles measured counter-clockwise from ``start``, in [−tol, 2π − tol) (a hair below ``start`` is 0)."""
    rel = np.mod(angles - start, 2 * math.pi)
    return np.where(rel > 2 * math.pi - tol, rel - 2 * math.pi, rel)


def arc_view_indices(geometry: Geometry, length: float, start: float = 0.0, tol: float = 1e-6) -> np.ndarray:
    """Indices of the views of ``geometry`` on the arc ``[start, start + length]`` (radians, modulo 2π, both
    ends included within ``tol``), ordered along the arc, ``[k]`` int64."""
    if not (0.0 < length < 2 * math.pi + tol):
        raise ValueError(f"arc length must be in (0, 2π] rad, got {length!r}")
    rel = _from_start(geometry.angles, start, tol)
    keep = np.flatnonzero(rel <= length + tol)
    if keep.size < 2:
        raise ValueError(f"fewer than 2 views lie on the arc {math.degrees(start):.4g}° + {math.degrees(length):.4g}°")
    return keep[np.argsort(rel[keep], kind="stable")].astype(np.int64)


def cut_arc(sinogram: ArrayLike, geometry: Geometry, length: float, start: float = 0.0
            ) -> tuple[ArrayLike, Geometry]:
    """The views of ``sinogram`` ``[..., n_views, n_det]`` (in ``geometry``) on the arc of ``length``
    radians starting at ``start``: ``(arc sinogram, arc geometry)``. The arc geometry's angles are
    ``start + position along the arc`` (unwrapped, increasing; equal to the original angles modulo 2π)."""
    idx = arc_view_indices(geometry, length, start)
    arc_geometry = geometry.replace(angles=start + _from_start(geometry.angles[idx], start))
    if isinstance(sinogram, torch.Tensor):
        return sinogram[..., torch.from_numpy(idx), :], arc_geometry
    return np.asarray(sinogram)[..., idx, :], arc_geometry


def end_taper(geometry: Geometry, taper: float) -> np.ndarray:
    """View weights ``[n_views]`` in [0, 1]: ``sin²(π/2 · d / taper)`` for views within ``taper`` radians of
    either end of the covered arc (``d`` = distance to the nearer end), 1 elsewhere; all ones for
    ``taper`` = 0 or a full scan."""
    coverage = scan_coverage(geometry)
    if taper <= 0 or coverage.kind == "full":
        return np.ones(geometry.n_views)
    pos = arc_positions(geometry, coverage)
    d = np.minimum(pos, coverage.span - pos)
    return np.where(d < taper, np.sin(0.5 * math.pi * np.clip(d, 0.0, None) / taper) ** 2, 1.0)


# ---- the tuned analytic baseline ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LimitedAngleFBP:
    """Analytic limited-angle FBP: ``x = scale · B_w F⁻¹ diag(k_window,cutoff) F (taper ⊙ W₀ ⊙ p)`` with the
    standard weights ``W₀`` of :func:`recon.fbp.fbp_weights` (cosine × quadrature × Parker over the arc).
    With ``complete_views`` the arc is first completed to the full circle by the mean measured view
    (:func:`recon.views.complete_arc`) and the FBP is that of the circle.

    ``taper`` in radians; ``mse`` the tuning MSE; ``scores`` ``{(window, cutoff, taper): (mse, scale)}``."""

    filter: str = "ram-lak"
    cutoff: float = 1.0
    taper: float = 0.0
    scale: float = 1.0
    mse: float = float("nan")
    scores: dict = field(default_factory=dict, compare=False, repr=False)
    complete_views: bool = False

    def describe(self) -> str:
        return f"{self.filter}, cut-off {self.cutoff:g}, taper {math.degrees(self.taper):g}°, scale {self.scale:.3f}"

    def response(self, geometry: Geometry) -> np.ndarray:
        """The filter's frequency response for ``geometry``."""
        spacing, arc = filter_spacing(geometry)
        return filter_response(geometry.n_det, spacing, self.filter, self.cutoff, arc)

    def weights(self, geometry: Geometry) -> np.ndarray:
        """``scale · taper ⊙ W₀`` ``[n_views, n_det]`` float64."""
        return self.scale * end_taper(geometry, self.taper)[:, None] * fbp_weights(geometry, warn=False)

    def reconstruct(self, sinogram: ArrayLike, geometry: Geometry) -> ArrayLike:
        """Reconstruct ``sinogram`` ``[..., n_views, n_det]`` (line integrals in ``geometry``, any arc start):
        image ``[..., N, N]``; numpy in → numpy out."""
        was_numpy = not isinstance(sinogram, torch.Tensor)
        x = torch.as_tensor(np.asarray(sinogram) if was_numpy else sinogram)
        if not x.is_floating_point():
            x = x.double()
        if self.complete_views:
            x, geometry = complete_arc(x, geometry)
        w = torch.as_tensor(self.weights(geometry), dtype=x.dtype)
        k = torch.as_tensor(self.response(geometry), dtype=x.dtype)
        out = weighted_backproject(apply_filter(x * w, k), geometry, check_finite=False)
        return out.detach().numpy() if was_numpy else out

    def model(self, geometry: Geometry, learn: Union[str, Iterable[str]] = "filter+weights",
              weight_basis: Optional[Sequence[int]] = None, filter_basis: Optional[int] = None,
              positivity: bool = False, dtype: torch.dtype = torch.float32) -> LearnedFBP:
        """A :class:`LearnedFBP` for ``geometry`` whose untrained output is exactly :meth:`reconstruct`
        (without ``positivity``; views completed if this baseline completes them): the
        filter starts from this window and the weights from ``scale · taper ⊙ W₀`` (stored in the state
        dict, so :func:`recon.models.save_model` keeps them)."""
        model = LearnedFBP(geometry, learn=learn, filter_basis=filter_basis, weight_basis=weight_basis,
                           positivity=positivity, warn=False, complete_views=self.complete_views, dtype=dtype)
        return self.initialise(model)

    def initialise(self, model: LearnedFBP) -> LearnedFBP:
        """Make ``model``'s analytic start (filter ``k₀`` and weights ``W₀``, shared filter or per view, in
        the model's operator geometry) this baseline, in place; its learned corrections are kept. Returns
        ``model``."""
        if not isinstance(model, LearnedFBP):
            raise TypeError(f"a limited-angle start applies to LearnedFBP models, got {type(model).__name__}")
        if model.complete_views != self.complete_views:
            raise ValueError(f"this start is for a model with complete_views={self.complete_views}")
        g = model.operator_geometry
        with torch.no_grad():
            model.filter.initial.copy_(torch.as_tensor(self.response(g), dtype=model.filter.initial.dtype))
            model.weights.initial.copy_(torch.as_tensor(self.weights(g), dtype=model.weights.initial.dtype))
        return model

    def to_dict(self) -> dict[str, Any]:
        """The choice as plain data (taper in degrees), e.g. for a run's ``metrics.json``."""
        return {"filter": self.filter, "cutoff": self.cutoff, "taper_deg": math.degrees(self.taper),
                "scale": self.scale, "mse": self.mse, "complete_views": self.complete_views}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LimitedAngleFBP":
        """Inverse of :meth:`to_dict`."""
        return cls(str(d["filter"]), float(d["cutoff"]), math.radians(float(d["taper_deg"])), float(d["scale"]),
                   float(d.get("mse", float("nan"))), complete_views=bool(d.get("complete_views", False)))


def _groups(sinograms: Any, targets: Any, geometries: Union[Geometry, Sequence[Geometry]]
            ) -> list[tuple[torch.Tensor, torch.Tensor, Geometry]]:
    """Samples grouped by geometry, so that each group runs through the operators as one batch:
    ``[(sinograms [k, n_views, n_det], targets [k, N, N], geometry), ...]`` in float64."""
    if isinstance(geometries, Geometry):
        geometries = [geometries] * len(sinograms)
    if not len(geometries) == len(sinograms) == len(targets) or len(sinograms) == 0:
        raise ValueError(f"need matching, non-empty sinograms, targets and geometries, got {len(sinograms)}, "
                         f"{len(targets)} and {len(geometries)}")
    groups: list[tuple[list, list, Geometry]] = []
    for s, t, g in zip(sinograms, targets, geometries):
        group = next((grp for grp in groups if grp[2] is g or grp[2] == g), None)
        if group is None:
            groups.append(group := ([], [], g))
        group[0].append(torch.as_tensor(s, dtype=torch.float64))
        group[1].append(torch.as_tensor(t, dtype=torch.float64))
    return [(torch.stack(x), torch.stack(t), g) for x, t, g in groups]


def tune_limited_angle_fbp(sinograms: Any, targets: Any, geometry: Union[Geometry, Sequence[Geometry]],
                           windows: Sequence[str] = WINDOWS, cutoffs: Sequence[float] = DEFAULT_CUTOFFS,
                           tapers: Sequence[float] = DEFAULT_TAPERS, fit_scale: bool = True) -> LimitedAngleFBP:
    """Grid-search window × cut-off × end taper (radians), with the least-squares optimal global scale for
    each candidate, for the lowest MSE of ``sinograms`` (``[n, n_views, n_det]``, in ``geometry`` — or a
    sequence of per-sample geometries, e.g. arcs at different starts) against ``targets`` ``[n, N, N]``.
    Ram-Lak has no window, so only its cut-off is searched. Returns the best :class:`LimitedAngleFBP`."""
    groups = _groups(sinograms, targets, geometry)
    tt = sum(float((t * t).sum()) for _, t, _ in groups)
    m = sum(t.numel() for _, t, _ in groups)
    scores: dict = {}
    for taper in tapers:
        # the weighted sinograms depend only on the taper: filter each with every window/cut-off
        weighted = [(x * torch.as_tensor(end_taper(g, taper)[:, None] * fbp_weights(g, warn=False)), t, g)
                    for x, t, g in groups]
        for window in windows:
            for cutoff in cutoffs:
                ot = oo = 0.0
                for x, t, g in weighted:
                    spacing, arc = filter_spacing(g)
                    k = torch.as_tensor(filter_response(g.n_det, spacing, window, float(cutoff), arc))
                    out = weighted_backproject(apply_filter(x, k), g, check_finite=False)
                    ot += float((out * t).sum())
                    oo += float((out * out).sum())
                scale = ot / oo if fit_scale and oo > 0 else 1.0
                mse = (tt - 2 * scale * ot + scale * scale * oo) / m
                scores[(window, float(cutoff), float(taper))] = (mse, scale)
    (window, cutoff, taper), (mse, scale) = min(scores.items(), key=lambda item: item[1][0])
    return LimitedAngleFBP(window, cutoff, taper, scale, mse, scores)


def tune_start(model: LearnedFBP, sinograms: torch.Tensor, targets: torch.Tensor, **grid: Any) -> LimitedAngleFBP:
    """Tune the limited-angle FBP on what ``model``'s filter sees — ``sinograms`` ``[n, n_views, n_det]`` in
    ``model.geometry``, prepared (e.g. completed to the circle) — against ``targets`` ``[n, N, N]``, and make
    it the model's analytic start (:meth:`LimitedAngleFBP.initialise`). ``grid``: keyword arguments of
    :func:`tune_limited_angle_fbp`. Returns the baseline."""
    with torch.no_grad():
        prepared = model.prepare(torch.as_tensor(sinograms).double())
    g = model.operator_geometry
    if scan_coverage(g).kind == "full":
        grid.setdefault("tapers", (0.0,))  # a full circle has no arc ends to taper
    baseline = tune_limited_angle_fbp(prepared, torch.as_tensor(targets).double(), g, **grid)
    baseline = dataclasses.replace(baseline, complete_views=model.complete_views)
    baseline.initialise(model)
    return baseline


# ---- arcs at other start angles ----------------------------------------------------------------------------

def arc_offset(reference: Geometry, geometry: Geometry, tol: float = 1e-5) -> float:
    """The constant angle offset ``φ`` (radians, in (−π, π]) with ``geometry.angles ≡ reference.angles + φ``
    (mod 2π), view by view; raises ``ValueError`` saying what differs when the acquisitions (detector,
    distances, number of views) differ or the angles are not a rotated copy (e.g. another view spacing)."""
    diffs = geometry_differences(reference, geometry, ignore=("angles", "image_size", "pixel_size"))
    if reference.n_views != geometry.n_views:
        diffs.append(f"{reference.n_views} views expected, got {geometry.n_views}")
    if diffs:
        raise ValueError("the geometries differ: " + "; ".join(diffs))
    d = np.angle(np.exp(1j * (geometry.angles - reference.angles)))
    offset = float(np.angle(np.mean(np.exp(1j * d))))
    resid = np.abs(np.angle(np.exp(1j * (d - offset))))
    if resid.max() > tol:
        i = int(np.argmax(resid))
        raise ValueError(f"the views are not the model's arc rotated by a constant angle (view {i} is "
                         f"{math.degrees(resid[i]):.4g}° off a rotation by {math.degrees(offset):.4g}°): "
                         "same arc length and view spacing, in the same order, are required")
    return offset


def retarget(model: KnownOperatorModel, geometry: Geometry, share: bool = True) -> KnownOperatorModel:
    """``model`` applied to scans whose arc is the model's rotated by a constant angle (see
    :func:`arc_offset`): the same filter and weights (indexed by position along the arc), backprojection
    with the rotated angles, on the model's image grid. ``share=True`` shares the parameters with
    ``model`` (training through it updates ``model``); otherwise an independent copy is returned."""
    if not isinstance(model, LearnedFBP):
        raise TypeError(f"retarget applies to LearnedFBP models, got {type(model).__name__}")
    offset = arc_offset(model.geometry, geometry)
    new_geometry = model.geometry.replace(angles=model.geometry.angles + offset)
    out = copy.copy(model) if share else copy.deepcopy(model)
    object.__setattr__(out, "geometry", new_geometry)
    object.__setattr__(out, "output_geometry", new_geometry)
    return out


# ---- training on arcs at random start angles ---------------------------------------------------------------

@dataclass
class ArcSample:
    """One training/evaluation sample: an arc sinogram ``[n_views, n_det]`` in ``geometry`` and its target
    image ``[N, N]``."""

    sinogram: torch.Tensor
    geometry: Geometry
    target: torch.Tensor


def fit_filter_on_arcs(model: LearnedFBP, samples: Sequence[ArcSample], ridge: float = 1e-8,
                       apply: bool = True) -> dict[str, float]:
    """Least-squares optimal shared filter of ``model`` (weights fixed) for arc samples at any start angle
    (each through :func:`retarget`). Returns ``{"loss", "loss_before", "n_samples"}`` (MSE; output
    activation ignored)."""
    r = model.filter.n_basis
    gram, rhs = np.zeros((r, r)), np.zeros(r)
    ss_offset = ss_current = 0.0
    elements = 0
    for s in samples:
        g, b, so, sc, e, _ = filter_normal_equations(retarget(model, s.geometry), [(s.sinogram[None], s.target[None])])
        gram += g
        rhs += b
        ss_offset += so
        ss_current += sc
        elements += e
    reg = ridge * max(float(np.mean(np.diag(gram))), np.finfo(float).tiny)
    c = np.linalg.solve(gram + reg * np.eye(r), rhs)
    loss = (ss_offset - 2.0 * c @ rhs + c @ gram @ c) / elements
    if apply:
        with torch.no_grad():
            model.filter.coefficients.copy_(torch.as_tensor(c, dtype=model.filter.coefficients.dtype))
    return {"loss": float(max(loss, 0.0)), "loss_before": ss_current / elements, "n_samples": len(samples)}


def arc_loss(model: LearnedFBP, samples: Sequence[ArcSample], ssim_weight: float = 0.0,
             grad: bool = False) -> torch.Tensor:
    """Mean over ``samples`` of MSE (+ ``ssim_weight`` · (1 − SSIM) · mean(t²), which keeps the SSIM term
    on the MSE's scale) of the retargeted model's output."""
    from ..metrics import ssim

    total = 0.0
    with torch.set_grad_enabled(grad):
        for s in samples:
            out = retarget(model, s.geometry)(s.sinogram)
            t = s.target.to(out.dtype)
            loss = torch.mean((out - t) ** 2)
            if ssim_weight:
                loss = loss + ssim_weight * torch.mean(t ** 2) * (1.0 - ssim(out[None], t[None]).mean())
            total = total + loss / len(samples)
    return total if isinstance(total, torch.Tensor) else torch.tensor(total)


def train_on_arcs(model: LearnedFBP, draw: Callable[[np.random.Generator, int], list[ArcSample]], steps: int,
                  batch_size: int = 4, lr: float = 1e-2, ssim_weight: float = 0.0, smoothness: float = 0.0,
                  seed: int = 0, log_every: int = 0, validation: Optional[Sequence[ArcSample]] = None
                  ) -> list[dict[str, Any]]:
    """Adam on the learnable parameters of ``model``: each step draws ``batch_size`` samples with
    ``draw(rng, batch_size)`` (e.g. random phantoms at random arc starts) and minimises :func:`arc_loss`.
    ``smoothness`` adds that multiple of the mean squared first differences of per-element weight
    corrections (along views and detectors) to the loss, relative to the batch's mean(t²). Returns the
    history (``step``, ``loss``, ``val_loss`` every ``log_every`` steps, ``seconds``)."""
    rng = np.random.default_rng(seed)
    params = model.learnable_parameters()
    if not params:
        raise ValueError("the model has no learnable parameters")
    opt = torch.optim.Adam(params, lr=lr)
    history = []
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        batch = draw(rng, batch_size)
        opt.zero_grad(set_to_none=True)
        loss = arc_loss(model, batch, ssim_weight, grad=True)
        if smoothness and model.weights.view_basis is None and model.weights.coefficients.requires_grad:
            d = model.weights.coefficients
            scale = torch.mean(torch.stack([torch.mean(s.target.to(d.dtype) ** 2) for s in batch])).detach()
            loss = loss + smoothness * scale * (torch.mean(torch.diff(d, dim=0) ** 2) + torch.mean(torch.diff(d, dim=1) ** 2))
        loss.backward()
        opt.step()
        row = {"step": step, "loss": loss.item(), "seconds": round(time.perf_counter() - t0, 2)}
        if log_every and (step % log_every == 0 or step == steps) and validation:
            row["val_loss"] = float(arc_loss(model, validation))
        history.append(row)
    return history
