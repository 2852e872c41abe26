"""The documentation site's generated pages, and its MkDocs hook (``mkdocs.yml``: ``hooks: [scripts/docs_site.py]``).

Pages made at build time from the code, so that they cannot drift from it:

* ``index.md`` — the README, its links into ``docs/`` made site links;
* ``reference/cli.md`` — every subcommand's ``--help`` (``recon.app.cli.build_parser``);
* ``reference/configs.md`` — the training config's schema (every key, its type and default) beside the annotated
  TOML forms that the config modules document (units in their comments), the phantom families' parameters, the
  shipped configs (``configs/README.md``);
* ``examples/*.md`` — every ``examples/*.py`` run in an empty folder (its printed output and its figures shown);
* ``changelog.md``, ``data.md`` — ``CHANGELOG.md`` and ``data/README.md``.

Build: ``pip install -e ".[docs]" && mkdocs build --strict`` (warnings are errors; CI does it, ``.ci/docs``).
``python scripts/docs_site.py OUT`` writes the generated pages to ``OUT`` without MkDocs.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_TIMEOUT = 600  # seconds per example


def readme_page() -> str:
    """The README as the site's front page: links into docs/ become links between pages."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text = re.sub(r"\]\(docs/", "](", text)
    text = text.replace("](CHANGELOG.md)", "](changelog.md)").replace("](data/README.md)", "](data.md)")
    return text.replace("](configs/README.md)", "](reference/configs.md#shipped-configs)")


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def cli_reference() -> str:
    """Every command's help text, as ``recon COMMAND --help`` prints it (100 columns)."""
    from recon.app.cli import build_parser

    os.environ["COLUMNS"] = "100"
    parser = build_parser()
    lines = ["# Command line", "",
             "Generated from the parser itself (`recon COMMAND --help` prints the same). Every command refuses bad "
             "input in one line naming the flag; outputs are never overwritten without `--force`.", "",
             "```text", parser.format_help().rstrip(), "```", ""]

    def add(prefix: str, sub: argparse.ArgumentParser) -> None:
        nonlocal lines
        lines += [f"## {prefix}", "", "```text", sub.format_help().rstrip(), "```", ""]
        for name, child in _subparsers(sub):
            add(f"{prefix} {name}", child)

    for name, sub in _subparsers(parser):
        add(f"recon {name}", sub)
    return "\n".join(lines)


def _literal_blocks(doc: str) -> list[str]:
    """The indented ``::`` blocks of a reST docstring, dedented."""
    blocks = []
    for match in re.finditer(r"::\n\n((?:(?: {4}.*)?\n)+)", doc + "\n"):
        blocks.append(textwrap.dedent(match.group(1)).strip("\n"))
    return blocks


def _type_name(types: tuple) -> str:
    names = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array"}
    if float in types:  # an integer is a number too
        types = tuple(t for t in types if t is not int)
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def training_schema_rows() -> list[tuple[str, str, str, str]]:
    """``(section, key, type, default)`` of every key of the training config."""
    from recon.training import config

    rows = []
    for section, keys in config.SCHEMA.items():
        for key, types in keys.items():
            default = config.DEFAULTS.get(section, {}).get(key)
            rows.append((section, key, _type_name(types), "—" if default is None else repr(default)))
    return rows


def _phantom_rows() -> list[str]:
    from recon.simulation.phantoms import PHANTOMS

    rows = []
    for family, function in sorted(PHANTOMS.items()):
        params = [f"`{n}` = {p.default!r}" if p.default is not inspect.Parameter.empty else f"`{n}`"
                  for n, p in inspect.signature(function).parameters.items() if n not in ("rng",)]
        rows.append(f"| `{family}` | {', '.join(params) or '—'} |")
    return rows


