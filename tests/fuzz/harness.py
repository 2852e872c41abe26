"""Run the fuzz cases and classify them: ``python -m tests.fuzz.harness [--long] [--seed S] [--keep DIR]``.

Ordinary cases run in this process: ``recon.app.cli.main(argv)`` under ``warnings.catch_warnings(record=True)``
(``simplefilter("always")``), with stdout/stderr captured, a per-command time limit (``signal.setitimer`` →
``hang``) and a soft address-space limit a few GB above the current size (a corrupt header that declares a
huge array then fails with ``MemoryError`` instead of exhausting the machine). Memory-bomb cases run as
``python -m recon info|reconstruct ...`` subprocesses with ``RLIMIT_AS`` set in ``preexec_fn``, in the
background while the in-process cases run. The outcome classes are defined in :mod:`tests.fuzz.classify`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Iterator, Optional

from .cases import COMMANDS, Case, generate, long_mode
from .classify import Reference, Result, Run, classify
from .outputs import snapshot
from .report import Report

__all__ = ["run_suite", "run_case", "run_inprocess", "run_subprocess", "main", "TIME_LIMIT_S"]

TIME_LIMIT_S = float(os.environ.get("RECON_FUZZ_TIME_LIMIT", "20"))
GUARD_BYTES = 4 << 30          # in-process: address space allowed above the current size
SUBPROCESS_LIMITS_GB = (6, 8, 12, 16)
SUBPROCESS_STARTUP_S = 30.0    # python -m recon imports torch: added to the time limit of a subprocess


class FuzzTimeout(BaseException):
    """Raised by the alarm when a command runs past its time limit (a BaseException: no ``except Exception``
    in the code under test swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`FuzzTimeout` in the main thread after ``seconds``."""
    def alarm(signum, frame):
        raise FuzzTimeout(f"no result after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _vm_size() -> Optional[int]:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@contextlib.contextmanager
def memory_guard(extra: int = GUARD_BYTES) -> Iterator[None]:
    """A soft ``RLIMIT_AS`` of the current address space + ``extra`` (Linux; restored afterwards)."""
    size = _vm_size()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = None if size is None else size + extra
    if limit is not None and hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def run_inprocess(argv: list[str], limit: float = TIME_LIMIT_S) -> Run:
    """``recon.app.cli.main(argv)`` with warnings recorded, output captured, time and memory limited."""
    from recon.app.cli import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        try:
            with memory_guard(), time_limit(limit):
                status = cli_main(argv)
        except FuzzTimeout:
            return Run(None, err.getvalue(), hang=True, seconds=time.perf_counter() - start)
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - anything escaping main is the finding
            if isinstance(exc, KeyboardInterrupt):
                raise
            where = traceback.extract_tb(exc.__traceback__)[-1]
            message = f"{_first_line(exc)} (at {Path(where.filename).name}:{where.lineno})"
            return Run(None, err.getvalue(), exception=message, seconds=time.perf_counter() - start)
    recorded = tuple(f"{w.category.__name__}: {w.message}" for w in caught)
    return Run(status, err.getvalue(), recorded, seconds=time.perf_counter() - start)


# ---- subprocesses with an address-space limit ------------------------------------------------------------

_LIMIT: list[int] = []


def _rlimit(nbytes: int):
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))


def _env() -> dict:
    """The subprocesses' environment: one thread, every warning shown, the recon of this checkout importable
    (also where it is not installed)."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="always",
                PYTHONIOENCODING="utf-8:backslashreplace", PYTHONPATH=path)


def address_space_limit() -> int:
    """The smallest of 6, 8, 12, 16 GB under which ``python -m recon --version`` still runs (probed once)."""
    if not _LIMIT:
        for gb in SUBPROCESS_LIMITS_GB:
            probe = subprocess.run([sys.executable, "-m", "recon", "--version"], capture_output=True,
                                   preexec_fn=_rlimit(gb << 30), env=_env(), timeout=120)
            if probe.returncode == 0:
                _LIMIT.append(gb << 30)
                break
        else:
            raise RuntimeError(f"python -m recon --version fails even under a {SUBPROCESS_LIMITS_GB[-1]} GB limit")
    return _LIMIT[0]


