"""ASTRA's 2-D projectors as a back-end of recon's operators: ``recon.project(x, g, backend="astra")``.

Registered (lazily: ASTRA is imported on first use) when :mod:`recon` is imported, so ``backend="astra"`` works
wherever the ASTRA Toolbox is installed and says what is missing elsewhere. It provides ``A`` (``project``) and
its transpose ``Aᵀ`` (``backproject``) — ASTRA's own matrices, not recon's: Joseph's ``linear`` kernel for
parallel beams (recon's parallel ``A`` to float precision) and the ``line_fanflat`` kernel for flat fan beams
(within ~2 % of recon's) — on the CPU, and ASTRA's ``cuda`` projector for CUDA tensors where ASTRA finds a GPU.
Geometries go through :func:`recon.interop.to_astra` in mm (vector form, so offsets and per-view geometries are
kept), so the projections are line integrals. ASTRA computes in float32: float64 data come back in float64 at
float32 precision. It has no arc detectors and no ``B_w``: those raise a ``ValueError`` naming the operator.

Reference: W. van Aarle et al., *Opt. Express* 24(22), 25129 (2016).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..geometry import Geometry, ImageGrid
from .astra_geometry import _import_astra, to_astra

__all__ = ["AstraBackend", "make_astra_backend"]


class AstraBackend:
    """``project`` and ``backproject`` by ASTRA (see the module docstring)."""

    devices = "CPU tensors, and CUDA tensors where ASTRA was built with CUDA and finds a GPU"

    def __init__(self, astra: Any) -> None:
        self.astra = astra
        self.cuda = bool(astra.use_cuda())

    def usable(self, device: torch.device) -> bool:
        return device.type == "cpu" or (device.type == "cuda" and self.cuda)

    def _apply(self, x: torch.Tensor, g: Geometry, grid: ImageGrid, backprojection: bool) -> torch.Tensor:
        astra = self.astra
        vol, proj = to_astra(g, vectors=True, grid=grid)
        kind = "cuda" if x.device.type == "cuda" else ("linear" if proj["type"] == "parallel_vec" else "line_fanflat")
        pid = astra.create_projector(kind, proj, vol)
        try:
            data = x.detach().to("cpu", torch.float32).contiguous().numpy()
            out = []
            for item in data:
                did, result = (astra.create_backprojection if backprojection else astra.create_sino)(item, pid)
                astra.data2d.delete(did)
                out.append(np.asarray(result, dtype=np.float32))
        finally:
            astra.projector.delete(pid)
        return torch.from_numpy(np.stack(out)).to(device=x.device, dtype=x.dtype)

    def project(self, x: torch.Tensor, g: Geometry, grid: ImageGrid) -> torch.Tensor:
        return self._apply(x, g, grid, backprojection=False)

    def backproject(self, y: torch.Tensor, g: Geometry, grid: ImageGrid) -> torch.Tensor:
        return self._apply(y, g, grid, backprojection=True)


def make_astra_backend() -> AstraBackend:
    """The back-end, importing ASTRA (``ImportError`` saying how to install it where it is missing)."""
    return AstraBackend(_import_astra())
