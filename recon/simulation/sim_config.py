"""The simulation config: the TOML form of :mod:`recon.simulation.simulate`, validated into a
:class:`SimulationConfig` (errors name the file, the section and the key)."""

from __future__ import annotations

import inspect
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from .._checks import integer, real
from ..analytic.rebinning import rebin_coverage
from ..geometry import Geometry, VolumeGrid
from ..io import geometry_from_table, parse_toml
from .phantoms import FAMILIES_3D, PHANTOMS, make_phantom, phantom_parameters

__all__ = ["SimulationConfig", "parse_config", "load_config"]

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class SimulationConfig:
    """A validated simulation config (see the module docstring for the TOML form)."""

    text: str
    source: str
    n: int
    seed: int
    family: str
    geometry: Geometry
    phantom_params: dict[str, Any] = field(default_factory=dict)
    det_supersample: int = 1
    i0: Union[None, float, tuple[float, float]] = None
    beam_hardening: tuple[float, float] = (0.0, 0.0)
    electronic_sigma: float = 0.0
    min_counts: float = 0.5
    target_geometry: Optional[Geometry] = None
    acquisition: Optional[Geometry] = None
    volume: Optional[VolumeGrid] = None


# ---- config parsing -----------------------------------------------------------------------------------------

_SECTIONS = {"simulation": True, "phantom": True, "noise": False, "geometry": True, "target_geometry": False,
             "acquisition": False, "volume": False}
_SIMULATION_KEYS = ("n", "seed", "det_supersample")
_NOISE_KEYS = ("i0", "electronic_sigma", "min_counts", "beam_hardening")


def _table(cfg: dict[str, Any], name: str, source: str, allowed: Optional[tuple[str, ...]],
           required: tuple[str, ...] = ()) -> dict[str, Any]:
    table = cfg.get(name, {})
    if not isinstance(table, dict):
        raise TypeError(f"{source}: [{name}] must be a table")
    if allowed is not None:
        unknown = sorted(set(table) - set(allowed))
        if unknown:
            raise ValueError(f"{source}: [{name}] has unknown key(s) {unknown}; allowed: {list(allowed)}")
    missing = [k for k in required if k not in table]
    if missing:
        raise ValueError(f"{source}: [{name}] is missing key(s) {missing}")
    return table


def parse_config(text: str, source: str = "<config>") -> SimulationConfig:
    """Validate a simulation config given as TOML text; errors are ``ValueError`` naming ``source``, the
    section and the key."""
    cfg = parse_toml(text, source)
    unknown = sorted(set(cfg) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"{source}: unknown section(s) {['[' + s + ']' for s in unknown]}; "
                         f"allowed: {['[' + s + ']' for s in _SECTIONS]}")
    missing = [f"[{s}]" for s, required in _SECTIONS.items() if required and s not in cfg]
    if missing:
        raise ValueError(f"{source}: missing section(s) {missing}")

    sim = _table(cfg, "simulation", source, _SIMULATION_KEYS, required=("n", "seed"))
    n = integer(f"{source}: [simulation] n", sim["n"], low=1)
    seed = integer(f"{source}: [simulation] seed", sim["seed"], low=0)
    det_supersample = integer(f"{source}: [simulation] det_supersample", sim.get("det_supersample", 1), low=1)

    noise = _table(cfg, "noise", source, _NOISE_KEYS)
    i0_value = noise.get("i0", 0.0)
    i0: Any = (_value_range(f"{source}: [noise] i0", i0_value, strict=True) if isinstance(i0_value, list)
               else real(f"{source}: [noise] i0", i0_value, low=0.0))
    hardening = _value_range(f"{source}: [noise] beam_hardening", noise.get("beam_hardening", 0.0))
    electronic_sigma = real(f"{source}: [noise] electronic_sigma", noise.get("electronic_sigma", 0.0), low=0.0)
    min_counts = real(f"{source}: [noise] min_counts", noise.get("min_counts", 0.5), low=0.0, strict=True)

    phantom = _table(cfg, "phantom", source, None, required=("family",))
    family = phantom["family"]
    if not isinstance(family, str) or family not in PHANTOMS:
        raise ValueError(f"{source}: [phantom] family must be one of {sorted(PHANTOMS)}, got {family!r}")
    params = {k: v for k, v in phantom.items() if k != "family"}
    unknown = sorted(set(params) - set(phantom_parameters(family)))
    if unknown:
        raise ValueError(f"{source}: [phantom] has unknown key(s) {unknown} for family {family!r}; "
                         f"allowed: {['family', *phantom_parameters(family)]}")
    try:  # a trial draw checks the parameters' values and types
        make_phantom(family, np.random.default_rng(0), **params)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: [phantom] {err}") from None

    geometries = {}
    for name in ("geometry", "target_geometry", "acquisition"):
        if name in cfg:
            try:
                geometries[name] = geometry_from_table(cfg[name], where=name)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{source}: {err}") from None

    volume = _volume(cfg, geometries, family, source)
    config = SimulationConfig(text=text, source=source, n=n, seed=seed, family=family, phantom_params=params,
                              geometry=geometries["geometry"], det_supersample=det_supersample, volume=volume,
                              i0=i0 if isinstance(i0, tuple) or i0 > 0 else None, beam_hardening=hardening, electronic_sigma=electronic_sigma, min_counts=min_counts,
                              target_geometry=geometries.get("target_geometry"),
                              acquisition=geometries.get("acquisition"))
    if config.acquisition is not None:
        covered = float(rebin_coverage(config.acquisition, config.geometry).mean())
        if covered < 0.9:
            raise ValueError(f"{source}: the [acquisition] scan contains only {covered:.0%} of the [geometry] "
                             "sinogram's lines; rebinning would leave the rest zero")
    for message in _coverage_problems(config):
        warnings.warn(f"{source}: {message}", stacklevel=2)
    return config


