"""Analytic phantoms in physical units (attenuation in 1/mm, lengths in mm)."""

from __future__ import annotations

import math

from .analytic import Ellipse

__all__ = ["shepp_logan"]

# Modified Shepp-Logan (Toft 1996): value, centre x, centre y, semi-axis a, semi-axis b, angle (degrees);
# coordinates relative to the phantom radius.
_MODIFIED_SHEPP_LOGAN = (
    (1.0, 0.0, 0.0, 0.69, 0.92, 0.0),
    (-0.8, 0.0, -0.0184, 0.6624, 0.874, 0.0),
    (-0.2, 0.22, 0.0, 0.11, 0.31, -18.0),
    (-0.2, -0.22, 0.0, 0.16, 0.41, 18.0),
    (0.1, 0.0, 0.35, 0.21, 0.25, 0.0),
    (0.1, 0.0, 0.1, 0.046, 0.046, 0.0),
    (0.1, 0.0, -0.1, 0.046, 0.046, 0.0),
    (0.1, -0.08, -0.605, 0.046, 0.023, 0.0),
    (0.1, 0.0, -0.605, 0.023, 0.023, 0.0),
    (0.1, 0.06, -0.605, 0.023, 0.046, 0.0),
)


def shepp_logan(radius: float = 100.0, mu: float = 0.02) -> list[Ellipse]:
    """Modified Shepp–Logan phantom as ellipses.

    radius : half-height of the phantom's bounding square in mm (the outer ellipse has semi-axes
        0.69·radius × 0.92·radius).
    mu : attenuation (1/mm) of the phantom's value 1.0 (the outer skull); the brain region is 0.2·mu.
    """
    return [Ellipse(value=v * mu, center=(x * radius, y * radius), axes=(a * radius, b * radius),
                    angle=math.radians(ang)) for v, x, y, a, b, ang in _MODIFIED_SHEPP_LOGAN]
