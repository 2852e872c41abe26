"""Byte-level corruptions of written files: truncation, bit flips in the header or in the payload (the bytes
of the main array, found by searching the file for them), zeroed blocks in either, bit flips of the
structural characters of a text file, and appended garbage."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

__all__ = ["payload_span", "truncate", "flip_bit", "zero_block", "flip_structural_bit", "append_garbage"]


def payload_span(blob: bytes, stored: Optional[np.ndarray]) -> Optional[tuple[int, int]]:
    """Where the bytes of ``stored`` (row- or column-major) lie in ``blob``; None when they are not found."""
    if stored is None or stored.size < 4 or stored.dtype.kind not in "fiuc":
        return None
    for order in ("C", "F"):
        needle = stored.tobytes(order=order)
        start = blob.find(needle)
        if start >= 0:
            return start, start + len(needle)
    return None


def truncate(path: Path, fraction: float) -> None:
    """Keep the first ``fraction`` of the file (0 → an empty file)."""
    blob = path.read_bytes()
    path.write_bytes(blob[: int(len(blob) * fraction)])


def flip_bit(path: Path, rng: np.random.Generator, where: str, stored: Optional[np.ndarray]) -> str:
    """Flip one bit in the header (before the payload) or in the payload; returns what was flipped."""
    blob = bytearray(path.read_bytes())
    span = payload_span(bytes(blob), stored)
    if where == "payload":
        lo, hi = span if span is not None else (len(blob) // 2, len(blob))
    else:
        lo, hi = 0, span[0] if span is not None and span[0] >= 16 else min(len(blob), 512)
    offset, bit = int(rng.integers(lo, max(hi, lo + 1))), int(rng.integers(8))
    blob[offset] ^= 1 << bit
    path.write_bytes(bytes(blob))
    return f"bit {bit} of byte {offset} ({where} {lo}…{hi})"


def zero_block(path: Path, rng: np.random.Generator, where: str, stored: Optional[np.ndarray]) -> str:
    """Zero a block of bytes: 16–256 bytes before the payload (the header), or whole values of the payload,
    as many as 0.5 % of its elements (at least one), aligned to the element size."""
    blob = bytearray(path.read_bytes())
    span = payload_span(bytes(blob), stored)
    if where == "payload" and span is not None:
        item = stored.dtype.itemsize
        count = max(1, int(0.005 * stored.size))
        start = span[0] + item * int(rng.integers(0, stored.size - count + 1))
        size = item * count
    else:
        end = span[0] if span is not None and span[0] >= 32 else len(blob)
        size = min(int(rng.integers(16, 257)), max(1, end // 2))
        start = int(rng.integers(0, max(1, end - size)))
    blob[start:start + size] = bytes(len(blob[start:start + size]))
    path.write_bytes(bytes(blob))
    return f"{size} bytes at {start} ({where})"


STRUCTURAL = b'=[]{}",\n'


def flip_structural_bit(path: Path, rng: np.random.Generator) -> str:
    """Flip one bit of a structural character of a text file (``= [ ] { } " ,`` or a newline): a flipped digit
    would be another valid number, which no reader can tell from the right one."""
    blob = bytearray(path.read_bytes())
    offsets = [i for i, b in enumerate(blob) if b in STRUCTURAL]
    offset, bit = int(offsets[int(rng.integers(len(offsets)))]), int(rng.integers(8))
    old = chr(blob[offset])
    blob[offset] ^= 1 << bit
    path.write_bytes(bytes(blob))
    return f"bit {bit} of byte {offset} ({old!r} → {chr(blob[offset])!r})"


def append_garbage(path: Path, rng: np.random.Generator) -> str:
    """Append 16–4096 random bytes."""
    extra = rng.integers(0, 256, size=int(rng.integers(16, 4097)), dtype=np.uint8).tobytes()
    with open(path, "ab") as f:
        f.write(extra)
    return f"{len(extra)} bytes appended"
