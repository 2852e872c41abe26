"""The package's logger and verbosity.

``recon`` reports notes (what it chose, what it wrote) at ``INFO`` and details (formats, shapes, timings) at
``DEBUG`` through the standard :mod:`logging` module, on the logger ``"recon"``; as a library it adds no handler,
so a script sees them only where it configures logging (``logging.basicConfig(level=logging.INFO)``). The command
line sets the level from ``--quiet`` (warnings and errors only, no progress bars) and ``--verbose`` (details too).
Warnings about the data stay :mod:`warnings` (:class:`~recon.io.ScanWarning` …), errors exceptions.
"""

from __future__ import annotations

import logging
from typing import Optional

__all__ = ["logger", "progress_disabled"]

logger = logging.getLogger("recon")


def progress_disabled() -> Optional[bool]:
    """tqdm's ``disable``: ``True`` (no bar) when the ``recon`` logger was set to ``WARNING`` or above
    (``--quiet``), else ``None`` (a bar on a terminal, none in a log file or a pipe)."""
    return True if logger.level >= logging.WARNING else None
