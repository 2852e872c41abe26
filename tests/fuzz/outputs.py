"""The ``outputs`` category: hostile or careless ``--out`` targets for ``recon reconstruct``, and the check that
no command run of any case changes a file it did not write.

A target hook (:data:`Target`) turns the written case into the ``--out`` path, the extra arguments
(``--force``) and a detail line. The targets: the data file, the sidecar or a flat-field frame with ``--force``
(directly, through ``out/..`` and through a symlinked alias of the folder), the input's own folder, a symbolic
link to the data, a dangling symbolic link, a FIFO, an existing file without ``--force``, a path below a regular
file, a folder named like a TIFF. The data named ``...<ext>`` (stem ``..``) with ``--out`` a folder must land
inside that folder.

:func:`snapshot` records every entry below a case folder (type, bytes' SHA-256, link target); :func:`breach`
compares two snapshots: an entry that existed before must be unchanged (the ``--out`` symbolic link alone may be
replaced when ``--force`` is given), and a new entry may only be the output (``--out``, its ``.png`` preview, or
anything inside ``--out`` when it is a folder). Leftover temp files count as breaches too.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from .layouts import Written

__all__ = ["OutTarget", "Target", "target", "snapshot", "breach", "new_image"]


@dataclass(frozen=True)
class OutTarget:
    """Where ``reconstruct`` is told to write: ``out`` (``is_dir``: a folder), the extra arguments, whether the
    entry at ``out`` may be replaced (only a symbolic link given with ``--force``), what was set up."""

    out: Path
    extra: tuple = ()
    is_dir: bool = False
    replaceable: bool = False
    detail: str = ""


Target = Callable[[Written, Path, Any], OutTarget]
FORCE = ("--force",)


def _alias(folder: Path) -> Path:
    """A symbolic link to ``folder`` beside it inside the case: the same files under another name."""
    alias = folder / "out" / "alias"
    os.symlink(folder, alias)
    return alias


def _reach(path: Path, folder: Path, how: str) -> Path:
    """``path`` (inside ``folder``) written plainly, through ``out/..``, or through a symlinked alias."""
    if how == "dotdot":
        return folder / "out" / ".." / path.relative_to(folder)
    if how == "alias":
        return _alias(folder) / path.relative_to(folder)
    return path


def target(kind: str) -> Target:
    """The target hook of one ``outputs`` corruption (variants: how the path is reached, where that applies)."""
    def hook(w: Written, folder: Path, variant: Any) -> OutTarget:
        out_dir = folder / "out"
        if kind in ("data", "sidecar", "flat"):
            path = {"data": w.data, "sidecar": w.sidecar, "flat": folder / "flat_0.tif"}[kind]
            out = _reach(path, folder, variant)
            return OutTarget(out, FORCE, detail=f"--out {out.relative_to(folder)} (the {kind}) --force")
        if kind == "input_folder":
            return OutTarget(folder, FORCE, is_dir=True, detail="--out is the folder of the input, --force")
        if kind == "dots":
            return OutTarget(out_dir, is_dir=True, detail=f"the data is named {w.file.name!r}; --out out/")
        out = out_dir / "recon.tif"
        if kind == "symlink_to_data":
            os.symlink(w.data, out)
            return OutTarget(out, FORCE, replaceable=True, detail="--out is a symbolic link to the data, --force")
        if kind == "dangling_symlink":
            os.symlink(out_dir / "missing.tif", out)
            return OutTarget(out, detail="--out is a symbolic link to nothing")
        if kind == "fifo":
            os.mkfifo(out)
            return OutTarget(out, FORCE, detail="--out is a FIFO, --force")
        if kind == "exists":
            out.write_bytes(b"a file the user keeps\n")
            return OutTarget(out, detail="--out exists, no --force")
        if kind == "below_file":
            return OutTarget(w.data / "recon.tif", FORCE, detail="--out lies below the data file, --force")
        if kind == "folder_named_tif":
            out.mkdir()
            return OutTarget(out, FORCE, detail="--out is a folder named recon.tif, --force")
        raise ValueError(kind)
    return hook


# ---- what a run changed -------------------------------------------------------------------------------------

def _signature(path: Path) -> tuple:
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(mode):
        return ("dir",)
    if stat.S_ISREG(mode):
        return ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return ("special", stat.S_IFMT(mode))


def snapshot(folder: Path) -> dict[Path, tuple]:
    """Every entry below ``folder`` (not following links; the harness's own ``*.stderr`` logs left out)."""
    entries = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            if not (Path(root) == folder and name.endswith(".stderr")):
                entries[path] = _signature(path)
    return entries


def _is_output(path: Path, out: OutTarget) -> bool:
    if out.is_dir:
        return out.out in path.parents
    return path in (out.out, out.out.with_suffix(".png"))


def breach(before: dict, after: dict, out: OutTarget) -> Optional[str]:
    """Why the run broke the rule (an input or other entry changed or removed, a file written outside
    ``--out``), or None."""
    for path, sig in before.items():
        if out.replaceable and path == out.out:
            continue
        if path not in after:
            return f"{path.name} was removed"
        if after[path] != sig:
            return f"{path.name} was changed ({sig[0]} → {after[path][0]})"
    for path in after.keys() - before.keys():
        if not _is_output(path, out):
            return f"{path} was written outside --out"
    return None


def new_image(before: dict, after: dict, out: OutTarget) -> Optional[Path]:
    """The reconstruction TIFF a run wrote: ``--out`` itself, or the one new ``.tif`` inside an ``--out`` folder."""
    if not out.is_dir:
        return out.out
    new = sorted(p for p in after.keys() - before.keys() if p.suffix == ".tif" and after[p][0] == "file")
    return new[0] if len(new) == 1 else None
