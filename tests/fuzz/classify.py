"""What one run of ``recon info`` / ``recon reconstruct`` means: the outcome classes.

Passes:

* ``error`` — exit status 2 and stderr is exactly one ``recon <cmd>: error: ...`` line (lines containing
  ``warning:`` are allowed besides it);
* ``warning`` — exit 0 and at least one warning: a recorded Python warning or a stderr line containing
  ``warning:`` (indented continuation lines of a printed Python warning belong to it);
* ``correct`` — exit 0, no warning, and the result is right: ``reconstruct`` wrote a finite TIFF equal to the
  pristine file's reconstruction (``np.allclose``, rtol 1e-4, atol 1e-5·max|pristine|); ``info``: the scan
  ``recon.io.read_scan`` gives is the pristine sinogram and geometry. For corruptions that may legitimately
  change a few stored values (``few_values``) it is enough that the sinogram differs from the pristine one in
  ≤ 1 % of its elements with every value in [-1, 40] (and, for ``info``, the geometry is the pristine one).

Failures: ``traceback`` (an exception escaped ``main``, a subprocess exited with another status or died,
stderr holds lines that are neither the error line nor warnings), ``hang`` (no result within the time limit)
and ``wrong`` (exit 0, no warning, result not correct — or, whatever the exit status, the run changed or
removed a file it did not write or wrote outside ``--out``: :func:`tests.fuzz.outputs.breach`). The pristine
case itself must be ``correct``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .cases import Case
from .outputs import breach, new_image

__all__ = ["OUTCOMES", "PASSING", "Run", "Result", "Reference", "classify", "same_geometry"]

OUTCOMES = ("error", "warning", "correct", "traceback", "hang", "wrong")
PASSING = ("error", "warning", "correct")
LOW, HIGH, FEW = -1.0, 40.0, 0.01


@dataclass(frozen=True)
class Run:
    """What one command did: exit status (None when an exception escaped or it hung), stderr, the recorded
    Python warnings, the escaped exception (``"Type: first line"``), whether it hung, and how long it took."""

    status: Optional[int]
    stderr: str = ""
    warnings: tuple = ()
    exception: Optional[str] = None
    hang: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class Result:
    """The outcome of one command on one case, with the line that explains it."""

    case: Case
    command: str
    outcome: str
    message: str
    seconds: float

    @property
    def passed(self) -> bool:
        return self.outcome in PASSING


@dataclass
class Reference:
    """The pristine file of a layout: its scan (sinogram, geometry) and its reconstruction (or why not)."""

    sinogram: Optional[np.ndarray] = None
    geometry: object = None
    image: Optional[np.ndarray] = None
    problem: str = ""
    notes: list = field(default_factory=list)


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return np.isclose(a, b, rtol=1e-4, atol=1e-5 * scale)


def same_geometry(a, b) -> bool:
    """Whether two geometries have the same type and parameters (angles to 1e-9 rad)."""
    if type(a) is not type(b):
        return False
    da, db = a.to_dict(), b.to_dict()
    for key in da:
        x, y = da[key], db.get(key)
        if isinstance(x, list):
            if not (isinstance(y, list) and len(x) == len(y) and np.allclose(x, y, rtol=0, atol=1e-9)):
                return False
        elif isinstance(x, float):
            if not (isinstance(y, (int, float)) and np.isclose(x, y, rtol=1e-9, atol=1e-12)):
                return False
        elif x != y:
            return False
    return True


def _sinogram_verdict(case: Case, sino: np.ndarray, ref: Reference) -> Optional[str]:
    """None when ``sino`` is the pristine sinogram (or, for few-value corruptions, nearly); else why not."""
    if sino.shape != ref.sinogram.shape:
        return f"sinogram shape {sino.shape}, pristine {ref.sinogram.shape}"
    differ = int(np.count_nonzero(~_close(sino, ref.sinogram)))
    if differ == 0:
        return None
    if not case.few_values:
        return f"sinogram differs from the pristine one in {differ} of {sino.size} elements"
    if differ > FEW * sino.size:
        return f"sinogram differs in {differ} of {sino.size} elements (> 1 %)"
    if not np.all(np.isfinite(sino)) or sino.min() < LOW or sino.max() > HIGH:
        return f"sinogram values {float(sino.min()):.4g} … {float(sino.max()):.4g} outside [-1, 40]"
    return None


def _check_info(case: Case, ref: Reference, read: Callable) -> Optional[str]:
    scan = read(case)
    verdict = _sinogram_verdict(case, scan.sinogram, ref)
    if verdict is None and not same_geometry(scan.geometry, ref.geometry):
        verdict = f"geometry {scan.geometry!r} is not the pristine {ref.geometry!r}"
    return verdict


def _check_reconstruct(case: Case, ref: Reference, read: Callable, written: Optional[Path]) -> Optional[str]:
    import tifffile

    if written is None or not written.is_file():
        return f"exit 0 but no {(written or case.out).name} was written"
    image = np.asarray(tifffile.imread(written))
    if not np.all(np.isfinite(image)):
        return f"the image has {int(np.count_nonzero(~np.isfinite(image)))} NaN/Inf pixels"
    if image.shape == ref.image.shape and np.all(_close(image, ref.image)):
        return None
    why = (f"image shape {image.shape}, pristine {ref.image.shape}" if image.shape != ref.image.shape else
           f"image differs from the pristine reconstruction (max |Δ| {float(np.max(np.abs(image - ref.image))):.4g}"
           f", pristine max {float(np.max(np.abs(ref.image))):.4g})")
    if not case.few_values:
        return why
    verdict = _sinogram_verdict(case, read(case).sinogram, ref)
    return None if verdict is None else f"{why}; {verdict}"


def _stderr_lines(stderr: str, command: str) -> tuple[list[str], list[str], list[str]]:
    """(error lines, warning lines, other lines) of stderr."""
    errors, warns, other = [], [], []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        if line.startswith(f"recon {command}: error:"):
            errors.append(line)
        elif "warning:" in line.lower() or (warns and line[:1].isspace() and not other):
            warns.append(line)
        else:
            other.append(line)
    return errors, warns, other


def classify(case: Case, command: str, run: Run, ref: Optional[Reference], read: Callable,
             before: Optional[dict] = None, after: Optional[dict] = None) -> tuple[str, str]:
    """(outcome, message) of ``run``; ``read(case)`` reads the case's scan in-process (for the checks);
    ``before``/``after``: snapshots of the case folder around the run (:func:`tests.fuzz.outputs.snapshot`)."""
    if run.hang:
        return "hang", f"no result after {run.seconds:.0f} s"
    broken = None if before is None else breach(before, after, case.out_target)
    if broken is not None:
        return "wrong", f"{command} {broken}"
    if run.exception is not None:
        return "traceback", run.exception
    errors, warns, other = _stderr_lines(run.stderr, command)
    if run.status == 2 and len(errors) == 1 and not other:
        return "error", errors[0]
    if run.status != 0:
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        return "traceback", f"exit status {run.status}: " + (lines[-1] if lines else "(no stderr)")
    if other:
        return "traceback", f"exit 0 with unexpected stderr: {other[0]}"
    if run.warnings or warns:
        return "warning", (list(run.warnings) + warns)[0]
    if case.subprocess:
        return "wrong", "exit 0 without a warning (a memory-bomb case: the result is not checked in-process)"
    if ref is None or ref.problem:
        return "wrong", f"exit 0 without a warning, and no pristine reference to compare with: {ref and ref.problem}"
    written = case.out if before is None else new_image(before, after, case.out_target)
    try:
        verdict = (_check_info(case, ref, read) if command == "info" else
                   _check_reconstruct(case, ref, read, written))
    except Exception as err:  # the in-process check could not read what the command accepted
        verdict = f"the command succeeded but the check's read failed: {type(err).__name__}: {err}"
    return ("correct", "") if verdict is None else ("wrong", verdict)
