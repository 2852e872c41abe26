"""Arcs drawn from full scans, for training one model on every arc length and start (``[data] arcs``).

A simulated dataset holds full uniform scans; a model that serves all arcs between a shortest and a longest
length (degrees) is trained on arcs cut from them: each training batch gets one arc — its length uniform on the
scan's view lattice between the two, its start uniform over the views — drawn from ``(seed, epoch, batch)``
alone, so a resumed run draws the same arcs. Validation batch ``j`` always gets the same arc
(:meth:`ArcSampler.validation`), the lengths cycling through seven evenly spaced ones (the HTC2022 levels for
30°–90°).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..analytic.views import uniform_full_scan_step
from ..geometry import Geometry

__all__ = ["ArcSampler"]

VALIDATION_LENGTHS = 7


@dataclass(frozen=True)
class ArcSampler:
    """Arcs of ``shortest``–``longest`` degrees (both ends measured) cut from the full uniform scan
    ``geometry``."""

    geometry: Geometry
    shortest: float
    longest: float

    def __post_init__(self) -> None:
        step = abs(uniform_full_scan_step(self.geometry, "training on arcs"))
        if self.geometry.angles[1] < self.geometry.angles[0]:
            raise ValueError("training on arcs needs a scan of increasing angles")
        if not 0 < self.shortest <= self.longest < 360:
            raise ValueError(f"arcs must be [shortest, longest] degrees with 0 < shortest <= longest < 360, got "
                             f"[{self.shortest:g}, {self.longest:g}]")
        lo, hi = self.steps_range(step)
        if lo > hi:
            raise ValueError(f"no arc of {self.shortest:g}°–{self.longest:g}° fits the scan's "
                             f"{math.degrees(step):.4g}° view step")
        object.__setattr__(self, "_step", step)

    def steps_range(self, step: float) -> tuple[int, int]:
        """The fewest and most view steps an arc spans."""
        lo = max(1, int(math.ceil(math.radians(self.shortest) / step - 1e-6)))
        return lo, int(math.floor(math.radians(self.longest) / step + 1e-6))

    def arc(self, n_steps: int, start: int) -> tuple[np.ndarray, Geometry]:
        """``(view indices, arc geometry)`` of the arc of ``n_steps`` steps from view ``start`` (angles unwrapped,
        increasing)."""
        idx = (start + np.arange(n_steps + 1)) % self.geometry.n_views
        angles = self.geometry.angles[start] + self._step * np.arange(n_steps + 1)
        return idx, self.geometry.replace(angles=angles)

    def longest_arc(self) -> Geometry:
        """The longest arc from view 0: the geometry an arc model is built for."""
        return self.arc(self.steps_range(self._step)[1], 0)[1]

    def draw(self, seed: int, epoch: int, batch: int) -> tuple[np.ndarray, Geometry]:
        """The arc of training batch ``batch`` of ``epoch``: a function of the three numbers only."""
        rng = np.random.default_rng([int(seed), int(epoch), int(batch)])
        lo, hi = self.steps_range(self._step)
        return self.arc(int(rng.integers(lo, hi + 1)), int(rng.integers(self.geometry.n_views)))

    def validation(self, batch: int) -> tuple[np.ndarray, Geometry]:
        """The fixed arc of validation batch ``batch``: lengths cycling through :data:`VALIDATION_LENGTHS` evenly
        spaced ones from the longest down, starts spread over the circle."""
        lo, hi = self.steps_range(self._step)
        k = batch % VALIDATION_LENGTHS
        n_steps = int(round(hi - (hi - lo) * k / (VALIDATION_LENGTHS - 1)))
        return self.arc(n_steps, (batch * 97) % self.geometry.n_views)
