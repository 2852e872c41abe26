"""Packaging: every subpackage ships, and the bundled real scan is found."""

from __future__ import annotations

import tomllib
from pathlib import Path

import scipy.io

from recon.app.bundled import HTC_REFERENCE, HTC_SCAN, HTC_SEGMENTATION, bundled_file

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_lists_every_subpackage():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "recon").rglob("__init__.py")}
    assert found | {"recon.bundled"} == listed


def test_distribution_name_is_not_the_unrelated_pypi_recon():
    """``recon`` on PyPI is a single-cell biology package; ours ships as ``recon-ct`` with the import package
    and the command still called ``recon``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "recon-ct"
    assert project["scripts"] == {"recon": "recon.app.cli:main"}
    from importlib import metadata

    import recon

    try:  # installed (pip install -e . or a wheel, as in CI): the metadata is this checkout's
        installed = metadata.version("recon-ct")
    except metadata.PackageNotFoundError:  # run from a plain checkout
        return
    assert installed == recon.__version__


def test_bundled_scan_is_found_and_readable():
    for name, variable in ((HTC_SCAN, "CtDataFull"), (HTC_REFERENCE, "reconFullFbp"),
                           (HTC_SEGMENTATION, "reconFullFbpSeg")):
        path = bundled_file(name)
        assert variable in [v[0] for v in scipy.io.whosmat(str(path))]


def test_the_floors_ci_tests_are_the_floors_the_metadata_states():
    """.ci/floors installs .ci/floors.txt and runs the tests: each pin there must be the floor pyproject.toml
    admits, so that no floor is claimed untested."""
    import re

    floors = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            floors[name.strip()] = _release(version.strip().removesuffix(".*"))
    stated = {}
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)(?:;.*)?", requirement.split("#")[0].strip()).groups()
        stated[name] = _release(version)
    assert floors == stated


def _release(version: str) -> tuple[int, ...]:
    """``"2.13.0"`` and ``"2.13"`` alike: the release numbers without trailing zeros."""
    numbers = [int(n) for n in version.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)
