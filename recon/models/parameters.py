"""The learnable parts of known-operator networks: a circulant filter ``k`` and per-element weights ``W``.

Both start from the analytic solution and learn a *correction*, so that an untrained model equals the
analytic operator exactly and the output stays affine in the filter coefficients (which is what makes the
least-squares optimum of :mod:`recon.models.lstsq` computable):

* :class:`LearnableFilter` — frequency response ``k = k₀ + Σ_r c_r s_r φ_r`` over the
  ``padded_length(n_det)//2+1`` rfft bins of :mod:`recon.analytic.filters`. A real frequency response is a symmetric
  spatial kernel. ``φ_r`` are either the bins themselves (``basis=None``: every bin free) or ``basis``
  piecewise-linear hat functions with knots evenly spread from 0 to the Nyquist frequency (a smooth filter
  with few parameters). ``s_r`` is the Ram-Lak ramp at the knot (floored at 1/R of its Nyquist value), so
  the coefficients are dimensionless *relative* corrections (``c_r = −1`` removes the frequency): the same
  learning rate suits every geometry and pixel size. One filter shared by all views, or one per view.
* :class:`LearnableWeights` — ``W = W₀ ⊙ (1 + δ)``: multiplicative correction of the analytic
  cosine × quadrature × redundancy weights ``[n_views, n_det]``, with ``δ`` free per element
  (``basis=None``) or a tensor-product of hat functions over (arc position, detector position) with
  ``basis = (n_view_knots, n_det_knots)`` — smooth weights that transfer between arcs of the same length.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ..analytic.filters import apply_filter, padded_length

__all__ = ["hat_basis", "LearnableFilter", "LearnableWeights"]


def hat_basis(positions: np.ndarray, n_knots: int) -> np.ndarray:
    """Piecewise-linear hat functions with ``n_knots`` knots evenly spread over [0, 1], evaluated at
    ``positions`` (values in [0, 1]): ``[n_knots, len(positions)]`` float64; the columns sum to 1."""
    if n_knots < 2:
        raise ValueError(f"a hat basis needs at least 2 knots, got {n_knots}")
    t = np.clip(np.asarray(positions, dtype=np.float64), 0.0, 1.0) * (n_knots - 1)
    knots = np.arange(n_knots, dtype=np.float64)[:, None]
    return np.maximum(0.0, 1.0 - np.abs(t[None, :] - knots))


class LearnableFilter(torch.nn.Module):
    """Circulant detector-row filter ``k = k₀ + c · Φ`` (see the module docstring).

    Parameters
    ----------
    initial : array ``[bins]``
        Analytic frequency response ``k₀`` (``bins = padded_length(n_det) // 2 + 1``), e.g. from
        :func:`recon.analytic.filters.filter_response`.
    n_det : int
        Detector elements of the sinograms it filters.
    basis : int or None
        Number of hat functions over [0, Nyquist]; ``None`` makes every bin a parameter.
    n_views : int or None
        One filter per view when given (coefficients ``[n_views, n_basis]``), else one shared filter.
    scale : array ``[bins]``, optional
        Typical magnitude of the response per bin (the Ram-Lak ramp of the geometry); the basis functions
        are scaled by it (see the module docstring). Default: no scaling.
    dtype : torch dtype of the buffers and parameters.
    """

    def __init__(self, initial: np.ndarray, n_det: int, basis: Optional[int] = None,
                 n_views: Optional[int] = None, scale: Optional[np.ndarray] = None,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        bins = padded_length(n_det) // 2 + 1
        initial = np.asarray(initial, dtype=np.float64)
        if initial.shape != (bins,):
            raise ValueError(f"initial filter response must have shape ({bins},) for n_det={n_det}, "
                             f"got {initial.shape}")
        phi = np.eye(bins) if basis is None else hat_basis(np.linspace(0.0, 1.0, bins), int(basis))
        if scale is not None:
            scale = np.abs(np.asarray(scale, dtype=np.float64))
            if scale.shape != (bins,):
                raise ValueError(f"scale must have shape ({bins},), got {scale.shape}")
            knots = np.rint(np.linspace(0, bins - 1, phi.shape[0])).astype(int) if basis is not None else np.arange(bins)
            phi = phi * np.maximum(scale[knots], scale.max() / phi.shape[0])[:, None]
        self.n_det = n_det
        self.per_view = n_views is not None
        self.register_buffer("initial", torch.as_tensor(initial, dtype=dtype))
        self.register_buffer("basis", torch.as_tensor(phi, dtype=dtype))
        shape = (n_views, phi.shape[0]) if n_views is not None else (phi.shape[0],)
        self.coefficients = torch.nn.Parameter(torch.zeros(shape, dtype=dtype))

    @property
    def n_basis(self) -> int:
        """Number of basis functions (coefficients per filter)."""
        return int(self.basis.shape[0])

    def response(self) -> torch.Tensor:
        """Current frequency response, ``[bins]`` (shared) or ``[n_views, bins]`` (per view)."""
        return self.initial + self.coefficients @ self.basis

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        """Filter every detector row of ``sinogram`` ``[..., n_views, n_det]``."""
        return apply_filter(sinogram, self.response())

    def apply_initial(self, sinogram: torch.Tensor) -> torch.Tensor:
        """Filter with the analytic response ``k₀`` (the offset of the affine map ``c ↦ filtered``)."""
        return apply_filter(sinogram, self.initial)

    def filter_basis(self, sinogram: torch.Tensor) -> torch.Tensor:
        """``sinogram`` ``[..., n_views, n_det]`` filtered by each basis function alone:
        ``[..., n_basis, n_views, n_det]`` (shared filter only) — the columns of the affine map
        ``c ↦ filtered sinogram`` used by the least-squares fit."""
        if self.per_view:
            raise ValueError("filter_basis is defined for a shared filter, not for per-view filters")
        return apply_filter(sinogram.unsqueeze(-3), self.basis[:, None, :])

    def extra_repr(self) -> str:
        kind = f"per view ({self.coefficients.shape[0]} views)" if self.per_view else "shared"
        return f"{kind}, {self.n_basis} basis functions over {self.initial.shape[-1]} bins"


class LearnableWeights(torch.nn.Module):
    """Per-element sinogram weights ``W = W₀ ⊙ (1 + δ)`` (see the module docstring).

    Parameters
    ----------
    initial : array ``[n_views, n_det]``
        Analytic weights ``W₀`` (e.g. :func:`recon.analytic.filtered_backprojection.fbp_weights`).
    basis : (int, int) or None
        Knots of the smooth tensor-product hat basis over (arc position, detector position); ``None``
        makes every element a parameter.
    view_positions : array ``[n_views]`` in [0, 1], optional
        Position of each view along its arc (0 = first view, 1 = last), for the smooth basis. Defaults to
        evenly spaced positions in the given view order.
    """

    def __init__(self, initial: np.ndarray, basis: Optional[Sequence[int]] = None,
                 view_positions: Optional[np.ndarray] = None, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        initial = np.asarray(initial, dtype=np.float64)
        if initial.ndim != 2:
            raise ValueError(f"initial weights must be [n_views, n_det], got shape {initial.shape}")
        n_views, n_det = initial.shape
        self.register_buffer("initial", torch.as_tensor(initial, dtype=dtype))
        if basis is None:
            self.view_basis = self.det_basis = None
            self.coefficients = torch.nn.Parameter(torch.zeros((n_views, n_det), dtype=dtype))
        else:
            if len(basis) != 2:
                raise ValueError(f"weight basis must be (n_view_knots, n_det_knots), got {basis!r}")
            if view_positions is None:
                view_positions = np.linspace(0.0, 1.0, n_views)
            view_positions = np.asarray(view_positions, dtype=np.float64)
            if view_positions.shape != (n_views,):
                raise ValueError(f"view_positions must have shape ({n_views},), got {view_positions.shape}")
            self.register_buffer("view_basis", torch.as_tensor(hat_basis(view_positions, basis[0]).T, dtype=dtype))
            self.register_buffer("det_basis",
                                 torch.as_tensor(hat_basis(np.linspace(0, 1, n_det), basis[1]), dtype=dtype))
            self.coefficients = torch.nn.Parameter(torch.zeros(tuple(basis), dtype=dtype))

    def correction(self) -> torch.Tensor:
        """``δ`` ``[n_views, n_det]``."""
        if self.view_basis is None:
            return self.coefficients
        return self.view_basis @ self.coefficients @ self.det_basis

    def weights(self) -> torch.Tensor:
        """Current weights ``W`` ``[n_views, n_det]``."""
        return self.initial * (1.0 + self.correction())

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        return sinogram * self.weights().to(sinogram.dtype)

    def extra_repr(self) -> str:
        shape = tuple(self.coefficients.shape)
        return f"{'smooth ' + 'x'.join(map(str, shape)) + ' basis' if self.view_basis is not None else 'per element'}"
