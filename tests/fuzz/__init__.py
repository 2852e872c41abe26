"""A seeded, time-bounded fuzz suite for the scan readers and ``recon info`` / ``recon reconstruct --method fbp``.

* :mod:`tests.fuzz.layouts` — small pristine scans of every reader layout as editable :class:`~tests.fuzz.layouts.Scene`
  values, and the writers that store a scene as files;
* :mod:`tests.fuzz.corruptions` — the byte-level, content-level, geometry and path corruptions;
* :mod:`tests.fuzz.cases` — the generator: (layout, corruption, seed) → a folder with the files and both argvs;
* :mod:`tests.fuzz.classify` — what a run's exit status, stderr, warnings and outputs mean (the outcome classes);
* :mod:`tests.fuzz.harness` — runs every case (in-process, or in an address-space-limited subprocess for the
  memory bombs) and prints the outcome tables: ``python -m tests.fuzz.harness [--long] [--seed S]``;
* :mod:`tests.fuzz.test_fuzz` — the pytest entry (0 failures, ≥ 300 cases).
"""
