"""``torch.nn.Module`` wrappers that hold a geometry, for use as fixed layers of known-operator networks."""

from __future__ import annotations

from typing import Optional

import torch

from ..geometry import Geometry, ImageGrid, check_geometry, check_grid
from .functional import backproject, project, weighted_backproject

__all__ = ["Projector", "Backprojector", "WeightedBackprojector"]


class _GeometryOperator(torch.nn.Module):
    """A parameter-free layer applying one fixed linear operator of ``geometry``."""

    def __init__(self, geometry: Geometry, backend: Optional[str] = None, grid: Optional[ImageGrid] = None) -> None:
        super().__init__()
        self.geometry = check_geometry(geometry)
        self.grid = check_grid(grid, geometry)
        self.backend = backend

    def extra_repr(self) -> str:
        return repr(self.geometry) + ("" if self.grid == self.geometry.grid else f", {self.grid!r}")


class Projector(_GeometryOperator):
    """Forward projection ``A`` as a layer: ``[..., N, N]`` μ (1/mm) → ``[..., n_views, n_det]`` line integrals."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return project(image, self.geometry, grid=self.grid, backend=self.backend)


class Backprojector(_GeometryOperator):
    """Exact adjoint ``Aᵀ`` as a layer: ``[..., n_views, n_det]`` → ``[..., N, N]``."""

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        return backproject(sinogram, self.geometry, grid=self.grid, backend=self.backend)


class WeightedBackprojector(_GeometryOperator):
    """FBP backprojector ``B_w`` (distance-weighted, pixel-driven) as a layer: ``[..., n_views, n_det]`` →
    ``[..., N, N]``. See :func:`recon.weighted_backproject`."""

    def forward(self, sinogram: torch.Tensor) -> torch.Tensor:
        return weighted_backproject(sinogram, self.geometry, grid=self.grid, backend=self.backend)
