"""The README's example runs as written, and its quick-start commands are the ones CI uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .readme_blocks import run_blocks


ROOT = Path(__file__).resolve().parents[2]


def test_readme_example_runs_as_written(tmp_path):
    namespace = run_blocks(ROOT / "README.md", tmp_path)
    assert (tmp_path / "example.png").stat().st_size > 10_000
    assert abs(float(namespace["image"][355:375, 250:262].mean()) - 0.004) < 4e-5  # brain region, 1/mm


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md")
                                        if "```python" in p.read_text(encoding="utf-8")))
def test_every_python_block_of_the_docs_runs(page, tmp_path):
    """Each page's blocks run in order in a namespace of their own: a page imports what it uses."""
    run_blocks(ROOT / "docs" / page, tmp_path)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "recon demo" in commands[0]
