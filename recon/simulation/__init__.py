"""Simulated data: exact line integrals of analytic phantoms, photon noise, and the HDF5 datasets.

* :mod:`.shapes` — ellipses and polygons with exact line integrals, rasterisation;
* :mod:`.phantoms` — phantom families (Shepp–Logan, random ellipses/polygons, discs with holes);
* :mod:`.noise` — Poisson (+ electronic) noise before the log, photon-count estimation;
* :mod:`.simulate` — the dataset writer (``recon simulate``);
* :mod:`.dataset` — the dataset reader (training, evaluation and comparison read through it);
* :mod:`.targets` — training targets made the way a real reference is made.
"""