def config_reference() -> str:
    """The TOML files recon reads: training configs, simulation configs and geometry tables."""
    from recon.io import config as geometry_config
    from recon.simulation import simulate
    from recon.training import config as training_config

    train_form = _literal_blocks(training_config.__doc__)[0]
    sim_form = _literal_blocks(simulate.__doc__)[0]
    geometry_forms = _literal_blocks(geometry_config.__doc__)
    shipped = (ROOT / "configs" / "README.md").read_text(encoding="utf-8").split("\n", 1)[1]
    lines = ["# Configuration files", "",
             "Lengths are in mm, attenuations in 1/mm, angles in degrees unless a key says otherwise. Unknown keys "
             "and values of the wrong type are refused with the file, table and key named.", "",
             "## Training configs (`recon train --config`)", "",
             "| table | key | type | default |", "|---|---|---|---|"]
    lines += [f"| `[{s}]` | `{k}` | {t} | `{d}` |" if d != "—" else f"| `[{s}]` | `{k}` | {t} | — |"
              for s, k, t, d in training_schema_rows()]
    lines += ["", "What each key means, with its unit (the annotated form of `recon.training.config`):", "",
              "```toml", train_form, "```", "",
              "## Simulation configs (`recon simulate --config`)", "", "```toml", sim_form, "```", "",
              "Phantom families (`[phantom] family`; the other keys of `[phantom]` are the family's parameters):",
              "", "| family | parameters (default) |", "|---|---|", *_phantom_rows(), "",
              "## Geometry tables (`[geometry]` of every config, and scan sidecars)", ""]
    for form in geometry_forms:
        lines += ["```toml", form, "```", ""]
    lines += ["## Shipped configs", "", shipped]
    return "\n".join(lines)


def run_example(path: Path) -> tuple[str, str, dict[str, bytes]]:
    """Run one example in an empty folder: ``(code, printed output, {figure name: PNG bytes})``; a failing
    example fails the build."""
    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, MPLBACKEND="Agg")
        done = subprocess.run([sys.executable, str(path)], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=EXAMPLE_TIMEOUT)
        if done.returncode != 0:
            raise RuntimeError(f"example {path.name} failed:\n{done.stdout}\n{done.stderr}")
        figures = {p.name: p.read_bytes() for p in sorted(Path(folder).glob("*.png"))}
    return path.read_text(encoding="utf-8"), done.stdout, figures


def example_pages() -> dict[str, object]:
    """``examples/<name>.md`` and its figures for every ``examples/*.py``, and the gallery ``examples/index.md``."""
    pages: dict[str, object] = {}
    index = ["# Examples", "", "Each example is a script in `examples/` of the repository, run when these pages "
             "are built (its output and figures below are from that run).", ""]
    for path in sorted((ROOT / "examples").glob("*.py")):
        code, output, figures = run_example(path)
        doc = (ast_docstring(code) or path.stem).strip()
        title, _, body = doc.partition("\n")
        title = title.rstrip(".")
        body_code = code.split('"""', 2)[2].lstrip("\n") if code.startswith('"""') else code
        page = [f"# {title}", "", body.strip(), "", "```python", body_code.rstrip(), "```", ""]
        if output.strip():
            page += ["Output:", "", "```text", output.rstrip(), "```", ""]
        for name, data in figures.items():
            pages[f"examples/{path.stem}_{name}"] = data
            page += [f"![{name}]({path.stem}_{name})", ""]
        pages[f"examples/{path.stem}.md"] = "\n".join(page)
        index.append(f"- [{title}]({path.stem}.md) — `examples/{path.name}`")
    pages["examples/index.md"] = "\n".join(index) + "\n"
    return pages


def ast_docstring(code: str):
    import ast

    return ast.get_docstring(ast.parse(code))


def generated_pages(examples: bool = True) -> dict[str, object]:
    """Every generated page: site path → Markdown text (or bytes for a figure)."""
    pages: dict[str, object] = {
        "index.md": readme_page(),
        "reference/cli.md": cli_reference(),
        "reference/configs.md": config_reference(),
        "changelog.md": (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"),
        "data.md": (ROOT / "data" / "README.md").read_text(encoding="utf-8"),
    }
    if examples:
        pages.update(example_pages())
    return pages


def on_files(files, config):
    """MkDocs hook: add the generated pages to the site's files."""
    from mkdocs.structure.files import File

    for uri, content in generated_pages().items():
        files.append(File.generated(config, uri, content=content))
    return files


if __name__ == "__main__":
    out = Path(sys.argv[1])
    for uri, content in generated_pages().items():
        target = out / uri
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    print(f"wrote the generated pages to {out}")
