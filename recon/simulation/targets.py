"""Training targets that are made the way a real reference is made.

A real scan has no ground-truth image: models are compared against a *full-data reconstruction* (for the
HTC2022 phantoms, the organisers' FBP of all 720 views), which keeps the detector blur, the noise texture
and the resolution of FBP. Training against the simulated phantom asks a model to do something the
reference does not (and costs SSIM against it); training against the simulated equivalent of the
reference — Ram-Lak FBP of every simulated view on a finer grid, averaged down to the model's grid — asks
for exactly what the reference shows (measured effect: ``docs/research_sparse_view.md``).
"""

from __future__ import annotations

from typing import Optional

import torch

from ..analytic.filtered_backprojection import FBP
from ..geometry import Geometry

__all__ = ["full_view_fbp"]


def full_view_fbp(sinograms: torch.Tensor, geometry: Geometry, grid: Optional[Geometry] = None, refine: int = 2,
                  filter: str = "ram-lak", batch_size: int = 8, backend: Optional[str] = None) -> torch.Tensor:
    """FBP of all views of ``sinograms`` ``[n, V, D]`` (line integrals in ``geometry``) on the image grid of
    ``grid`` (default ``geometry``) refined ``refine``× (pixels ``refine``× smaller), then averaged over
    ``refine × refine`` blocks back to that grid: ``[n, N, N]`` μ in 1/mm, the dtype of ``sinograms``."""
    if int(refine) != refine or refine < 1:
        raise ValueError(f"refine must be a positive integer, got {refine!r}")
    refine = int(refine)
    grid = grid or geometry
    fine = geometry.replace(image_size=grid.image_size * refine, pixel_size=grid.pixel_size / refine)
    layer = FBP(fine, filter, 1.0, dtype=sinograms.dtype, backend=backend, warn=False)
    out = []
    with torch.no_grad():
        for i in range(0, sinograms.shape[0], batch_size):
            image = layer(sinograms[i:i + batch_size])
            out.append(torch.nn.functional.avg_pool2d(image[:, None], refine)[:, 0] if refine > 1 else image)
    return torch.cat(out) if out else sinograms.new_zeros((0,) + grid.image_shape)
