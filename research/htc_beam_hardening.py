"""The beam hardening of the HTC2022 scanner, from its solid disc: the measured line integrals against the chord
lengths of a centred 70 mm disc, fitted as ``p ≈ μL − b(μL)²`` (:func:`recon.simulation.noise.fit_beam_hardening`),
the disc's radius chosen by the fit; and the cupping of its FBP (mean μ in rings from the centre out).

    python research/htc_beam_hardening.py [../shared/data/htc2022-training/htc2022_solid_disc_full.mat]

Measured 2026-12-07 (all 720 views): radius 34.60 mm, μ = 0.0455/mm, b = 0.098; FBP 0.028/mm at the centre, 0.037/mm at
30–33 mm. The unrolled networks' training data draw b from [0, 0.15] (configs/fan_htc_unrolled.toml).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import recon
from recon.io import read_scan
from recon.simulation.noise import fit_beam_hardening

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else (ROOT.parent / "shared" / "data" / "htc2022-training" /
                                                        "htc2022_solid_disc_full.mat")
    scan = read_scan(path)
    point, direction = scan.geometry.rays()
    distance = np.abs(point[..., 0] * direction[..., 1] - point[..., 1] * direction[..., 0])  # ray to the axis
    fits = []
    for radius in np.arange(33.0, 37.0, 0.05):
        chord = 2 * np.sqrt(np.clip(radius ** 2 - distance ** 2, 0.0, None))
        mu, b = fit_beam_hardening(scan.sinogram, chord)
        model = mu * chord - b * (mu * chord) ** 2
        fits.append((float(np.sum((model - scan.sinogram)[chord > 5] ** 2)), radius, mu, b))
    _, radius, mu, b = min(fits)
    print(f"radius {radius:.2f} mm, mu {mu:.4f}/mm, b {b:.3f}")
    image = recon.fbp(scan.sinogram, scan.geometry)
    c = scan.geometry.pixel_coords
    r = np.hypot(*np.meshgrid(c, c))
    for lo in range(0, 36, 3):
        ring = (r >= lo) & (r < lo + 3)
        print(f"FBP, {lo:2d}–{lo + 3:2d} mm from the centre: {image[ring].mean():.4f}/mm")


if __name__ == "__main__":
    main()
