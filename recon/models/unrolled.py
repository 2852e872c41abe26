"""Unrolled reconstruction networks: the exact operators ``A`` and ``Aᵀ`` inside a deep network.

Where data are missing (sparse views, limited angle) no filter or weight can put them back: the image needs a
prior. An unrolled network runs a fixed number of iterations of an iterative reconstruction and learns the
update of each iteration with a small CNN, while every data-consistency step uses this package's exact ray
transform ``A`` and its exact adjoint ``Aᵀ`` (never a learned stand-in):

* :class:`LearnedGradientDescent` (Adler & Öktem 2017; Hammernik et al. 2018's variational network without its
  fixed-form regulariser) — ``x_{k+1} = x_k + Λ_k(x_k, ∇_k, x_0)``, with the preconditioned data gradient
  ``∇_k = C⁻¹ Aᵀ R⁻¹ (A x_k − p)`` (``R = A1`` the ray lengths, ``C = Aᵀ1``: SIRT's normalisation, so every
  input of the CNN is an attenuation in 1/mm whatever the view count);
* :class:`LearnedPrimalDual` (Adler & Öktem 2018) — dual iterates in the sinogram domain updated by a CNN from
  ``R⁻¹ A x_k`` and ``R⁻¹ p``, primal iterates updated from ``C⁻¹ Aᵀ h_k``, both with memory channels.

Both start from the analytic recipe of the scan (``x_0``, :class:`recon.analytic.recipe.FBPRecipe`): FBP with a
window, view-interpolated for sparse full scans (``factor``) and view-completed for arcs. Each CNN's last layer
starts at zero, so an untrained network returns ``x_0`` exactly.

**Arcs at any start and of several lengths** (``arcs = (shortest, longest)`` in degrees): the network works in
the frame of the arc — the operators' angles are the scan's minus the arc's mid angle, which is exact (rotating
the scanner is rotating the object) — so it sees every arc centred on the same direction, and only the final
image is rotated back onto the scan's grid (bilinear). One model serves every start of every arc length between
its shortest and longest, at the view step it was trained for. Shapes: ``[..., n_views, n_det]`` line integrals
→ ``[..., N, N]`` μ in 1/mm.

References: J. Adler, O. Öktem, *Inverse Problems* 33, 124007 (2017) (learned gradient descent); J. Adler,
O. Öktem, *IEEE Trans. Med. Imaging* 37(6), 1322–1332 (2018) (learned primal-dual); K. Hammernik et al., *Magn.
Reson. Med.* 79, 3055–3071 (2018) (variational network); A. Denker et al., HTC2022 entry (learned primal-dual
with an FBP); A. K. Maier et al., *Nat. Mach. Intell.* 1, 373–380 (2019) (known operators).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..analytic.recipe import FBPRecipe
from ..analytic.weights import scan_coverage
from ..geometry import Geometry, check_geometry, geometry_differences
from ..operators.functional import backproject, check_input, project
from ..operators.rays import cached
from .base import KnownOperatorModel

__all__ = ["UnrolledNetwork", "LearnedGradientDescent", "LearnedPrimalDual", "UpdateNetwork", "rotate_images",
           "arc_frame"]


class UpdateNetwork(torch.nn.Module):
    """A small CNN: one 3×3 convolution per entry of ``dilations`` (its dilation; ``channels`` wide, PReLU
    between), ``in_channels`` → ``out_channels``; the last layer starts at zero (the network's first output is
    0). Dilations widen the receptive field at no cost (Yu & Koltun, ICLR 2016). With ``coarse`` = k > 1 a second
    branch of the same convolutions sees the input average-pooled k×k and adds its features, upsampled
    (bilinear), before the last layer: a k× wider view (a two-level U-Net) for 1/k² of the cost."""

    def __init__(self, in_channels: int, out_channels: int, channels: int = 32,
                 dilations: Sequence[int] = (1, 1, 1), coarse: int = 0) -> None:
        super().__init__()
        hidden = [in_channels] + [channels] * (len(dilations) - 1)

        def branch() -> torch.nn.Sequential:
            layers: list[torch.nn.Module] = []
            for i, d in enumerate(dilations[:-1]):
                layers += [torch.nn.Conv2d(hidden[i], hidden[i + 1], 3, padding=int(d), dilation=int(d)),
                           torch.nn.PReLU(hidden[i + 1], init=0.1)]
            return torch.nn.Sequential(*layers)

        self.layers = branch()
        self.coarse = int(coarse)
        if self.coarse > 1:
            self.coarse_layers = branch()
        d = int(dilations[-1])
        self.last = torch.nn.Conv2d(hidden[-1], out_channels, 3, padding=d, dilation=d)
        torch.nn.init.zeros_(self.last.weight)
        torch.nn.init.zeros_(self.last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layers(x)
        if self.coarse > 1:
            k = self.coarse
            pad = [0, (-x.shape[-1]) % k, 0, (-x.shape[-2]) % k]  # a grid that is no multiple of k: pad it
            c = self.coarse_layers(F.avg_pool2d(F.pad(x, pad, mode="replicate"), k))
            c = F.interpolate(c, scale_factor=k, mode="bilinear", align_corners=False)
            h = h + c[..., :x.shape[-2], :x.shape[-1]]
        return self.last(h)


def rotate_images(images: torch.Tensor, angle: float) -> torch.Tensor:
    """Images ``[B, N, N]`` rotated counter-clockwise by ``angle`` radians about the grid centre (bilinear;
    zero outside the rotated square): the image in the world frame of one reconstructed in an arc's frame
    (:func:`arc_frame`). Differentiable."""
    c, s = math.cos(angle), math.sin(angle)
    theta = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=images.dtype, device=images.device)
    x = images.unsqueeze(1)
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True).squeeze(1)


def arc_frame(geometry: Geometry) -> tuple[float, float, int]:
    """``(mid angle, view step, n_views)`` of an arc of evenly spaced views in arc order (angles may wrap
    through 0); ``ValueError`` saying why otherwise."""
    a = np.unwrap(np.asarray(geometry.angles, dtype=np.float64))
    steps = np.diff(a)
    if steps.size == 0 or steps.mean() <= 0 or np.ptp(steps) > 1e-6 * max(1.0, steps.mean()):
        raise ValueError("an arc model needs evenly spaced views in increasing order along the arc")
    return float(0.5 * (a[0] + a[-1])), float(steps.mean()), int(a.size)


class UnrolledNetwork(KnownOperatorModel):
    """Common machinery of the unrolled networks (see the module docstring).

    Parameters
    ----------
    geometry : ParallelBeam or FanBeam
        Geometry of the input sinograms and of the output image grid; for an arc model, the longest arc it
        reconstructs (any start).
    iterations : int
        Unrolled iterations, each with one ``A`` and one ``Aᵀ``.
    channels : int
        Width of the hidden layers of every CNN.
    filter, cutoff, factor :
        The analytic start: FBP with this window and cut-off, views interpolated ×``factor`` (uniform full scans).
    arcs : (float, float) or None
        Shortest and longest arc (degrees) of an arc model; ``None`` for a model of ``geometry``'s views only.
    positivity : bool
        Clamp the output at 0 (μ ≥ 0).
    mu_scale : float
        Attenuation (1/mm) by which the CNNs' inputs and outputs are scaled (typical μ of the objects).
    dilations : sequence of int
        The dilation of each 3×3 convolution of every CNN (its length is the CNN's depth).
    coarse : int
        > 1: every CNN also sees its input average-pooled ``coarse``× (:class:`UpdateNetwork`).
    backend : operator backend, as for :func:`recon.project`.
    """

    output_kind = "image"
    has_filter = False
    kind = "unrolled"

    def __init__(self, geometry: Geometry, iterations: int = 5, channels: int = 32, filter: str = "hann",
                 cutoff: float = 0.5, factor: int = 1, arcs: Optional[Sequence[float]] = None,
                 positivity: bool = True, mu_scale: float = 0.04, dilations: Sequence[int] = (1, 1, 1),
                 coarse: int = 0, backend: Optional[str] = None, warn: bool = True, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        check_geometry(geometry)
        if len(dilations) < 2 or any(int(d) != d or d < 1 for d in dilations):
            raise ValueError(f"dilations must list at least 2 positive integers (one per layer), got {dilations!r}")
        self.dilations = tuple(int(d) for d in dilations)
        if int(coarse) != coarse or coarse < 0:
            raise ValueError(f"coarse must be 0 (none) or a pooling factor > 1, got {coarse!r}")
        self.coarse = int(coarse)
        if int(iterations) != iterations or iterations < 1:
            raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
        if int(channels) != channels or channels < 1:
            raise ValueError(f"channels must be a positive integer, got {channels!r}")
        if not (isinstance(mu_scale, (int, float)) and math.isfinite(mu_scale) and mu_scale > 0):
            raise ValueError(f"mu_scale must be a positive attenuation in 1/mm, got {mu_scale!r}")
        self.geometry = self.output_geometry = geometry
        self.iterations, self.channels = int(iterations), int(channels)
        self.positivity, self.mu_scale, self.backend = bool(positivity), float(mu_scale), backend
        self.arcs = self._check_arcs(geometry, arcs)
        self.complete_views = self.arcs is not None  # (read by the comparison baselines: its start completes arcs)
        self.recipe = FBPRecipe(filter, cutoff, upsample=factor, complete_views=self.complete_views)
        self.recipe.operator_geometry(self.frame(geometry)[0])  # refuses a start that does not fit the scan
        self.step = arc_frame(geometry)[1] if self.arcs is not None else None
        self.filter_name, self.cutoff, self.factor = self.recipe.filter, self.recipe.cutoff, self.recipe.upsample
        self.learn = ("cnn",)
        self._frames: dict[int, Geometry] = {}  # arc frames by view count (their operator tables are cached)
        self.build(dtype)

    # ---- what subclasses define ----------------------------------------------------------------------------
    def build(self, dtype: torch.dtype) -> None:  # pragma: no cover - abstract
        """Create the learned modules."""
        raise NotImplementedError

    def iterate(self, x0: torch.Tensor, sinogram: torch.Tensor, frame: Geometry) -> torch.Tensor:  # pragma: no cover
        """The unrolled iterations from ``x0`` ``[B, N, N]`` (μ / mu_scale) for ``sinogram`` ``[B, V, D]``
        (line integrals in ``frame``): the image ``[B, N, N]`` in units of mu_scale."""
        raise NotImplementedError

    # ---- arcs and frames -----------------------------------------------------------------------------------
    @staticmethod
    def _check_arcs(geometry: Geometry, arcs: Optional[Sequence[float]]) -> Optional[tuple[float, float]]:
        if arcs is None:
            return None
        lo, hi = (float(a) for a in arcs)
        if not 0 < lo <= hi < 360:
            raise ValueError(f"arcs must be [shortest, longest] in degrees with 0 < shortest <= longest < 360, "
                             f"got {list(arcs)}")
        _, step, n = arc_frame(geometry)
        span = math.degrees(step * (n - 1))
        if abs(span - hi) > 0.5 * math.degrees(step) + 1e-6:
            raise ValueError(f"an arc model's geometry is its longest arc ({hi:g}°); this one spans {span:.4g}°")
        return lo, hi

    def frame(self, geometry: Geometry) -> tuple[Geometry, float]:
        """The geometry the network reconstructs ``geometry``'s data in, and the rotation (rad) from that frame
        to ``geometry``'s image grid: the arc centred on angle 0 for arc models, the scan itself otherwise."""
        if self.arcs is None:
            return geometry, 0.0
        mid, step, n = arc_frame(geometry)
        step, frames = getattr(self, "step", None) or step, self.__dict__.setdefault("_frames", {})  # own step
        if n not in frames:
            frames[n] = geometry.replace(angles=step * (np.arange(n) - 0.5 * (n - 1)))
        return frames[n], mid

    def arc_length(self, geometry: Geometry) -> float:
        """The arc of ``geometry`` in degrees (first to last view)."""
        _, step, n = arc_frame(geometry)
        return math.degrees(step * (n - 1))

    def check_geometry(self, geometry: Geometry, what: str = "sinogram") -> None:
        """Raise ``ValueError`` saying what differs when ``geometry``'s acquisition is not one this model
        reconstructs: the same detector and distances, and — for an arc model — an arc of its view step whose
        length lies between its shortest and longest; otherwise the model's own views."""
        if self.arcs is None:
            return super().check_geometry(geometry, what)
        name = type(self).__name__
        diffs = geometry_differences(self.geometry, geometry, ignore=("angles", "image_size", "pixel_size"))
        if diffs:
            raise ValueError(f"the {what}'s geometry does not match the model's ({name} expects "
                             f"{self.geometry!r}): " + "; ".join(diffs))
        lo, hi = self.arcs
        if scan_coverage(geometry).kind == "full":
            raise ValueError(f"the {what} is a full scan ({geometry.n_views} views over the circle); this {name} "
                             f"reconstructs arcs of {lo:g}°–{hi:g}°: cut the arc first (--angles START:STOP)")
        try:
            _, step, _ = arc_frame(geometry)
        except ValueError as err:
            raise ValueError(f"the {what}'s views: {err}") from None
        if abs(step - self.step) > 1e-6 * self.step:
            raise ValueError(f"the {what}'s views are {math.degrees(step):.4g}° apart; this {name} was trained for "
                             f"{math.degrees(self.step):.4g}°")
        length, tol = self.arc_length(geometry), 0.5 * math.degrees(self.step)
        if not lo - tol <= length <= hi + tol:
            word = "longer than its longest" if length > hi else "shorter than its shortest"
            raise ValueError(f"the {what}'s arc is {length:.4g}°, {word}: this {name} reconstructs arcs of "
                             f"{lo:g}°–{hi:g}°")

    def for_geometry(self, geometry: Geometry, share: bool = True) -> "UnrolledNetwork":
        """This model for scans in ``geometry`` (an arc model: any arc it reconstructs, see
        :meth:`check_geometry`), on this model's image grid; ``share`` shares the parameters (training through
        the result updates this model), otherwise they are copied."""
        if self.arcs is None:
            return super().for_geometry(geometry, share)
        self.check_geometry(geometry, what="scan")
        twin = copy.copy(self) if share else copy.deepcopy(self)
        twin.geometry = twin.output_geometry = geometry.replace(image_size=self.geometry.image_size,
                                                                pixel_size=self.geometry.pixel_size)
        return twin

    # ---- the network ---------------------------------------------------------------------------------------
    def preconditioners(self, frame: Geometry, dtype: torch.dtype, device: torch.device
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(R⁻¹ [V, D], C⁻¹ [N, N])``: inverse ray lengths ``A1`` (0 for rays that miss the grid) and inverse
        ``Aᵀ1`` (0 where no ray passes), in ``frame``; cached per frame, dtype and device."""
        def make() -> tuple[torch.Tensor, torch.Tensor]:
            one_image = torch.ones(frame.image_shape, dtype=torch.float64)
            rows = project(one_image, frame, backend="numba")
            cols = backproject(torch.ones(frame.sino_shape, dtype=torch.float64), frame, backend="numba")
            inv = [torch.where(v > 1e-9 * v.max(), 1.0 / v.clamp_min(1e-300), torch.zeros_like(v)) for v in (rows, cols)]
            return inv[0].to(dtype=dtype, device=device), inv[1].to(dtype=dtype, device=device)
        return cached(frame, ("unrolled_preconditioners", str(dtype), str(device)), make)

    def normal_forward(self, x: torch.Tensor, frame: Geometry) -> torch.Tensor:
        """``R⁻¹ A x``: images ``[..., N, N]`` → the mean value along every ray, ``[..., V, D]``."""
        inv_r, _ = self.preconditioners(frame, x.dtype, x.device)
        return project(x, frame, backend=self.backend, check_finite=False) * inv_r

    def normal_adjoint(self, y: torch.Tensor, frame: Geometry) -> torch.Tensor:
        """``C⁻¹ Aᵀ y``: sinograms ``[..., V, D]`` → the mean over the rays through every pixel, ``[..., N, N]``."""
        _, inv_c = self.preconditioners(frame, y.dtype, y.device)
        return backproject(y, frame, backend=self.backend, check_finite=False) * inv_c

    def forward(self, sinogram: torch.Tensor, geometry: Optional[Geometry] = None) -> torch.Tensor:
        """``sinogram`` ``[..., n_views, n_det]`` (line integrals) in :attr:`geometry`, or in ``geometry`` (an
        arc this model reconstructs, :meth:`check_geometry`) → image ``[..., N, N]`` (μ, 1/mm) on this model's
        grid."""
        if geometry is None:
            geometry = self.geometry
        else:
            self.check_geometry(geometry)
            geometry = geometry.replace(image_size=self.geometry.image_size, pixel_size=self.geometry.pixel_size)
        p, _ = check_input(type(self).__name__, "sinogram", sinogram, geometry)
        lead = p.shape[:-2]
        p = p.reshape((-1,) + geometry.sino_shape)
        frame, rotation = self.frame(geometry)
        x0 = self.recipe.reconstruct(p, frame, backend=self.backend) / self.mu_scale
        x = self.iterate(x0, p, frame) * self.mu_scale
        if self.positivity:
            x = torch.relu(x)
        if rotation:
            x = rotate_images(x, rotation)
        return x.reshape(lead + geometry.image_shape)

    # ---- bookkeeping ---------------------------------------------------------------------------------------
    def linear_terms(self, sinogram: torch.Tensor):
        raise TypeError(f"a {type(self).__name__} is not affine in a filter (no least-squares filter)")

    def learned_parts(self) -> str:
        parts = f"{self.iterations} iterations, {self.channels}-channel CNNs"
        if self.dilations != (1,) * len(self.dilations):
            parts += " (dilations " + ", ".join(map(str, self.dilations)) + ")"
        if self.coarse > 1:
            parts += f" + a {self.coarse}× coarser branch"
        return parts + (f", arcs {self.arcs[0]:g}°–{self.arcs[1]:g}°" if self.arcs else "")

    def config(self) -> dict[str, Any]:
        return {"geometry": self.geometry.to_dict(), "iterations": self.iterations, "channels": self.channels,
                "filter": self.filter_name, "cutoff": self.cutoff, "factor": self.factor,
                "arcs": list(self.arcs) if self.arcs else None, "positivity": self.positivity,
                "mu_scale": self.mu_scale, "dilations": list(self.dilations),
                "coarse": self.coarse, "warn": False, **self._extra_config()}

    def _extra_config(self) -> dict[str, Any]:
        return {}

    def extra_repr(self) -> str:
        return f"{self.geometry!r}, {self.learned_parts()}, start: {self.recipe.describe()}"


class LearnedGradientDescent(UnrolledNetwork):
    """Learned gradient descent: ``x_{k+1} = x_k + Λ_k(x_k, C⁻¹ Aᵀ R⁻¹ (A x_k − p), x_0)`` with one small CNN
    ``Λ_k`` per iteration (parameters as :class:`UnrolledNetwork`).

    Examples
    --------
    Untrained, the network is its analytic start:

    >>> import numpy as np, torch, recon
    >>> from recon.models import LearnedGradientDescent
    >>> g = recon.ParallelBeam(np.linspace(0, np.pi, 30, endpoint=False), n_det=48, det_spacing=1.0,
    ...                        image_size=32, pixel_size=1.0)
    >>> model = LearnedGradientDescent(g, iterations=3, channels=8, filter="hann", cutoff=0.8, positivity=False,
    ...                                dtype=torch.float64)
    >>> sino = torch.as_tensor(recon.ray_transform(recon.shepp_logan(radius=15.0), g))
    >>> bool(torch.allclose(model(sino), recon.fbp(sino, g, "hann", 0.8), atol=1e-12))
    True
    """

    kind = "gradient_descent"

    def build(self, dtype: torch.dtype) -> None:
        self.updates = torch.nn.ModuleList(UpdateNetwork(3, 1, self.channels, self.dilations, self.coarse)
                                           for _ in range(self.iterations))
        self.to(dtype)

    def iterate(self, x0: torch.Tensor, sinogram: torch.Tensor, frame: Geometry) -> torch.Tensor:
        data = sinogram * self.preconditioners(frame, sinogram.dtype, sinogram.device)[0] / self.mu_scale
        x = x0
        for update in self.updates:
            gradient = self.normal_adjoint(self.normal_forward(x, frame) - data, frame)
            x = x + update(torch.stack([x, gradient, x0], dim=1)).squeeze(1)
        return x


class LearnedPrimalDual(UnrolledNetwork):
    """Learned primal-dual (Adler & Öktem 2018): ``memory`` primal channels (images) and ``memory`` dual
    channels (sinograms); per iteration ``h ← h + Γ_k(h, R⁻¹ A x⁽¹⁾, R⁻¹ p)`` then
    ``x ← x + Λ_k(x, C⁻¹ Aᵀ h⁽¹⁾)``; the output is ``x⁽⁰⁾``. ``x`` starts at the analytic image in every
    channel, ``h`` at 0. Other parameters as :class:`UnrolledNetwork`."""

    kind = "primal_dual"

    def __init__(self, geometry: Geometry, *args: Any, memory: int = 5, **kwargs: Any) -> None:
        if int(memory) != memory or memory < 1:
            raise ValueError(f"memory must be a positive integer, got {memory!r}")
        self.memory = int(memory)
        super().__init__(geometry, *args, **kwargs)

    def build(self, dtype: torch.dtype) -> None:
        m, c = self.memory, self.channels
        self.dual_updates = torch.nn.ModuleList(UpdateNetwork(m + 2, m, c, self.dilations, self.coarse)
                                                for _ in range(self.iterations))
        self.primal_updates = torch.nn.ModuleList(UpdateNetwork(m + 1, m, c, self.dilations, self.coarse)
                                                  for _ in range(self.iterations))
        self.to(dtype)

    def iterate(self, x0: torch.Tensor, sinogram: torch.Tensor, frame: Geometry) -> torch.Tensor:
        inv_r, _ = self.preconditioners(frame, sinogram.dtype, sinogram.device)
        data = (sinogram * inv_r / self.mu_scale).unsqueeze(1)
        x = x0.unsqueeze(1).expand(-1, self.memory, -1, -1)
        h = torch.zeros((x.shape[0], self.memory) + frame.sino_shape, dtype=x.dtype, device=x.device)
        for dual, primal in zip(self.dual_updates, self.primal_updates):
            forward = self.normal_forward(x[:, 1 % self.memory], frame).unsqueeze(1)
            h = h + dual(torch.cat([h, forward, data], dim=1))
            back = self.normal_adjoint(h[:, 0], frame).unsqueeze(1)
            x = x + primal(torch.cat([x, back], dim=1))
        return x[:, 0]

    def learned_parts(self) -> str:
        return super().learned_parts() + f", memory {self.memory}"

    def _extra_config(self) -> dict[str, Any]:
        return {"memory": self.memory}
