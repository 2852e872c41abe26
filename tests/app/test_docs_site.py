"""The documentation site's generated pages (scripts/docs_site.py) cover what they claim to; the strict MkDocs
build itself runs in CI (.ci/docs)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from recon.app.cli import build_parser
from recon.training.config import SCHEMA

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site():
    spec = importlib.util.spec_from_file_location("docs_site", ROOT / "scripts" / "docs_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_training_key_is_in_the_reference_and_explained(site):
    page = site.config_reference()
    rows = site.training_schema_rows()
    assert {(s, k) for s, k, _, _ in rows} == {(s, k) for s, keys in SCHEMA.items() for k in keys}
    form = page.split("```toml", 1)[1].split("```", 1)[0]
    unexplained = [k for s, k, _, _ in rows if not re.search(rf"^\s*{k}\s*=", form, flags=re.M)]
    assert unexplained == [], f"keys of the schema missing from recon.training.config's annotated form: {unexplained}"


def test_cli_reference_has_every_command_and_option(site):
    page = site.cli_reference()
    for name, sub in site._subparsers(build_parser()):
        assert f"## recon {name}" in page
        for action in sub._actions:
            for option in action.option_strings:
                assert option in page, (name, option)


def test_front_page_links_resolve_inside_the_site(site):
    page = site.readme_page()
    generated = set(site.generated_pages(examples=False))
    for target in re.findall(r"\]\(([^)#\s]+)", page):
        if target.startswith(("http://", "https://")):
            continue
        assert (ROOT / "docs" / target).is_file() or target in generated, target
