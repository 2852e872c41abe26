"""The image grid: where the pixels of a reconstruction lie, apart from the scan that measured it.

A scan geometry says where the rays go; an :class:`ImageGrid` says which image is reconstructed from them (the
domain of ``A``, as tomosipo's volume geometry and ODL's reconstruction space). The same scan can be
reconstructed on any grid: ``recon.project(x, geometry, grid=recon.ImageGrid(256, 0.3))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import integer, real

__all__ = ["ImageGrid", "check_grid", "LENGTHS", "source_clearance"]

#: Physical lengths a geometry or grid may hold, mm: from 1 nm to 1 km (a spacing of 1e-320 mm would overflow every
#: weight computed from it; a detector offset and distances beyond a kilometre are typing errors).
LENGTHS = (1e-6, 1e6)


class ImageGrid:
    """A square 2-D image grid: ``size × size`` pixels of ``pixel_size`` mm, its centre at ``offset`` (x, y) mm.

    Pixel ``[row, col]`` has its centre at ``x = offset_x + (col - (size-1)/2) · pixel_size``,
    ``y = offset_y + ((size-1)/2 - row) · pixel_size`` (row 0 is the +y edge; the conventions of
    :mod:`recon.geometry`). Immutable; compared by value; ``to_dict``/``from_dict`` round-trip.

    Examples
    --------
    >>> import recon
    >>> g = recon.ImageGrid(256, 0.5, offset=(10.0, 0.0))
    >>> g, g.shape, float(g.x[0]), float(g.y[0])
    (ImageGrid(256² × 0.5 mm, centre at (10, 0) mm), (256, 256), -53.75, 63.75)
    >>> recon.ImageGrid.from_dict(g.to_dict()) == g
    True
    """

    ndim = 2

    def __init__(self, size: int, pixel_size: float, offset: Any = (0.0, 0.0)) -> None:
        object.__setattr__(self, "size", integer("size", size, low=1, integral_float=True))
        object.__setattr__(self, "pixel_size", real("pixel_size", pixel_size, *LENGTHS, unit="mm"))
        try:
            ox, oy = (float(v) for v in offset)
        except (TypeError, ValueError):
            raise TypeError(f"offset must be two lengths (x, y) in mm, got {offset!r}") from None
        object.__setattr__(self, "offset", (real("offset x", ox, -LENGTHS[1], LENGTHS[1], unit="mm"),
                                            real("offset y", oy, -LENGTHS[1], LENGTHS[1], unit="mm")))

    size: int
    pixel_size: float
    offset: tuple[float, float]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ImageGrid is immutable; make a new one, e.g. ImageGrid({self.size}, "
                             f"{self.pixel_size:g}, offset=...)")

    @property
    def shape(self) -> tuple[int, int]:
        """``(size, size)``: rows, columns."""
        return (self.size, self.size)

    @property
    def centred(self) -> bool:
        """Whether the grid's centre is the rotation axis (offset (0, 0))."""
        return self.offset == (0.0, 0.0)

    @property
    def centred_coords(self) -> np.ndarray:
        """Pixel-centre coordinates (mm) along one axis relative to the grid's centre, ``[size]``, increasing."""
        return (np.arange(self.size, dtype=np.float64) - (self.size - 1) / 2.0) * self.pixel_size

    @property
    def x(self) -> np.ndarray:
        """x (mm) of each column's pixel centres, ``[size]``, increasing."""
        return self.centred_coords + self.offset[0]

    @property
    def y(self) -> np.ndarray:
        """y (mm) of each row's pixel centres, ``[size]``, decreasing (row 0 on top)."""
        return self.centred_coords[::-1] + self.offset[1]

    @property
    def extent(self) -> float:
        """Half-width (mm) of the region the pixel basis functions cover about the grid's centre (bilinear hats
        reach one pixel beyond the outermost centres)."""
        return (self.size + 1) / 2.0 * self.pixel_size

    def to_dict(self) -> dict[str, Any]:
        """``{"size": ..., "pixel_size": ..., "offset": [x, y]}``."""
        return {"size": self.size, "pixel_size": self.pixel_size, "offset": list(self.offset)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ImageGrid":
        """Rebuild from :meth:`to_dict` output (validated again)."""
        if not isinstance(d, dict):
            raise TypeError(f"expected a dict describing an image grid, got {type(d).__name__}")
        unknown = set(d) - {"size", "pixel_size", "offset"}
        if unknown:
            raise ValueError(f"an image grid has no {sorted(unknown)}; it has size, pixel_size and offset")
        return cls(**d)

    def differences(self, other: "ImageGrid", rtol: float = 1e-6) -> list[str]:
        """What differs from ``other`` (expected: ``self``), one readable item each; empty if they agree."""
        out = []
        if self.size != other.size:
            out.append(f"grid size {self.size} expected, got {other.size}")
        if not np.isclose(self.pixel_size, other.pixel_size, rtol=rtol, atol=0):
            out.append(f"pixel size {self.pixel_size:g} mm expected, got {other.pixel_size:g} mm")
        if not np.allclose(self.offset, other.offset, rtol=0, atol=rtol * self.pixel_size):
            out.append(f"grid centre {self.offset} mm expected, got {other.offset} mm")
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImageGrid):
            return NotImplemented
        return (self.size, self.pixel_size, self.offset) == (other.size, other.pixel_size, other.offset)

    def __hash__(self) -> int:
        return hash(("ImageGrid", self.size, self.pixel_size, self.offset))

    def __repr__(self) -> str:
        centre = "" if self.centred else f", centre at ({self.offset[0]:g}, {self.offset[1]:g}) mm"
        return f"ImageGrid({self.size}² × {self.pixel_size:g} mm{centre})"


def check_grid(value: Any, geometry: Any, name: str = "grid") -> ImageGrid:
    """``value`` as the grid to use with ``geometry``: ``None`` → the geometry's own grid; an :class:`ImageGrid`
    of the geometry's dimension that lies on the detector side of every source; else ``TypeError``/``ValueError``
    naming ``name``."""
    if value is None:
        return geometry.grid
    if not isinstance(value, ImageGrid):
        raise TypeError(f"{name} must be a recon.ImageGrid (or None for the geometry's own), "
                        f"got {type(value).__name__}")
    if value.ndim != geometry.ndim:
        raise ValueError(f"{name} is {value.ndim}-D but the geometry scans {geometry.ndim}-D objects")
    if value != geometry.grid and geometry.point_source:
        clearance = source_clearance(value, geometry.view_vectors().detector_map())
        if clearance.min() <= 0:
            raise ValueError(f"{name} {value!r} reaches the source of view {int(np.argmin(clearance))}: the "
                             "image must lie on the detector side of every source")
    return value


def source_clearance(grid: ImageGrid, detector_map: Any) -> np.ndarray:
    """How far (mm, along each view's detector normal) the disc about ``grid`` that holds its pixels stays in
    front of a point source: ``L`` of its nearest point, ``[n_views]`` (``detector_map``: a
    :class:`recon.geometry.DetectorMap` of a fan beam). The grid must give every view a positive clearance."""
    m = detector_map
    reach = np.sqrt(2.0) * grid.extent * np.hypot(m.lx, m.ly)
    return m.l0 + m.lx * grid.offset[0] + m.ly * grid.offset[1] - reach
