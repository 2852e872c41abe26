"""The volume grid: where the voxels of a 3-D reconstruction lie, apart from the cone-beam scan that measured it
(the 3-D sibling of :class:`recon.ImageGrid`).

Conventions (design notes §7, extending those of :mod:`recon.geometry`): volumes are arrays ``[nz, ny, nx]``;
voxel ``[k, i, j]`` has its centre at ``x = ox + (j − (nx−1)/2)·vx``, ``y = oy + ((ny−1)/2 − i)·vy``,
``z = oz + ((nz−1)/2 − k)·vz`` — slice 0 is the +z end and row 0 the +y edge, as image row 0 is +y in 2-D; the
rotation axis is z.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import integer, real
from .grid import LENGTHS

__all__ = ["VolumeGrid"]


def _triple(name: str, value: Any, what: str) -> tuple:
    if np.ndim(value) == 0:
        return (value,) * 3
    try:
        out = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be one value or three (z, y, x) {what}, got {value!r}") from None
    if len(out) != 3:
        raise ValueError(f"{name} must be one value or three (z, y, x) {what}, got {len(out)}: {value!r}")
    return out


class VolumeGrid:
    """A 3-D voxel grid: ``shape = (nz, ny, nx)`` voxels of ``voxel_size`` mm (one size, or (z, y, x) sizes),
    its centre at ``offset`` (x, y, z) mm (default: the rotation axis, in the source plane).

    Immutable; compared by value; ``to_dict``/``from_dict`` round-trip.

    Examples
    --------
    >>> import recon
    >>> g = recon.VolumeGrid((2, 3, 4), 0.5)
    >>> g, float(g.x[0]), float(g.y[0]), float(g.z[0])
    (VolumeGrid(2 × 3 × 4 voxels of 0.5 mm), -0.75, 0.5, 0.25)
    """

    ndim = 3

    shape: tuple[int, int, int]
    voxel_size: tuple[float, float, float]
    offset: tuple[float, float, float]

    def __init__(self, shape: Any, voxel_size: Any, offset: Any = (0.0, 0.0, 0.0)) -> None:
        dims = _triple("shape", shape, "voxel counts")
        object.__setattr__(self, "shape", tuple(integer(f"shape[{a}]", n, low=1, integral_float=True)
                                                for a, n in zip("zyx", dims)))
        sizes = _triple("voxel_size", voxel_size, "lengths in mm")
        object.__setattr__(self, "voxel_size", tuple(real(f"voxel_size {a}", s, *LENGTHS, unit="mm")
                                                     for a, s in zip("zyx", sizes)))
        try:
            ox, oy, oz = (float(v) for v in offset)
        except (TypeError, ValueError):
            raise TypeError(f"offset must be three lengths (x, y, z) in mm, got {offset!r}") from None
        object.__setattr__(self, "offset", tuple(real(f"offset {a}", v, -LENGTHS[1], LENGTHS[1], unit="mm")
                                                 for a, v in zip("xyz", (ox, oy, oz))))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"VolumeGrid is immutable; make a new one, e.g. VolumeGrid({self.shape}, ...)")

    @property
    def x(self) -> np.ndarray:
        """x (mm) of each column's voxel centres, ``[nx]``, increasing."""
        n, s = self.shape[2], self.voxel_size[2]
        return (np.arange(n) - (n - 1) / 2.0) * s + self.offset[0]

    @property
    def y(self) -> np.ndarray:
        """y (mm) of each row's voxel centres, ``[ny]``, decreasing (row 0 is the +y edge)."""
        n, s = self.shape[1], self.voxel_size[1]
        return ((n - 1) / 2.0 - np.arange(n)) * s + self.offset[1]

    @property
    def z(self) -> np.ndarray:
        """z (mm) of each slice's voxel centres, ``[nz]``, decreasing (slice 0 is the +z end)."""
        n, s = self.shape[0], self.voxel_size[0]
        return ((n - 1) / 2.0 - np.arange(n)) * s + self.offset[2]

    @property
    def origin(self) -> np.ndarray:
        """``(x, y, z)`` in mm of voxel ``[0, 0, 0]``'s centre, float64 ``[3]``."""
        return np.array([self.x[0], self.y[0], self.z[0]])

    @property
    def half_diagonal(self) -> float:
        """Distance (mm) from the grid's centre to its farthest corner, voxels included."""
        return 0.5 * float(np.sqrt(sum(((n + 1) * s) ** 2 for n, s in zip(self.shape, self.voxel_size))))

    @property
    def nbytes_float32(self) -> int:
        """Size of one float32 volume in bytes."""
        return 4 * int(np.prod(self.shape))

    def to_dict(self) -> dict[str, Any]:
        """``{"shape": [nz, ny, nx], "voxel_size": [z, y, x], "offset": [x, y, z]}``."""
        return {"shape": list(self.shape), "voxel_size": list(self.voxel_size), "offset": list(self.offset)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VolumeGrid":
        """Rebuild from :meth:`to_dict` output (validated again)."""
        if not isinstance(d, dict):
            raise TypeError(f"expected a dict describing a volume grid, got {type(d).__name__}")
        unknown = set(d) - {"shape", "voxel_size", "offset"}
        if unknown:
            raise ValueError(f"a volume grid has no {sorted(unknown)}; it has shape, voxel_size and offset")
        return cls(**d)

    def differences(self, other: "VolumeGrid", rtol: float = 1e-6) -> list[str]:
        """What differs from ``other`` (expected: ``self``), one readable item each; empty if they agree."""
        out = []
        if self.shape != other.shape:
            out.append(f"volume shape {self.shape} expected, got {other.shape}")
        if not np.allclose(self.voxel_size, other.voxel_size, rtol=rtol, atol=0):
            out.append(f"voxel size {self.voxel_size} mm expected, got {other.voxel_size} mm")
        if not np.allclose(self.offset, other.offset, rtol=0, atol=rtol * min(self.voxel_size)):
            out.append(f"volume centre {self.offset} mm expected, got {other.offset} mm")
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VolumeGrid):
            return NotImplemented
        return (self.shape, self.voxel_size, self.offset) == (other.shape, other.voxel_size, other.offset)

    def __hash__(self) -> int:
        return hash(("VolumeGrid", self.shape, self.voxel_size, self.offset))

    def __repr__(self) -> str:
        size = (f"{self.voxel_size[0]:g}" if len(set(self.voxel_size)) == 1
                else " × ".join(f"{s:g}" for s in self.voxel_size))
        centre = "" if self.offset == (0.0, 0.0, 0.0) else ", centre at (" + ", ".join(
            f"{v:g}" for v in self.offset) + ") mm"
        return f"VolumeGrid({' × '.join(map(str, self.shape))} voxels of {size} mm{centre})"
