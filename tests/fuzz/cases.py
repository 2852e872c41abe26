"""The case generator: (layout, corruption, seed) → a folder with the scan file(s) and the argv of
``recon info`` and of ``recon reconstruct --method fbp``.

A *round* (one master seed) builds the pristine scene of every layout (sizes and values drawn from the round
seed) and derives every applicable corruption and variant of it; each case draws its own seed from
(round, layout, corruption, variant), so a case is reproduced exactly by its round seed alone. The default
mode is one round; the long mode (``--long`` or ``RECON_FUZZ_LONG=1``) five rounds with other seeds.
"""

from __future__ import annotations

import copy
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .corruptions import Corruption, applicable
from .layouts import LAYOUTS, pristine, write_scene
from .outputs import OutTarget

__all__ = ["Case", "COMMANDS", "round_seeds", "build_case", "generate", "long_mode"]

COMMANDS = ("info", "reconstruct")
LONG_ROUNDS = 5


@dataclass(frozen=True)
class Case:
    """One fuzz case: where its files are, what to run, and how to judge the outcome.

    ``file`` / ``geometry`` are the FILE and ``--geometry`` arguments (also what ``recon.io.read_scan`` is
    called with to check a silent success), ``out`` the reconstruction TIFF, ``few_values`` whether the
    corruption may legitimately change only a few stored values, ``subprocess`` whether the case must run in
    an address-space-limited ``python -m recon`` (memory bombs), ``detail`` what the byte/path step did,
    ``target`` a hostile ``--out`` (the ``outputs`` category; None: ``out`` in a fresh folder)."""

    layout: str
    corruption: str
    category: str
    variant: Any
    round: int
    seed: int
    folder: Path
    file: Path
    geometry: Optional[Path]
    out: Path
    few_values: bool
    subprocess: bool
    detail: str = ""
    target: Optional[OutTarget] = None

    @property
    def out_target(self) -> OutTarget:
        """Where ``reconstruct`` writes, with its extra arguments."""
        return self.target if self.target is not None else OutTarget(self.out)

    @property
    def label(self) -> str:
        """``layout/corruption[variant]@round``: names the case in reports."""
        variant = "" if self.variant is None else f"[{self.variant}]"
        return f"{self.layout}/{self.corruption}{variant}@{self.round}"

    def argv(self, command: str) -> list[str]:
        """The command line after ``recon``: ``info FILE`` or ``reconstruct FILE --out OUT --method fbp``
        (and the target's extra arguments)."""
        extra = ["--geometry", str(self.geometry)] if self.geometry is not None else []
        if command == "info":
            return ["info", str(self.file)] + extra
        target = self.out_target
        return ["reconstruct", str(self.file), "--out", str(target.out), "--method", "fbp"] + extra + list(target.extra)

    @property
    def info_argv(self) -> list[str]:
        return self.argv("info")

    @property
    def reconstruct_argv(self) -> list[str]:
        return self.argv("reconstruct")


def long_mode() -> bool:
    """Whether ``RECON_FUZZ_LONG=1`` asks for the long mode."""
    return os.environ.get("RECON_FUZZ_LONG", "") not in ("", "0")


def round_seeds(seed: int, long: bool) -> list[int]:
    """The master seed of each round: ``seed`` alone, or five seeds from it in the long mode."""
    return [seed + 7919 * k for k in range(LONG_ROUNDS if long else 1)]


def case_seed(round_seed: int, layout: str, corruption: str, index: int) -> int:
    """A case's own seed (stable across Python runs: crc32, not ``hash``)."""
    entropy = [round_seed, zlib.crc32(layout.encode()), zlib.crc32(corruption.encode()), index]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def build_case(root: Path, layout: str, corruption: Corruption, index: int, round_seed: int) -> Case:
    """Write the files of one case below ``root`` and return it."""
    variant = corruption.variants[index]
    seed = case_seed(round_seed, layout, corruption.name, index)
    rng = np.random.default_rng(seed)
    scene = copy.deepcopy(pristine(layout, round_seed))
    lay = LAYOUTS[layout]
    if corruption.edit is not None:
        corruption.edit(scene, lay, rng, variant)
    folder = root / f"seed{round_seed}" / layout / f"{corruption.name}-{index}"
    with warnings.catch_warnings():  # tifffile warns that an empty array makes a nonconformant TIFF: intended
        warnings.simplefilter("ignore")
        written = write_scene(scene, folder)
    detail = corruption.post(written, scene, rng, variant) if corruption.post is not None else ""
    out = folder / "out" / "recon.tif"
    out.parent.mkdir()
    target = corruption.target(written, folder, variant) if corruption.target is not None else None
    if target is not None:
        out, detail = target.out, "; ".join(d for d in (detail, target.detail) if d)
    return Case(layout, corruption.name, corruption.category, variant, round_seed, seed, folder, written.file,
                written.geometry, out, corruption.few_values, corruption.subprocess, detail or "", target)


def generate(root: Path, seed: int = 0, long: bool = False, layouts: Optional[list[str]] = None) -> list[Case]:
    """Every case of every round, files written below ``root``; the pristine case of each layout comes first."""
    cases = []
    for round_seed in round_seeds(seed, long):
        for layout in layouts or list(LAYOUTS):
            for corruption in applicable(layout):
                for index in range(len(corruption.variants)):
                    cases.append(build_case(Path(root), layout, corruption, index, round_seed))
    return cases
