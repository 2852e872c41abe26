"""The verdict the reader fuzz tests share: a corrupted file reads, or is refused in one line naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from recon._checks import NotEnoughMemory
from recon.io import ScanFormatError


def read_or_refuse(read: Callable[[], Any], where: Path, label: str) -> Optional[Any]:
    """``read()``'s scan, or None when it raised one :class:`ScanFormatError` (or ``NotEnoughMemory``) whose single
    line starts with ``where``; any other exception, or a message of several lines or naming something else,
    fails the test with ``label``."""
    try:
        return read()
    except (ScanFormatError, NotEnoughMemory) as err:
        message = str(err)
        assert "\n" not in message and message.startswith(str(where)), (label, message)
        return None
    except Exception as err:  # noqa: BLE001 - any other type is a finding
        pytest.fail(f"{label}: {type(err).__name__}: {err}")
