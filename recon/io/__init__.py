"""Reading and writing files."""

from .atomic import atomic_output, check_writable

__all__ = ["atomic_output", "check_writable"]