class Background:
    """Subprocess runs (one at a time, so the in-process cases keep the other core), polled by :meth:`pump`."""

    def __init__(self, limit: float = TIME_LIMIT_S) -> None:
        self.queue: list[tuple[Case, str]] = []
        self.running: Optional[tuple[Case, str, subprocess.Popen, float, Path, dict]] = None
        self.done: list[tuple[Case, str, Run, dict, dict]] = []
        self.timeout = limit + SUBPROCESS_STARTUP_S

    def submit(self, case: Case, command: str) -> None:
        self.queue.append((case, command))
        self.pump()

    def pump(self) -> None:
        """Collect a finished (or overdue) run and start the next one."""
        if self.running is not None:
            case, command, proc, start, log, before = self.running
            overdue = time.perf_counter() - start > self.timeout
            if proc.poll() is None and not overdue:
                return
            if overdue and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            stderr = log.read_text(encoding="utf-8", errors="backslashreplace")
            run = Run(None if overdue else proc.returncode, stderr, hang=overdue, seconds=time.perf_counter() - start)
            self.done.append((case, command, run, before, snapshot(case.folder)))
            self.running = None
        if self.queue:
            case, command = self.queue.pop(0)
            log = case.folder / f"{command}.stderr"
            before = snapshot(case.folder)
            with open(log, "wb") as stderr:
                proc = subprocess.Popen([sys.executable, "-m", "recon"] + case.argv(command), cwd=case.folder,
                                        stdout=subprocess.DEVNULL, stderr=stderr, env=_env(),
                                        preexec_fn=_rlimit(address_space_limit()), start_new_session=True)
            self.running = (case, command, proc, time.perf_counter(), log, before)

    def wait(self) -> list[tuple[Case, str, Run, dict, dict]]:
        while self.queue or self.running is not None:
            time.sleep(0.05)
            self.pump()
        return self.done


def run_subprocess(case: Case, command: str) -> Run:
    """One memory-bomb run in the foreground (used by tests of the harness itself)."""
    background = Background()
    background.submit(case, command)
    return background.wait()[0][2]


# ---- cases -----------------------------------------------------------------------------------------------

def read_case(case: Case):
    """``recon.io.read_scan`` of the case's FILE / ``--geometry``, as the commands read it (time and memory limited)."""
    from recon.io import read_scan

    with memory_guard(), time_limit(TIME_LIMIT_S):
        return read_scan(case.file, geometry=None if case.geometry is None else str(case.geometry))


def build_reference(case: Case) -> Reference:
    """The pristine case's scan and reconstruction (into ``reference/`` of its folder)."""
    import tifffile

    ref = Reference()
    try:
        scan = read_case(case)
        ref.sinogram, ref.geometry = scan.sinogram, scan.geometry
    except BaseException as err:  # noqa: BLE001
        ref.problem = f"the pristine file cannot be read: {_first_line(err)}"
        return ref
    out = case.folder / "reference" / "recon.tif"
    argv = case.argv("reconstruct")
    argv[argv.index("--out") + 1] = str(out)
    run = run_inprocess(argv)
    if run.status != 0 or not out.is_file():
        ref.problem = f"the pristine file does not reconstruct: {run.exception or run.stderr.strip()[:300]}"
        return ref
    ref.image = tifffile.imread(out)
    return ref


def _result(case: Case, command: str, run: Run, ref: Optional[Reference], before: Optional[dict] = None,
            after: Optional[dict] = None) -> Result:
    outcome, message = classify(case, command, run, ref, read_case, before, after)
    if case.corruption == "pristine" and outcome != "correct":
        outcome, message = "wrong", f"the pristine file must give a correct result, got {outcome}: {message}"
    return Result(case, command, outcome, message, run.seconds)


def run_case(case: Case, ref: Optional[Reference]) -> list[Result]:
    """Both commands of an in-process case, classified (with what each changed in the case's folder)."""
    results = []
    for command in COMMANDS:
        before = snapshot(case.folder)
        run = run_inprocess(case.argv(command))
        results.append(_result(case, command, run, ref, before, snapshot(case.folder)))
    return results


def run_suite(root: Path, seed: int = 0, long: bool = False, progress: bool = False) -> Report:
    """Generate every case below ``root``, run and classify them; returns the :class:`Report`."""
    start = time.perf_counter()
    cases = generate(root, seed, long)
    background = Background()
    for case in cases:
        if case.subprocess:
            for command in COMMANDS:
                background.submit(case, command)
    refs: dict[tuple[int, str], Reference] = {}
    results: list[Result] = []
    for k, case in enumerate(c for c in cases if not c.subprocess):
        key = (case.round, case.layout)
        if key not in refs:
            pristine = next(c for c in cases if (c.round, c.layout, c.corruption) == key + ("pristine",))
            refs[key] = build_reference(pristine)
        results += run_case(case, refs[key])
        background.pump()
        if progress and k % 50 == 0:
            print(f"  … {k} in-process cases, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    for case, command, run, before, after in background.wait():
        results.append(_result(case, command, run, refs.get((case.round, case.layout)), before, after))
    return Report(cases, results, time.perf_counter() - start, seed, long)


def main(argv: Optional[list[str]] = None) -> int:
    """Command line: run the suite, print the tables and every non-passing case; exit 1 on failures."""
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.harness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--long", action="store_true", help="five rounds with other seeds (also RECON_FUZZ_LONG=1)")
    parser.add_argument("--seed", type=int, default=0, help="master seed (default: %(default)s)")
    parser.add_argument("--keep", default=None, help="write the cases into this folder and keep them")
    args = parser.parse_args(argv)
    long = args.long or long_mode()
    with contextlib.ExitStack() as stack:
        root = Path(args.keep) if args.keep else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fuzz-")))
        report = run_suite(root, args.seed, long, progress=True)
    print(report.render())
    return 0 if not report.failures else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
