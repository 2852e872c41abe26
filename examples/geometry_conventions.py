"""Geometry conventions: where the source, the detector and the image are.

One view (θ = 30°) of a flat-detector fan-beam scan drawn from the geometry's own per-view vectors
(`view_vectors()`, ASTRA's `fanflat_vec` layout): the source at sod·(sin θ, −cos θ), the detector centre at
(sdd − sod)·(−sin θ, cos θ), detector element j at u_j = (j − (n_det − 1)/2)·det_spacing + det_offset along
the u axis (cos θ, sin θ), and the image grid centred on the rotation axis with row 0 at +y. A parallel scan has
the ray direction (sin θ, −cos θ) in place of the source; a cone scan adds the rows along +z.
"""

import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np

import recon

theta = np.deg2rad(30.0)
geom = recon.FanBeam([theta], n_det=64, det_spacing=1.5, image_size=64, pixel_size=1.0, sod=100.0, sdd=160.0)
v = geom.view_vectors().as_array()[0]            # source x, y; detector centre x, y; u step x, y (mm)
source, centre, u = v[0:2], v[2:4], v[4:6]
ends = centre + np.outer([-(geom.n_det - 1) / 2, (geom.n_det - 1) / 2], u)
print(f"source {source.round(2)} mm, detector centre {centre.round(2)} mm, u step {u.round(3)} mm")

fig, ax = plt.subplots(figsize=(6.5, 6.5), constrained_layout=True)
half = geom.image_size * geom.pixel_size / 2
ax.add_patch(plt.Rectangle((-half, -half), 2 * half, 2 * half, fill=False, lw=1.5))
ax.text(0, half + 3, "image row 0 (+y edge)", ha="center")
ax.text(-half, -half - 7, "column 0", ha="left")
for end in ends:
    ax.plot(*zip(source, end), color="tab:orange", lw=0.8)
ax.plot(*ends.T, color="tab:blue", lw=3)
ax.annotate("", centre + 25 * u / np.hypot(*u), centre, arrowprops=dict(arrowstyle="->", color="k", lw=2))
ax.text(*(centre + 25 * u / np.hypot(*u) + [-4, 6]), "u: j increases", color="k")
ax.text(*(ends[0] - 4 * u / np.hypot(*u)), "element 0", color="tab:blue", ha="right")
ax.plot(*source, "o", color="tab:red")
ax.text(source[0] + 3, source[1], "source", color="tab:red")
ax.plot(0, 0, "k+")
ax.plot([0, 0], [0, -60], ":", color="gray")                          # θ = 0: the source on −y
ax.plot([0, source[0]], [0, source[1]], ":", color="gray")
ax.add_patch(matplotlib.patches.Arc((0, 0), 80, 80, theta1=-90, theta2=np.degrees(np.arctan2(source[1], source[0])),
                                    color="gray"))
ax.text(8, -48, "θ", color="gray", fontsize=13)
for d, label in (((25, 0), "x"), ((0, 25), "y")):
    ax.annotate("", d, (0, 0), arrowprops=dict(arrowstyle="->", color="k"))
    ax.text(d[0] + 2, d[1] + 2, label)
ax.set_aspect("equal")
ax.set_xlabel("x (mm)")
ax.set_ylabel("y (mm)")
ax.set_title("fan beam, θ = 30°")
fig.savefig("geometry.png", dpi=80)
