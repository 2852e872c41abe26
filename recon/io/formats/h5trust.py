"""What an HDF5 file may make recon read: itself, and nothing else unless the user says so.

HDF5 lets a file point outside itself in three ways, each of which would make a crafted 1 kB "scan" read any
file the user can read (``/etc/passwd`` reconstructed as a sinogram) or block on a FIFO:

* **external links** — a member of a group that lives in another file;
* **external raw storage** — a dataset whose bytes are stored in other (raw) files;
* **virtual datasets** whose sources are datasets of other files (a source in the same file, ``"."``, is fine).

Every HDF5 file recon reads is opened through :func:`open_h5`, which walks the file's links *without following
them* and inspects every dataset's storage before anything is read, and refuses the file in one line naming the
member and its target. A user who keeps a scan in several files on purpose opts in with the environment variable
``RECON_HDF5_EXTERNAL=beside``: then links and sources may point to regular files **in the same folder** (plain
file names, no ``/`` or ``..``; :func:`open_dataset` has HDF5 resolve them there, never against the current
folder), and still nowhere else. Non-regular files (FIFOs, devices) are never opened.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from .common import fail, reading

__all__ = ["ENV", "external_allowed", "open_h5", "check_h5_file", "check_h5_storage", "open_dataset"]

ENV = "RECON_HDF5_EXTERNAL"
MAX_LINKS = 200_000  # a file with more members than this is not a scan
_OPT_IN = f"set {ENV}=beside to allow files in the same folder"


def external_allowed() -> bool:
    """Whether the user opted in to HDF5 files that point to files beside them (``RECON_HDF5_EXTERNAL``)."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("", "0", "no", "none", "false"):
        return False
    if value == "beside":
        return True
    raise ValueError(f"environment variable {ENV}={os.environ[ENV]!r}: use 'beside' (or leave it unset)")


def _regular(target: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(target).st_mode)
    except OSError:
        return False


def _check_target(path: Path, member: str, what: str, name: str) -> None:
    """Refuse ``name`` (a file another member points to) unless opted in, a plain name, and a regular file beside
    ``path``. ``"."`` (the file itself) is always fine."""
    if name == ".":
        return
    where = f"{member} is {what} {name!r}"
    if not external_allowed():
        raise fail(path, f"{where}: recon reads no file an HDF5 file points to ({_OPT_IN})")
    plain = name and name not in (".", "..") and "/" not in name and "\\" not in name and "\x00" not in name
    if not plain:
        raise fail(path, f"{where}: only a file in the same folder may be named (a plain file name), "
                         f"even with {ENV}=beside")
    target = path.resolve().parent / name
    if not _regular(target):
        raise fail(path, f"{where}: no regular file {target}")


def open_dataset(path: Path, group: Any, name: str) -> Any:
    """The dataset ``group[name]`` (a member known to be a dataset), checked by :func:`check_h5_storage` and opened
    so that HDF5 finds any external or virtual-source files beside the file that holds it (``${ORIGIN}``), never
    in the current folder."""
    import h5py

    dapl = h5py.h5p.create(h5py.h5p.DATASET_ACCESS)
    dapl.set_efile_prefix(b"${ORIGIN}")
    dapl.set_virtual_prefix(b"${ORIGIN}")
    with reading(path, f"dataset {name}"):
        dataset = h5py.Dataset(h5py.h5d.open(group.id, name.encode(), dapl=dapl))
    check_h5_storage(path, dataset)
    return dataset


def check_h5_storage(path: Path, dataset: Any) -> None:
    """Refuse a dataset whose values live in another file (external raw storage, virtual sources elsewhere)
    unless opted in and beside ``path`` (see the module notes)."""
    with reading(path, f"dataset {dataset.name}"):
        external = dataset.external
        sources = [s.file_name for s in dataset.virtual_sources()] if dataset.is_virtual else []
    for entry in external or []:
        name = entry[0].decode() if isinstance(entry[0], bytes) else str(entry[0])
        _check_target(path, f"dataset {dataset.name}", "stored in the external file", name)
    for name in dict.fromkeys(sources):
        _check_target(path, f"virtual dataset {dataset.name}", "mapped from the file", name)


def check_h5_file(path: Path, f: Any) -> None:
    """Walk every link of the open file ``f`` without following it, and every dataset's storage: refuse external
    links, external storage and virtual sources outside the file (see the module notes), and soft links are left
    to HDF5 (they stay inside the file)."""
    import h5py

    links: list[tuple[str, str]] = []
    datasets: list[str] = []
    count = 0

    # h5py's visitors must not raise (the error surfaces as a SystemError): collect, then check
    def link(name: str, value: Any) -> Any:
        nonlocal count
        count += 1
        if isinstance(value, h5py.ExternalLink):
            links.append((name, value.filename))
        return True if count > MAX_LINKS else None  # a non-None value stops the visit

    def dataset(name: str, obj: Any) -> Any:
        if isinstance(obj, h5py.Dataset):
            datasets.append(name)
        return True if len(datasets) > MAX_LINKS else None

    with reading(path, "HDF5 file"):
        f.visititems_links(link)
    if count > MAX_LINKS:
        raise fail(path, f"has more than {MAX_LINKS} members: not a scan or dataset file")
    for name, target in links:
        _check_target(path, f"/{name}", "an external link to the file", target)
    with reading(path, "HDF5 file"):
        f.visititems(dataset)
    for name in datasets:
        with reading(path, f"dataset /{name}"):
            obj = f[name]
        check_h5_storage(path, obj)


def open_h5(path: Path) -> Any:
    """Open the regular HDF5 file ``path`` read-only (no file locking, so read-only shares work), after checking
    that it points to no other file (:func:`check_h5_file`). The caller closes it (``with open_h5(p) as f``)."""
    import h5py

    path = Path(path)
    if not _regular(path):
        raise fail(path, "not a regular file")
    with reading(path, "HDF5 file"):
        f = h5py.File(path, "r", locking=False)
    try:
        check_h5_file(path, f)
    except BaseException:
        f.close()
        raise
    return f
