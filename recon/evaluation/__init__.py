"""Scoring reconstructions: image quality on real scans, the comparison methods, ``recon evaluate`` and
``recon compare``."""
