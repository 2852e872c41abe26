"""The per-view vector form of a cone-beam scan that every cone kernel reads (conventions in
:mod:`recon.geometry.cone`): ASTRA's ``cone_vec`` rows (source, detector centre, the column step u, the row step v),
plus, for a cylindrical detector, the cylinder about the source on which the columns lie."""

from __future__ import annotations

import numpy as np

__all__ = ["ConeVectors"]


class ConeVectors:
    """Per-view vectors of a cone-beam scan, each ``[n_views, 3]`` float64 (x, y, z) in mm: ``source``, ``detector``
    (centre of the pixel grid; for a cylindrical detector the point at fan angle 0 and the rows' mid height),
    ``u`` (step from a column to the next) and ``v`` (step from a row to the next); ``det_shape = (rows, cols)``;
    ``model`` "flat" or "cylindrical" (columns on the circle of radius ``|detector − source|`` in the plane about
    the source, ``col_offset`` mm of arc between the middle column and the point ``detector``)."""

    def __init__(self, source, detector, u, v, det_shape: tuple[int, int], model: str = "flat",
                 col_offset: float = 0.0) -> None:
        arrays = [np.array(a, dtype=np.float64, copy=True) for a in (source, detector, u, v)]
        for name, a in zip(("source", "detector", "u", "v"), arrays):
            if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] != arrays[0].shape[0] or a.shape[0] == 0:
                raise ValueError(f"cone vectors: {name} must be [n_views, 3] like source, got shape {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"cone vectors: {name} of view {int(np.argmax(~np.isfinite(a).all(1)))} is not finite")
        self.source, self.detector, self.u, self.v = arrays
        self.det_shape = (int(det_shape[0]), int(det_shape[1]))
        if model not in ("flat", "cylindrical"):
            raise ValueError(f"cone vectors: model must be 'flat' or 'cylindrical', got {model!r}")
        self.model, self.col_offset = model, float(col_offset)
        normal = np.cross(self.u, self.v)
        area = np.linalg.norm(normal, axis=1)
        scale = np.linalg.norm(self.u, axis=1) * np.linalg.norm(self.v, axis=1)
        if np.any(area <= 1e-9 * np.maximum(scale, 1e-300)):
            bad = int(np.argmax(area <= 1e-9 * np.maximum(scale, 1e-300)))
            raise ValueError(f"cone vectors: view {bad} has a degenerate detector (u and v parallel or zero)")
        depth = np.einsum("ij,ij->i", self.detector - self.source, normal / area[:, None])
        if np.any(np.abs(depth) < 1e-6):
            raise ValueError(f"cone vectors: the source of view {int(np.argmin(np.abs(depth)))} lies in its "
                             "detector's plane")
        self.normal = normal / area[:, None] * np.sign(depth)[:, None]  # unit, from the source towards the detector
        if model == "cylindrical" and np.any(np.abs(self.v[:, :2]).max(axis=1) > 1e-9 * np.linalg.norm(self.v, axis=1)):
            raise ValueError("cone vectors: a cylindrical detector's rows must step along z (its axis)")

    @property
    def n_views(self) -> int:
        return int(self.source.shape[0])

    def pixel_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """``(base [n_views, cols, 3], row_step [n_views, 3])``: the centre of row 0 of every column, and the step
        to the next row; pixel ``(r, c)`` of view ``k`` is at ``base[k, c] + r · row_step[k]``."""
        rows, cols = self.det_shape
        c = np.arange(cols) - (cols - 1) / 2.0
        first_row = -(rows - 1) / 2.0 * self.v
        if self.model == "flat":
            base = self.detector[:, None, :] + c[None, :, None] * self.u[:, None, :]
        else:
            centre, tangent, radius = self.cylinder()
            gamma = (c[None, :] * np.linalg.norm(self.u, axis=1)[:, None] + self.col_offset) / radius[:, None]
            base = (self.source[:, None, :] + radius[:, None, None] * (np.cos(gamma)[..., None] * centre[:, None]
                                                                       + np.sin(gamma)[..., None] * tangent[:, None]))
            base[..., 2] = self.detector[:, None, 2]
        return np.ascontiguousarray(base + first_row[:, None, :]), self.v.copy()

    def cylinder(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(centre direction, tangent, radius)``: unit in-plane vectors from the source to the fan angle 0 and
        along increasing columns, ``[n_views, 3]`` each, and the radius ``[n_views]`` (mm)."""
        d = self.detector - self.source
        d[:, 2] = 0.0
        radius = np.linalg.norm(d, axis=1)
        centre = d / radius[:, None]
        tangent = self.u.copy()
        tangent[:, 2] = 0.0
        tangent /= np.linalg.norm(tangent, axis=1)[:, None]
        return centre, tangent, radius

    def backprojection_coefficients(self) -> np.ndarray:
        """``[n_views, 16]`` float64 read by the voxel-driven kernels (:mod:`recon.operators.cone_cpu`).

        Flat: the rows of the 3×4 projection matrix ``P`` with ``P·(x, y, z, 1) = h·(col, row, 1)``, ``h`` the
        depth of the voxel along the detector normal from the source (mm), then ``D = −source·normal`` (the
        distance weight is ``(D/h)²``, ``(sod/h)²`` on a circular orbit). Cylindrical: source (3), centre direction
        (2), tangent (2), radius, arc position of column 0 (mm), 1 / column pitch, z of row 0, 1 / row step (z)."""
        rows, cols = self.det_shape
        out = np.zeros((self.n_views, 16))
        s = self.source
        if self.model == "flat":
            n = self.normal
            depth = np.einsum("ij,ij->i", self.detector - s, n)
            for row, (axis, other, mid) in enumerate(((self.u, self.v, (cols - 1) / 2.0),
                                                      (self.v, self.u, (rows - 1) / 2.0))):
                a = np.cross(other, n) if row == 0 else np.cross(n, other)
                ua = np.einsum("ij,ij->i", axis, a)
                sd_a = np.einsum("ij,ij->i", s - self.detector, a)
                vec = (depth[:, None] * a + sd_a[:, None] * n) / ua[:, None] + mid * n
                out[:, 4 * row:4 * row + 3] = vec
                out[:, 4 * row + 3] = -np.einsum("ij,ij->i", vec, s)
            out[:, 8:11] = n
            out[:, 11] = -np.einsum("ij,ij->i", n, s)
            out[:, 12] = -np.einsum("ij,ij->i", n, s)
        else:
            centre, tangent, radius = self.cylinder()
            pitch = np.linalg.norm(self.u, axis=1)
            out[:, 0:3] = s
            out[:, 3:5] = centre[:, :2]
            out[:, 5:7] = tangent[:, :2]
            out[:, 7] = radius
            out[:, 8] = self.col_offset - (cols - 1) / 2.0 * pitch
            out[:, 9] = 1.0 / pitch
            out[:, 10] = self.detector[:, 2] - (rows - 1) / 2.0 * self.v[:, 2]
            out[:, 11] = 1.0 / self.v[:, 2]
        return out

    def project_points(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the rays from the sources through ``points`` ``[n, 3]`` (mm) meet the detectors: fractional
        ``(col, row)`` pixel indices, each ``[n_views, n]`` (the map the FDK backprojector reads)."""
        cf = self.backprojection_coefficients()
        x, y, z = (np.asarray(points, dtype=np.float64)[:, k][None, :] for k in range(3))
        if self.model == "flat":
            h = cf[:, 8:9] * x + cf[:, 9:10] * y + cf[:, 10:11] * z + cf[:, 11:12]
            return ((cf[:, 0:1] * x + cf[:, 1:2] * y + cf[:, 2:3] * z + cf[:, 3:4]) / h,
                    (cf[:, 4:5] * x + cf[:, 5:6] * y + cf[:, 6:7] * z + cf[:, 7:8]) / h)
        wx, wy = x - cf[:, 0:1], y - cf[:, 1:2]
        depth, t = wx * cf[:, 3:4] + wy * cf[:, 4:5], wx * cf[:, 5:6] + wy * cf[:, 6:7]
        col = (cf[:, 7:8] * np.arctan2(t, depth) - cf[:, 8:9]) * cf[:, 9:10]
        zdet = cf[:, 2:3] + (z - cf[:, 2:3]) * cf[:, 7:8] / np.hypot(depth, t)
        return col, (zdet - cf[:, 10:11]) * cf[:, 11:12]

    def to_array(self) -> np.ndarray:
        """ASTRA's ``cone_vec`` layout ``[n_views, 12]``: source, detector centre, u, v."""
        return np.concatenate([self.source, self.detector, self.u, self.v], axis=1)
