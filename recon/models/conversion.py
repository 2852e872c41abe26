"""Geometry conversion (rebinning) networks (Syben et al., GCPR 2018):

* fan → parallel: ``p_par = A_par · B_w,fan · F⁻¹ diag(k) F · (W ⊙ p_fan)``
* parallel → fan: ``p_fan = A_fan · B_w,par · F⁻¹ diag(k) F · (W ⊙ p_par)``

i.e. reconstruct on an intermediate image grid with a (learnable) FBP of the source geometry, keep the
disc both geometries see (outside it the source data are truncated and the FBP is meaningless) and
re-project exactly into the target geometry. ``A`` (Joseph projector) and ``B_w`` (distance-weighted
backprojector) are fixed; the filter ``k`` and the weights ``W`` start from analytic FBP of the source
geometry. The intermediate grid sets the resolution the conversion can carry: by default its pixel equals
the target's detector pitch at the isocentre and it covers the field of view seen by both geometries.
The output is a sinogram in the target geometry (feed it to :func:`recon.fbp` or a learned FBP).

With ``factor`` (a uniform full-scan source) the reconstruction stage is view-upsampled FBP instead
(:mod:`recon.models.view_upsampled`): the source views are zero-stuffed ``factor``×, filtered by a learnable
2-D view-circulant filter (start: linear view interpolation × the window) and backprojected over the
upsampled views: a sparse-view FBP's view-aliasing streaks would otherwise be reprojected into every output
view. Measured results and the ablation: ``docs/research_conversion.md``.

References
----------
C. Syben, B. Stimpel, J. Lommen, T. Würfl, A. Dörfler and A. Maier, "Deriving neural network architectures
using precision learning: parallel-to-fan beam conversion", GCPR 2018, LNCS 11269, 503–517; C. Syben,
B. Stimpel, K. Breininger et al., "Precision learning: reconstruction filter kernel discretization", CT Meeting
2018; Kak & Slaney (1988), ch. 3.4 (fan ↔ parallel relations).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import torch

from ..analytic.filtered_backprojection import FilterSpec
from ..analytic.rebinning import field_of_view_radius, isocentre_pitch
from ..geometry import FanBeam, Geometry, ParallelBeam, check_geometry
from ..operators.functional import project, weighted_backproject
from .base import KnownOperatorModel, analytic_parts, normalise_learn
from .view_upsampled import DEFAULT_VIEW_KNOTS, view_upsampled_parts

__all__ = ["GeometryConversion", "FanToParallel", "ParallelToFan"]


class GeometryConversion(KnownOperatorModel):
    """Sinogram conversion ``source`` → ``target`` through an intermediate image grid.

    Parameters
    ----------
    source, target : ParallelBeam or FanBeam
        Geometries of the input and output sinograms (their own image grids are not used).
    grid_pixel : float, optional
        Pixel size (mm) of the intermediate grid; default: the target's isocentre detector pitch.
    grid_size : int, optional
        Pixels per side of the intermediate grid; default: enough to cover the smaller of the two fields of
        view.
    filter, cutoff, learn, filter_basis, weight_basis :
        As for :class:`recon.models.LearnedFBP` (analytic FBP of the source geometry to start from).
    factor : int, optional
        Reconstruct with view-upsampled FBP (``factor``× views, learnable 2-D view-circulant filter, fixed
        weights; ``learn`` must be ``"filter"``, no filter/weight basis); the source must be a uniform full
        scan. ``view_knots``, ``det_knots``, ``det_max``: its basis, as for :class:`recon.ViewUpsampledFBP`.

    Notes
    -----
    Input ``[..., n_views_s, n_det_s]`` line integrals → output ``[..., n_views_t, n_det_t]`` line integrals.
    """

    output_kind = "sinogram"

    def __init__(self, source: Geometry, target: Geometry, grid_pixel: Optional[float] = None,
                 grid_size: Optional[int] = None, filter: FilterSpec = "ram-lak", cutoff: float = 1.0,
                 learn: Union[str, Iterable[str]] = "filter", filter_basis: Optional[int] = None,
                 weight_basis: Optional[Sequence[int]] = None, factor: Optional[int] = None,
                 view_knots: Sequence[float] = DEFAULT_VIEW_KNOTS, det_knots: int = 10, det_max: float = 0.8,
                 backend: Optional[str] = None, warn: bool = True, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        check_geometry(source, "source")
        check_geometry(target, "target")
        grid_pixel = float(grid_pixel) if grid_pixel is not None else isocentre_pitch(target)
        if grid_size is None:
            radius = min(field_of_view_radius(source), field_of_view_radius(target))
            grid_size = int(math.ceil(2.0 * radius / grid_pixel))
        self.geometry = source.replace(image_size=grid_size, pixel_size=grid_pixel)
        self.target_grid = target.replace(image_size=grid_size, pixel_size=grid_pixel)
        self.output_geometry = target
        self.grid_pixel, self.grid_size = grid_pixel, int(grid_size)
        self.support_radius = min(field_of_view_radius(source), field_of_view_radius(target))
        xy = self.geometry.pixel_coords
        support = np.hypot(xy[None, :], xy[::-1, None]) < self.support_radius
        self.register_buffer("support", torch.as_tensor(support, dtype=dtype))
        learn = normalise_learn(learn)
        if factor is None:
            self.filter, self.weights = analytic_parts(self.geometry, filter, cutoff, learn, filter_basis,
                                                       weight_basis, warn, dtype)
            self.upsampled_geometry = self.geometry
        else:
            if learn != ("filter",) or filter_basis is not None or weight_basis is not None:
                raise ValueError("with factor (view-upsampled reconstruction) the conversion learns its 2-D filter "
                                 "only: learn = 'filter', no filter_basis or weight_basis")
            self.filter, self.weights, self.upsampled_geometry = view_upsampled_parts(
                self.geometry, factor, filter, cutoff, view_knots, det_knots, det_max, warn, dtype)
        self.factor = None if factor is None else int(factor)
        self._record_settings(filter, cutoff, learn, filter_basis, weight_basis, backend)

    def after_filter(self, filtered: torch.Tensor) -> torch.Tensor:
        image = weighted_backproject(filtered, self.upsampled_geometry, backend=self.backend, check_finite=False)
        image = image * self.support.to(image.dtype)
        return project(image, self.target_grid, backend=self.backend, check_finite=False)

    def learned_parts(self) -> str:
        return f"×{self.factor} views, 2-D filter" if self.factor is not None else super().learned_parts()

    def config(self) -> dict[str, Any]:
        out = {"source": self.geometry.to_dict(), "target": self.output_geometry.to_dict(),
               "grid_pixel": self.grid_pixel, "grid_size": self.grid_size, **self._parameter_config()}
        if self.factor is not None:
            out.update(factor=self.factor, view_knots=self.filter.view_knots, det_knots=self.filter.det_knots,
                       det_max=self.filter.det_max)
        return out

    def extra_repr(self) -> str:
        return (f"{self.geometry.kind} → {self.output_geometry.kind}, grid {self.grid_size}² × {self.grid_pixel:g} mm, "
                f"filter={self.filter_name!r}, learn={'+'.join(self.learn)}"
                + (f", U={self.factor}" if self.factor is not None else ""))


def _circular(geometry: Any) -> bool:
    """Whether ``geometry`` is a circular 2-D scan (``kind`` parallel or fan; not a per-view vector geometry),
    as the conversions rebin along its view angles."""
    return isinstance(geometry, Geometry) and geometry.kind in ("parallel", "fan")


class FanToParallel(GeometryConversion):
    """Fan (flat or arc) → parallel conversion network; see :class:`GeometryConversion`."""

    def __init__(self, source: FanBeam, target: ParallelBeam, **kwargs: Any) -> None:
        if not _circular(source) or not source.point_source or not _circular(target) or target.point_source:
            raise TypeError("FanToParallel converts a FanBeam source to a ParallelBeam target, got "
                            f"{type(source).__name__} → {type(target).__name__}")
        super().__init__(source, target, **kwargs)


class ParallelToFan(GeometryConversion):
    """Parallel → fan (flat or arc) conversion network; see :class:`GeometryConversion`."""

    def __init__(self, source: ParallelBeam, target: FanBeam, **kwargs: Any) -> None:
        if not _circular(source) or source.point_source or not _circular(target) or not target.point_source:
            raise TypeError("ParallelToFan converts a ParallelBeam source to a FanBeam target, got "
                            f"{type(source).__name__} → {type(target).__name__}")
        super().__init__(source, target, **kwargs)
