"""The README's example runs as written, and its quick-start commands are the ones CI uses."""

from __future__ import annotations

import re
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


def test_readme_example_runs_as_written(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    import matplotlib

    matplotlib.use("Agg")
    namespace = {"__name__": "__readme__"}  # the examples build on each other, as a reader runs them
    for code in blocks:
        exec(compile(code, "README.md", "exec"), namespace)
    assert (tmp_path / "example.png").stat().st_size > 10_000
    assert abs(float(namespace["image"][355:375, 250:262].mean()) - 0.004) < 4e-5  # brain region, 1/mm


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "recon demo" in commands[0]
