"""recon's exact operator pair as a deepinv physics (``deepinv.physics.LinearPhysics``).

``A`` is :func:`recon.project` (line integrals, mm) and ``A_adjoint`` its exact adjoint
:func:`recon.backproject`, for every recon geometry — the arc-detector fan beam included, which deepinv's own
``Tomography`` lacks — batched over ``[B, C, N, N]`` images and ``[B, C, n_views, n_det]`` sinograms, on the
device of the input (the GPU kernels on CUDA tensors), differentiable. ``layout="deepinv"`` gives sinograms in
deepinv's own ``Tomography`` layout ``[B, C, n_det, n_views]`` instead (a drop-in for code written for it).
Everything else (noise models,
``A_dagger`` by least squares, ``prox_l2``, the adjointness test) is deepinv's.

Reference: J. Tachella et al., "DeepInverse: a Python package for solving imaging inverse problems with deep
learning", https://deepinv.github.io.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from ..geometry import Geometry
from ..operators import backproject, project

__all__ = ["to_deepinv"]


@lru_cache(maxsize=1)
def _physics_class() -> type:
    try:
        from deepinv.physics import LinearPhysics
    except ImportError:
        raise ImportError("recon.interop.to_deepinv needs deepinv: pip install deepinv") from None

    class ReconTomography(LinearPhysics):
        """deepinv ``LinearPhysics`` of a recon geometry: ``A`` = ``recon.project``, ``A_adjoint`` =
        ``recon.backproject`` (exact adjoint)."""

        def __init__(self, geometry: Geometry, transpose: bool, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.geometry = geometry
            self.transpose = transpose

        def A(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:  # noqa: N802 (deepinv's name)
            y = project(x, self.geometry)
            return y.transpose(-1, -2) if self.transpose else y

        def A_adjoint(self, y: torch.Tensor, **kwargs: Any) -> torch.Tensor:  # noqa: N802
            return backproject(y.transpose(-1, -2) if self.transpose else y, self.geometry)

    return ReconTomography


def to_deepinv(geometry: Geometry, layout: str = "recon", **kwargs: Any) -> Any:
    """A ``deepinv.physics.LinearPhysics`` for ``geometry`` (``A`` = :func:`recon.project`, ``A_adjoint`` =
    :func:`recon.backproject`); sinograms ``[..., n_views, n_det]`` (``layout="recon"``) or, as deepinv's
    ``Tomography`` has them, ``[..., n_det, n_views]`` (``layout="deepinv"``); ``kwargs`` go to ``LinearPhysics``
    (e.g. ``noise_model=deepinv.physics.GaussianNoise(0.01)``, ``max_iter``/``tol`` of its least-squares
    ``A_dagger``)."""
    if not isinstance(geometry, Geometry):
        raise TypeError(f"to_deepinv needs a recon geometry, got {type(geometry).__name__}")
    if layout not in ("recon", "deepinv"):
        raise ValueError(f"layout must be 'recon' ([..., n_views, n_det]) or 'deepinv' ([..., n_det, n_views]), "
                         f"got {layout!r}")
    return _physics_class()(geometry, layout == "deepinv", **kwargs)
