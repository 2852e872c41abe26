"""File checksums: the SHA-256 of a file's bytes, read in chunks, remembered per (path, size, modification
time) within a process so that a file looked up many times is hashed once."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Union

__all__ = ["file_sha256"]

PathLike = Union[str, os.PathLike]

_KNOWN: dict[tuple[str, int, int], str] = {}


def file_sha256(path: PathLike) -> str:
    """The hexadecimal SHA-256 of the bytes of the regular file ``path`` (``OSError`` if it cannot be read)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _KNOWN:
        with open(path, "rb") as f:
            _KNOWN[key] = hashlib.file_digest(f, "sha256").hexdigest() if hasattr(hashlib, "file_digest") else \
                _chunked(f)
    return _KNOWN[key]


def _chunked(f) -> str:
    """SHA-256 of an open file in 1 MiB chunks (Python 3.10, which lacks ``hashlib.file_digest``)."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: f.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()