def _volume(cfg: dict[str, Any], geometries: dict[str, Any], family: str, source: str) -> Optional[VolumeGrid]:
    """The ``[volume]`` of a cone-beam simulation (required there, refused elsewhere), checked against the family
    (3-D phantoms for cone beam, 2-D ones otherwise) and the other geometries (none for cone beam)."""
    cone = getattr(geometries["geometry"], "ndim", 2) == 3
    if cone != (family in FAMILIES_3D):
        raise ValueError(f"{source}: [phantom] family {family!r} is {'3-D' if family in FAMILIES_3D else '2-D'} but "
                         f"the [geometry] is {'cone beam' if cone else '2-D'}; 3-D families: {sorted(FAMILIES_3D)}")
    if not cone:
        if "volume" in cfg:
            raise ValueError(f"{source}: [volume] belongs to cone-beam simulations; a 2-D [geometry] has its grid")
        return None
    if "target_geometry" in cfg or "acquisition" in cfg:
        raise ValueError(f"{source}: [target_geometry] and [acquisition] are for 2-D simulations only")
    table = _table(cfg, "volume", source, ("shape", "voxel_size", "offset"), required=("shape", "voxel_size"))
    try:
        return geometries["geometry"].check_grid(VolumeGrid(**table), "[volume]")
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: [volume] {err}") from None


def _value_range(name: str, value: Any, strict: bool = False) -> tuple[float, float]:
    """A number ``>= 0`` (``> 0`` if ``strict``) or a ``[min, max]`` pair of them, as ``(min, max)``."""
    if isinstance(value, list):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or [min, max], got {value!r}")
        lo, hi = (real(name, v, low=0.0, strict=strict) for v in value)
        if lo > hi:
            raise ValueError(f"{name} must be [min, max] with min <= max, got {value!r}")
        return lo, hi
    v = real(name, value, low=0.0, strict=strict)
    return v, v


def load_config(path: PathLike) -> SimulationConfig:
    """Read and validate a simulation config file (``FileNotFoundError`` if missing)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    return parse_config(path.read_text(encoding="utf-8"), str(path))


def _coverage_problems(config: SimulationConfig) -> list[str]:
    """Warnings when the phantom family's ``radius`` exceeds the image or a detector's field of view."""
    if config.volume is not None:  # cone beam: the check of [volume] against the scan is all
        return []
    defaults = inspect.signature(PHANTOMS[config.family]).parameters
    radius = config.phantom_params.get("radius", defaults["radius"].default if "radius" in defaults else None)
    if radius is None:
        return []
    problems = []
    g = config.geometry
    if radius > g.image_size * g.pixel_size / 2:
        problems.append(f"phantom radius {radius} mm exceeds the image half-width "
                        f"{g.image_size * g.pixel_size / 2:.4g} mm: ground-truth images are cut off")
    for name, geom in (("geometry", g), ("target_geometry", config.target_geometry),
                       ("acquisition", config.acquisition)):
        if geom is None:
            continue
        u = np.abs(geom.det_coords).max() + geom.det_spacing / 2
        if geom.point_source:
            gamma = u / geom.sdd if geom.detector == "arc" else math.atan2(u, geom.sdd)
            fov = geom.sod * math.sin(gamma)
        else:
            fov = u
        if radius > fov:
            problems.append(f"phantom radius {radius} mm exceeds the [{name}] detector's field of view "
                            f"(radius {fov:.4g} mm): sinograms are truncated")
    return problems
