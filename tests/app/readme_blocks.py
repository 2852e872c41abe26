"""Run the README's Python blocks as a reader does: in order, in one namespace, in an empty folder.

Used by ``tests/app/test_readme.py`` and, without pytest, by CI's wheel check (``.ci/wheel``) against the
installed wheel: ``python tests/app/readme_blocks.py README.md``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path


def python_blocks(text: str) -> list[str]:
    """The fenced ```python blocks of a Markdown text, in order."""
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def run_blocks(readme: Path, folder: Path) -> dict:
    """Execute every Python block of ``readme`` with ``folder`` as the working directory; return the namespace
    (the blocks build on each other, as a reader runs them)."""
    import matplotlib

    matplotlib.use("Agg")
    blocks = python_blocks(Path(readme).read_text(encoding="utf-8"))
    if not blocks:
        raise ValueError(f"{readme} has no python block")
    namespace = {"__name__": "__readme__"}
    here = Path.cwd()
    os.chdir(folder)
    try:
        for number, code in enumerate(blocks, 1):
            exec(compile(code, f"{readme} (python block {number})", "exec"), namespace)
    finally:
        os.chdir(here)
    return namespace


if __name__ == "__main__":
    readme = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory() as folder:
        run_blocks(readme, Path(folder))
    print(f"{len(python_blocks(readme.read_text(encoding='utf-8')))} python blocks of {readme.name} ran")
