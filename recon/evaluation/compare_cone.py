"""``recon compare`` on a cone-beam scan: learned FDK models against FDK and CGLS, volume against volume.

Every method reconstructs the same (e.g. sparse-view or limited-angle) selection of the scan on the same volume —
the first model's, else the scan's default (:meth:`recon.io.ConeScan.default_grid`):

* ``fdk`` — FDK with Ram-Lak (Parker weights for short scans);
* ``fdk_oracle`` — FDK with the window × cut-off that minimises the MSE against the reference itself (an upper
  bound for any choice of window, not a recipe one could use on a new scan);
* ``cgls`` — CGLS on the exact cone-beam operators (30 iterations), any trajectory;
* ``model_<k>`` — each :class:`recon.models.LearnedFDK` (it must have been built for this selection's geometry).

Against the reference (a volume file written by ``recon reconstruct``; default: FDK with Ram-Lak of the *full* scan,
all views) each gets RMSE, PSNR and SSIM of every slice the reference reaches (inside the inscribed disc of each
slice by default, ``region``), mean and standard deviation, and its seconds. Writes ``comparison.png`` (central
axial and coronal slices, the profile along z), ``metrics.json`` and ``report.md``.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from ..analytic.fdk import fdk
from ..analytic.iterative import cgls
from ..geometry import VolumeGrid
from ..io.cone_scan import ConeScan
from ..models import LearnedFDK
from .evaluate_cone import slices_of, tune_fdk
from .scores import REGIONS, image_scores

__all__ = ["compare_cone_scan", "CGLS_ITERATIONS"]

CGLS_ITERATIONS = 30


def _grid(scan: ConeScan, models: Sequence[LearnedFDK]) -> VolumeGrid:
    grids = {m.grid for m in models}
    if len(grids) > 1:
        raise ValueError("the models reconstruct different volumes; compare models of one volume at a time")
    return next(iter(grids)) if grids else scan.geometry.check_grid(scan.default_grid(), "the volume")


def compare_cone_scan(full: ConeScan, selected: ConeScan, models: Sequence[LearnedFDK],
                      reference: Optional[np.ndarray], region: str = "fov") -> dict[str, Any]:
    """Reconstruct ``selected`` (a view selection of ``full``) by every method and score each against
    ``reference`` (default: FDK of ``full``). Returns ``{"grid", "reference", "recs", "methods", "scores"}``."""
    grid = _grid(selected, models)
    for model in models:
        model.check_geometry(selected.geometry, "scan")
    if reference is None:
        ref = fdk(torch.from_numpy(full.projections).double(), full.geometry, grid, warn=False).float()
        ref_label = "FDK (Ram-Lak) of the full scan"
    else:
        ref = torch.as_tensor(np.asarray(reference, dtype=np.float32))
        if tuple(ref.shape) != grid.shape:
            raise ValueError(f"the reference volume has shape {tuple(ref.shape)}; the comparison reconstructs "
                             f"{grid!r}: give a reference on that volume (recon reconstruct --image-size/--slices)")
        ref_label = "the reference volume"
    p = torch.from_numpy(selected.projections).double()
    window, cutoff = tune_fdk(p, ref.double(), selected.geometry, grid)
    methods: dict[str, tuple[str, Callable[[], torch.Tensor]]] = {
        "fdk": ("FDK (Ram-Lak)", lambda: fdk(p, selected.geometry, grid, warn=False)),
        "fdk_oracle": (f"FDK ({window}, cut-off {cutoff:g}; tuned against the reference)",
                       lambda: fdk(p, selected.geometry, grid, window, cutoff, warn=False)),
        "cgls": (f"CGLS ({CGLS_ITERATIONS} iterations)", lambda: cgls(p, selected.geometry, CGLS_ITERATIONS, grid=grid)),
    }
    for k, model in enumerate(models, start=1):
        methods[f"model_{k}"] = (f"learned FDK {k} ({model.learned_parts()})",
                                 lambda m=model: m.eval()(p.to(m.dtype)))
    keep = ref.amax(dim=(-2, -1)) > ref.amin(dim=(-2, -1))  # slices the reference reaches (PSNR needs a range)
    if not bool(keep.any()):
        raise ValueError("the reference volume is constant: nothing to score against")
    scores, recs = {}, {}
    for key, (_, method) in methods.items():
        start = time.perf_counter()
        with torch.no_grad():
            volume = method().float()
        seconds = time.perf_counter() - start
        recs[key] = volume.numpy()
        scores[key] = {**image_scores(slices_of(volume, keep), slices_of(ref, keep), grid.voxel_size[2], region),
                       "seconds": seconds}
    return {"grid": grid, "reference": ref.numpy(), "reference_label": ref_label, "recs": recs,
            "methods": {k: {"label": label} for k, (label, _) in methods.items()}, "scores": scores,
            "context": {"views": selected.n_views, "views_full": full.n_views, "grid": grid.to_dict(),
                        "region": REGIONS[region] + ", slice by slice (slices the reference reaches)",
                        "region_id": region, "n_slices_scored": int(keep.sum()),
                        "fdk_oracle": {"window": window, "cutoff": cutoff}, "reference": ref_label}}
