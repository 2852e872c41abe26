"""The version of recon (read by the packaging metadata without importing the package)."""

__version__ = "0.2.0"
