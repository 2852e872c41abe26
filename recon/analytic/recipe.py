"""One analytic FBP recipe, and the one grid search that tunes it on data (every tuned baseline).

A recipe is filtered backprojection with every analytic choice a user can make written down::

    x = scale · B_w · F⁻¹ diag(k_window,cutoff) F · (taper ⊙ W₀ ⊙ P p)

* ``P`` — fixed view preparation: none, linear view interpolation ×``upsample`` of a uniform full scan
  (:func:`recon.analytic.views.upsample_views`), or completion of an arc to the full circle by the mean
  measured view (``complete_views``, :func:`recon.analytic.views.complete_arc`);
* ``W₀`` — the standard weights of :func:`recon.analytic.filtered_backprojection.fbp_weights` (detector
  pre-weights × angular quadrature × redundancy/Parker) of the prepared geometry;
* ``taper`` — a sin² ramp of the view weights over ``taper`` radians at both ends of an arc
  (:func:`recon.analytic.arcs.end_taper`);
* ``k`` — the windowed Kak–Slaney ramp of :mod:`recon.analytic.filters`;
* ``scale`` — a global factor (the least-squares optimum when tuned with ``fit_scale``).

``recon.fbp`` is the default recipe; the tuned baselines of ``recon evaluate`` / ``recon compare`` (window ×
cut-off for any scan, × view interpolation for sparse full scans, × end taper × scale for arcs) are
:func:`tune_recipe` over a grid, DIVal-style; and the analytic start of the learned models
(:mod:`recon.models`) is a recipe's response and weights.

References
----------
A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, IEEE Press, 1988, ch. 3.
J. Leuschner, M. Schmidt, D. O. Baguer and P. Maass, "LoDoPaB-CT, a benchmark dataset for low-dose computed
tomography reconstruction", *Scientific Data* 8, 109 (2021) — tuned-FBP baselines (DIVal).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from .._checks import integer, real
from ..geometry import Geometry, ImageGrid, as_circular
from ..operators.functional import check_input
from .arcs import end_taper
from .filtered_backprojection import FBP, FilterSpec, fbp_weights, filter_backproject, filter_spacing
from .filters import WINDOWS, canonical_window, filter_response
from .views import complete_arc, completed_geometry, upsample_views, upsampled_geometry
from .weights import scan_coverage

__all__ = ["fbp", "FBPRecipe", "TunedRecipe", "tune_recipe", "arc_grid", "CUTOFFS", "TAPERS"]

# the cut-offs (fractions of Nyquist) every grid search tries: from the strong low-passes that are the MSE
# optimum of limited-angle FBP (docs/limited_angle.md) to no cut-off at all
CUTOFFS = (0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
TAPERS = tuple(float(t) for t in np.deg2rad([0.0, 2.5, 5.0, 10.0, 20.0]))  # end tapers searched on arcs (rad)

ArrayLike = Union[np.ndarray, torch.Tensor]


@dataclass(frozen=True)
class FBPRecipe:
    """An analytic FBP (see the module docstring). ``taper`` in radians; ``upsample`` and
    ``complete_views`` exclude each other (interpolation needs a full scan, completion an arc)."""

    filter: str = "ram-lak"
    cutoff: float = 1.0
    upsample: int = 1
    taper: float = 0.0
    scale: float = 1.0
    complete_views: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "filter", canonical_window(self.filter))
        object.__setattr__(self, "cutoff", real("cutoff", self.cutoff, low=0.0, high=1.0, strict=True))
        object.__setattr__(self, "upsample", integer("upsample", self.upsample, low=1))
        object.__setattr__(self, "taper", real("taper", self.taper, low=0.0, unit="rad"))
        object.__setattr__(self, "scale", real("scale", self.scale))
        if self.upsample > 1 and self.complete_views:
            raise ValueError("a recipe interpolates the views of a full scan or completes an arc, not both")

    # ---- the reconstruction ------------------------------------------------------------------------------
    def operator_geometry(self, geometry: Geometry) -> Geometry:
        """Geometry of the prepared sinogram (the views the filter and the backprojection see)."""
        if self.complete_views:
            return completed_geometry(geometry)
        return upsampled_geometry(geometry, self.upsample) if self.upsample > 1 else geometry

    def prepare(self, sinogram: torch.Tensor, geometry: Geometry) -> tuple[torch.Tensor, Geometry]:
        """``P p`` and its geometry: views interpolated, completed, or as they are."""
        if self.complete_views:
            return complete_arc(sinogram, geometry)
        return upsample_views(sinogram, geometry, self.upsample) if self.upsample > 1 else (sinogram, geometry)

    def weights(self, geometry: Geometry, warn: bool = False) -> np.ndarray:
        """``scale · taper ⊙ W₀`` ``[n_views, n_det]`` float64 for sinograms in ``geometry`` (already
        prepared). ``warn``: warn about limited-angle data (:class:`recon.LimitedAngleWarning`)."""
        w = fbp_weights(geometry, warn=warn)
        if self.taper > 0:
            w = end_taper(geometry, self.taper)[:, None] * w
        return self.scale * w if self.scale != 1.0 else w

    def response(self, geometry: Geometry) -> np.ndarray:
        """Frequency response of the windowed ramp for ``geometry``, ``[padded_length(n_det) // 2 + 1]``."""
        spacing, arc = filter_spacing(geometry)
        return filter_response(geometry.n_det, spacing, self.filter, self.cutoff, arc)

    def reconstruct(self, sinogram: ArrayLike, geometry: Geometry, backend: Optional[str] = None,
                    warn: bool = False, grid: Optional[ImageGrid] = None) -> ArrayLike:
        """Reconstruct ``sinogram`` ``[..., n_views, n_det]`` (line integrals in ``geometry``): image
        ``[..., N, N]`` μ in 1/mm on ``grid`` (default the geometry's), numpy in → numpy out; differentiable in
        the sinogram."""
        x, was_numpy = check_input("FBPRecipe.reconstruct", "sinogram", sinogram, geometry)
        x, g = self.prepare(x, as_circular(geometry, "FBP"))
        w = torch.as_tensor(self.weights(g, warn), dtype=x.dtype, device=x.device)
        k = torch.as_tensor(self.response(g), dtype=x.dtype, device=x.device)
        out = filter_backproject(x * w, k, g, backend, grid)
        return out.detach().numpy() if was_numpy else out

    # ---- description -------------------------------------------------------------------------------------
    def describe(self) -> str:
        """E.g. ``"views interpolated ×6, hann, cut-off 0.8"`` or ``"hamming, cut-off 0.03, taper 5°, scale 1.023"``."""
        parts = [f"views interpolated ×{self.upsample}"] if self.upsample > 1 else []
        parts.append(f"{self.filter}, cut-off {self.cutoff:g}")
        if self.taper > 0 or self.scale != 1.0:
            parts.append(f"taper {math.degrees(self.taper):g}°, scale {self.scale:.3f}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (taper in degrees), e.g. for a run's ``metrics.json``."""
        return {"filter": self.filter, "cutoff": self.cutoff, "upsample": self.upsample,
                "taper_deg": math.degrees(self.taper), "scale": self.scale, "complete_views": self.complete_views}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FBPRecipe":
        """Inverse of :meth:`to_dict`; also reads the limited-angle baselines stored by earlier versions."""
        return cls(str(d.get("filter", "ram-lak")), float(d.get("cutoff", 1.0)), int(d.get("upsample", 1)),
                   math.radians(float(d.get("taper_deg", 0.0))), float(d.get("scale", 1.0)),
                   bool(d.get("complete_views", False)))


@dataclass(frozen=True)
class TunedRecipe:
    """The result of :func:`tune_recipe`: the best ``recipe`` (with its scale), its tuning ``mse`` and every
    candidate's ``scores`` ``{recipe at scale 1: (mse, least-squares scale)}``."""

    recipe: FBPRecipe
    mse: float
    scores: dict = field(default_factory=dict, repr=False, compare=False)

    def restricted(self, upsample: Sequence[int]) -> "TunedRecipe":
        """The best of the scored candidates whose view-interpolation factor is one of ``upsample``."""
        return _best({r: v for r, v in self.scores.items() if r.upsample in tuple(upsample)}, upsample)

    def describe(self) -> str:
        return self.recipe.describe()

    def to_dict(self) -> dict[str, Any]:
        return {**self.recipe.to_dict(), "mse": self.mse}


def fbp(sinogram: ArrayLike, geometry: Geometry, filter: FilterSpec = "ram-lak", cutoff: float = 1.0, *,
        backend: Optional[str] = None, warn: bool = True, grid: Optional[ImageGrid] = None) -> ArrayLike:
    """Analytic filtered backprojection (the default :class:`FBPRecipe`).

    Parameters
    ----------
    sinogram : torch.Tensor or numpy.ndarray, ``[..., n_views, n_det]``, float32/float64
        Line integrals (dimensionless). Leading dimensions are batch/channel.
    geometry : ParallelBeam or FanBeam
        Any angle set: full scans (π or 2π), fan short scans (π + fan angle, Parker weights chosen
        automatically), non-uniform spacing (weights from the actual gaps). Detector offsets are honoured.
    filter : {"ram-lak", "shepp-logan", "cosine", "hamming", "hann"} or array
        Window of the ramp, or a user frequency response over ``padded_length(n_det) // 2 + 1`` rfft bins
        (see :mod:`recon.analytic.filters`; frequencies from :func:`recon.analytic.filters.filter_frequencies`
        with the spacing of :func:`recon.analytic.filtered_backprojection.filter_spacing`).
    cutoff : float
        Fraction of the Nyquist frequency above which the filter is zero.
    backend : operator backend of :func:`recon.weighted_backproject`.
    warn : bool
        Warn (:class:`recon.LimitedAngleWarning`) when the views cover less than a (short) scan.
    grid : recon.ImageGrid, optional
        The image grid to reconstruct on (size, pixel size, centre); by default the geometry's own.

    Returns
    -------
    Image ``[..., N, N]`` of attenuation μ (1/mm) on ``grid``; numpy in → numpy out. Differentiable in the
    sinogram.

    Examples
    --------
    A disc of μ = 0.02/mm and radius 50 mm, projected exactly and reconstructed:

    >>> import numpy as np, recon
    >>> g = recon.ParallelBeam(np.linspace(0, np.pi, 180, endpoint=False), n_det=256, det_spacing=0.5,
    ...                        image_size=128, pixel_size=1.0)
    >>> sino = recon.ray_transform([recon.Ellipse(0.02, (0, 0), (50, 50))], g)
    >>> image = recon.fbp(sino, g, "hann", 0.8)
    >>> print(f"{image[64, 64]:.3f} 1/mm at the centre, {image[64, 5]:.3f} outside")
    0.020 1/mm at the centre, 0.000 outside

    References
    ----------
    A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, IEEE Press, 1988, ch. 3
    (eq. 3.61 parallel, 3.103 equiangular fan, 3.132 flat fan); D. L. Parker, "Optimal short scan
    convolution reconstruction for fan beam CT", *Med. Phys.* 9(2), 254–257 (1982).
    """
    if isinstance(filter, str):
        return FBPRecipe(filter, cutoff).reconstruct(sinogram, geometry, backend=backend, warn=warn, grid=grid)
    x, was_numpy = check_input("fbp", "sinogram", sinogram, geometry)
    out = FBP(geometry, filter, cutoff, dtype=x.dtype, backend=backend, warn=warn, grid=grid).to(x.device)(x)
    return out.detach().numpy() if was_numpy else out


def _best(scores: dict, upsample: Sequence[int] = ()) -> TunedRecipe:
    if not scores:
        raise ValueError(f"no scored candidate with a view-interpolation factor in {tuple(upsample)}")
    recipe, (mse, scale) = min(scores.items(), key=lambda item: item[1][0])
    return TunedRecipe(dataclasses.replace(recipe, scale=scale), mse, scores)


def _groups(sinograms: Any, targets: Any, geometries: Union[Geometry, Sequence[Geometry]]
            ) -> list[tuple[torch.Tensor, torch.Tensor, Geometry]]:
    """The samples grouped by geometry, each group one batch for the operators: ``[(sinograms [k, V, D],
    targets [k, N, N], geometry), ...]`` (dtypes kept)."""
    if isinstance(geometries, Geometry):
        x, t = torch.as_tensor(sinograms), torch.as_tensor(targets)
        if x.ndim != 3 or t.ndim != 3 or x.shape[0] != t.shape[0] or x.shape[0] == 0:
            raise ValueError(f"need matching, non-empty sinograms [n, V, D] and targets [n, N, N], got "
                             f"{tuple(x.shape)} and {tuple(t.shape)}")
        return [(x, t, geometries)]
    if not len(geometries) == len(sinograms) == len(targets) or len(sinograms) == 0:
        raise ValueError(f"need matching, non-empty sinograms, targets and geometries, got {len(sinograms)}, "
                         f"{len(targets)} and {len(geometries)}")
    groups: list[tuple[list, list, Geometry]] = []
    for s, t, g in zip(sinograms, targets, geometries):
        group = next((grp for grp in groups if grp[2] is g or grp[2] == g), None)
        if group is None:
            groups.append(group := ([], [], g))
        group[0].append(torch.as_tensor(s))
        group[1].append(torch.as_tensor(t))
    return [(torch.stack(x), torch.stack(t), g) for x, t, g in groups]


def tune_recipe(sinograms: Any, targets: Any, geometry: Union[Geometry, Sequence[Geometry]], *,
                windows: Sequence[str] = WINDOWS, cutoffs: Sequence[float] = CUTOFFS,
                upsample: Sequence[int] = (1,), tapers: Sequence[float] = (0.0,), complete_views: bool = False,
                fit_scale: bool = False, batch_size: int = 16, backend: Optional[str] = None) -> TunedRecipe:
    """Grid-search the recipe for the lowest mean squared error of its reconstructions of ``sinograms``
    (``[n, V, D]`` line integrals in ``geometry``, or a sequence of per-sample geometries such as arcs at
    different starts) against ``targets`` ``[n, N, N]`` (μ, 1/mm): every window × cut-off × view-interpolation
    factor × end taper (radians), views completed if ``complete_views``, with the least-squares optimal global
    scale of each candidate if ``fit_scale`` (else scale 1). Computes in the sinograms' dtype, ``batch_size``
    samples at a time. Candidates are tried in the order factor → taper → window → cut-off; ties keep the
    first."""
    groups = _groups(sinograms, targets, geometry)
    m = sum(t.numel() for _, t, _ in groups)
    tt = sum(float((t.double() ** 2).sum()) for _, t, _ in groups)
    scores: dict = {}
    for factor in upsample:
        start = FBPRecipe(upsample=int(factor), complete_views=complete_views)
        prepared = [start.prepare(x, g) + (t,) for x, t, g in groups]
        for taper in tapers:
            base = dataclasses.replace(start, taper=float(taper))
            # the weighted sinograms depend on the view preparation and the taper only
            weighted = [(x * torch.as_tensor(base.weights(g), dtype=x.dtype, device=x.device), t, g)
                        for x, g, t in prepared]
            for window in windows:
                for cutoff in cutoffs:
                    recipe = dataclasses.replace(base, filter=window, cutoff=float(cutoff))
                    scores[recipe] = _score(recipe, weighted, tt, m, fit_scale, batch_size, backend)
    return _best(scores, upsample)


def arc_grid(geometry: Geometry, complete_views: bool = False) -> dict[str, Any]:
    """The :func:`tune_recipe` keywords of the arc (limited-angle, short-scan) baselines for sinograms in
    ``geometry``: the end tapers of :data:`TAPERS` (none once the views are completed to the full circle: it
    has no arc ends) and the least-squares scale."""
    full = scan_coverage(completed_geometry(geometry) if complete_views else geometry).kind == "full"
    return {"tapers": (0.0,) if full else TAPERS, "fit_scale": True, "complete_views": complete_views}


def _score(recipe: FBPRecipe, weighted: list, tt: float, m: int, fit_scale: bool, batch_size: int,
           backend: Optional[str]) -> tuple[float, float]:
    """(MSE, scale) of one candidate on the weighted groups."""
    sse = ot = oo = 0.0
    with torch.no_grad():
        for x, t, g in weighted:
            k = torch.as_tensor(recipe.response(g), dtype=x.dtype, device=x.device)
            for i in range(0, x.shape[0], batch_size):
                out = filter_backproject(x[i:i + batch_size], k, g, backend).double()
                ti = t[i:i + batch_size].double()
                if fit_scale:
                    ot += float((out * ti).sum())
                    oo += float((out * out).sum())
                else:
                    sse += float(((out - ti) ** 2).sum())
    if not fit_scale:
        return sse / m, 1.0
    scale = ot / oo if oo > 0 else 1.0
    return (tt - 2 * scale * ot + scale * scale * oo) / m, scale
