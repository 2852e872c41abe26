"""An exclusive lock on a folder for the lifetime of one process's work in it (a training run).

The lock is an OS advisory lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on the hidden file
``.recon.lock`` in the folder: it is released when the holder exits in any way, ``SIGKILL`` included, so a stale
lock never blocks a later run. A second process asking for a held lock fails at once with one line naming the
folder and the holder's process id.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Union

__all__ = ["LOCK_NAME", "FolderLocked", "folder_lock"]

LOCK_NAME = ".recon.lock"


class FolderLocked(BlockingIOError):
    """Another process holds the folder's lock (an ``OSError``: the CLI reports it in one line)."""


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


@contextlib.contextmanager
def folder_lock(folder: Union[str, os.PathLike], what: str = "recon train") -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) inside the block; ``FolderLocked`` when another
    process holds it. Yields the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() if hasattr(os, "pread") else ""
            raise FolderLocked(f"{folder}: another {what} is writing to this folder"
                               f"{f' (process {holder})' if holder else ''}; wait for it or choose another folder")
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0) if hasattr(os, "pwrite") else None
        yield folder
    finally:
        os.close(fd)  # closing releases the lock
