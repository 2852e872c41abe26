"""Safe output files: never overwrite without ``force``, and write atomically (temp file + rename)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union

__all__ = ["check_writable", "atomic_output"]

PathLike = Union[str, os.PathLike]


def check_writable(path: PathLike, force: bool = False) -> Path:
    """Raise ``FileExistsError`` if ``path`` exists and ``force`` is false; return it as a ``Path``."""
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists; overwrite it only with force")
    return path


@contextlib.contextmanager
def atomic_output(path: PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path`` in one step, on
    failure it is removed and any existing ``path`` is left untouched."""
    path = check_writable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the permissions of a normal one
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
