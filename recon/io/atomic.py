"""Safe output files: never overwrite without ``force``, write atomically (temp file + rename), commit a set of
files together, and never lose a file to a concurrent writer.

* A temp file is ``.<name>.<pid>.<random>.tmp<suffix>`` next to its target. It is removed when the writing
  fails, is interrupted (Ctrl-C) or terminated (``SIGTERM``, see :func:`terminate_cleanly`); after a ``SIGKILL``
  the next write to the same target removes the temp files whose process is gone.
* Without ``force`` a file is committed with ``os.link``, which fails when the target appeared meanwhile: of two
  concurrent writers without ``force`` one gets ``FileExistsError`` and nothing is lost.
* :func:`atomic_outputs` commits several files (a TIFF and its preview) only when all were written, the main
  file last, so a main file never stands without its companions.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import re
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Iterator, Sequence, Union

__all__ = ["check_writable", "check_distinct", "output_name", "atomic_output", "atomic_outputs", "atomic_folder",
           "terminate_cleanly"]

PathLike = Union[str, os.PathLike]


def check_writable(path: PathLike, force: bool = False) -> Path:
    """Raise ``FileExistsError`` if ``path`` exists and ``force`` is false, and ``ValueError`` — even with
    ``force`` — if it is anything but a regular file (a folder, a device such as ``/dev/null``, a FIFO), a symbolic
    link to nothing, or lies below a file: recon only ever replaces regular files. Returns ``path`` as a ``Path``."""
    path = Path(path)
    _check_folder(path)
    if os.path.islink(path) and not path.exists():
        raise ValueError(f"{path} is a symbolic link to a missing file ({os.readlink(path)}): remove it or "
                              "choose another output")
    if path.exists() and not path.is_file():
        raise ValueError(f"{path} exists and is not a regular file (a folder, device or pipe): recon replaces "
                              "only regular files, even with force")
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists; overwrite it only with force")
    return path


def _check_folder(path: Path) -> None:
    """``ValueError`` when the nearest existing folder above ``path`` is a file (``--out scan.nxs/x.tif``, or an
    output folder that is an existing file): nothing could be written there."""
    for parent in path.parents:
        if os.path.lexists(parent):
            if not parent.is_dir():
                raise ValueError(f"cannot write {path}: {parent} is a file, not a folder")
            return


def output_name(stem: str) -> str:
    """A file or folder name made from an input's name (its stem) that stays inside the output folder: path
    separators, NUL and control characters become ``_``, a leading dot becomes ``_`` (no hidden file, no ``.`` or
    ``..``), and an empty name becomes ``scan``. ``"..."`` → ``"_.."``; ``"a/b"`` → ``"a_b"``."""
    name = "".join("_" if c in "/\\\0" or ord(c) < 32 or ord(c) == 127 else c for c in stem)
    if name.startswith("."):
        name = "_" + name[1:]
    return name or "scan"


def _within(out: Path, src: Path) -> bool:
    """Whether ``out`` would join the input ``src``: a file directly inside an input folder, or a path matching an
    input glob pattern (reading the input again would take it in)."""
    if any(c in str(src) for c in "*?["):
        return fnmatch.fnmatch(os.path.abspath(out), os.path.abspath(src))
    try:
        return src.is_dir() and out.parent.exists() and os.path.samefile(out.parent, src)
    except OSError:
        return False


def check_distinct(outputs: Sequence[PathLike], inputs: Sequence[PathLike] = ()) -> None:
    """``ValueError`` when two outputs are the same file, an output is one of the inputs, or it would land in an
    input folder or match an input glob (the input would read differently next time): even with force, a command
    never writes over what it reads or writes one file twice."""
    seen: dict[str, Path] = {}
    for out in map(Path, outputs):
        key = os.path.normcase(os.path.abspath(out))
        if key in seen:
            raise ValueError(f"two outputs would be written to the same file {out}: give the inputs distinct names "
                             "or write them to separate folders")
        seen[key] = out
    for src in map(Path, inputs):
        for out in seen.values():
            if _same_file(out, src):
                raise ValueError(f"the output {out} is the input {src}: choose another output")
            if _within(out, src):
                raise ValueError(f"the output {out} would join the input {src} (a folder or pattern of files read "
                                 "as one scan): choose another output folder")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _remove_stale_temps(path: Path) -> None:
    """Remove the temp files of ``path`` left by processes that no longer run (killed with SIGKILL)."""
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        m = _TEMP.match(entry.name)
        if m and m["name"] == path.name and int(m["pid"]) != os.getpid() and not _alive(int(m["pid"])):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.remove(entry.path)


def _new_temp(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the permissions of a normal one
    return Path(tmp)


def _commit(tmp: Path, path: Path, force: bool) -> None:
    """Move ``tmp`` onto ``path``; without ``force`` only if ``path`` still does not exist (atomically)."""
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails with EEXIST if another writer got there first
    except FileExistsError:
        raise FileExistsError(f"{path} was created by another process meanwhile; overwrite it only with force") \
            from None
    except OSError as err:  # a file system without hard links: check, then rename
        if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        check_writable(path)
        os.replace(tmp, path)
        return
    os.remove(tmp)


def _commit_set(pairs: Sequence[tuple[Path, Path]], force: bool) -> None:
    """:func:`_commit` each (temp, target) in order; if one fails, the targets already committed are taken back
    when they did not exist before (without ``force``), so no partial set remains."""
    done: list[Path] = []
    try:
        for tmp, target in pairs:
            target.parent.mkdir(parents=True, exist_ok=True)
            _commit(tmp, target, force)
            done.append(target)
    except BaseException:
        if not force:
            for target in done:
                with contextlib.suppress(OSError):
                    os.remove(target)
        raise


@contextlib.contextmanager
def atomic_outputs(paths: Sequence[PathLike], force: bool = False) -> Iterator[list[Path]]:
    """Yield temporary paths next to ``paths``; when the block succeeds they are moved onto ``paths`` in order
    (put the main file last), on failure or interruption all are removed and existing files stay untouched."""
    targets = [check_writable(p, force) for p in paths]
    check_distinct(targets)
    temps: list[Path] = []
    try:
        for target in targets:
            temps.append(_new_temp(target))
        with _disk_full(targets[-1] if targets else Path(".")):
            yield list(temps)
        _commit_set(list(zip(temps, targets)), force)
    finally:
        for tmp in temps:
            with contextlib.suppress(OSError):
                os.remove(tmp)


@contextlib.contextmanager
def atomic_output(path: PathLike, force: bool = False) -> Iterator[Path]:
    """:func:`atomic_outputs` of one file."""
    with atomic_outputs([path], force) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_folder(out: PathLike, last: Sequence[str] = (), force: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder (hidden, next to ``out``); when the block succeeds every file written
    below it is committed to the same place below ``out`` — the files named in ``last`` (relative paths, e.g.
    the report that indexes the figures) after all others — without overwriting unless ``force``. On failure
    or interruption the staging folder is removed and ``out`` is as before."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(out)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent))
    try:
        with _disk_full(out):
            yield stage
        files = sorted(p.relative_to(stage) for p in stage.rglob("*") if p.is_file())
        order = [f for f in files if str(f) not in last] + [f for f in files if str(f) in last]
        _commit_set([(stage / f, check_writable(out / f, force)) for f in order], force)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


_SHORT_WRITE = re.compile(r"(\d+) requested and (\d+) written")


@contextlib.contextmanager
def _disk_full(path: Path) -> Iterator[None]:
    """A write that ran out of space (``ENOSPC``/``EDQUOT``, or numpy's "N requested and M written") as one
    ``OSError`` naming ``path`` and saying the disk is full; nothing was committed."""
    try:
        yield
    except OSError as err:
        full = err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)) or _SHORT_WRITE.search(str(err))
        if not full:
            raise
        try:
            free = f" ({shutil.disk_usage(path.parent if path.parent.exists() else '.').free / 2**20:.1f} MiB free)"
        except OSError:
            free = ""
        full_disk = OSError(f"{path}: the disk is full{free}; nothing was written — free some space or write "
                            "elsewhere")
        full_disk.errno = errno.ENOSPC
        raise full_disk from None


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def terminate_cleanly() -> None:
    """Treat ``SIGTERM`` like Ctrl-C in this (main) process: pending temp files are removed and the command
    exits with its interrupt message instead of dying mid-write."""
    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, _raise_interrupt)
