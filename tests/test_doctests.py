"""The examples in the docstrings of the public API run as written and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest


MODULES = ("recon.geometry.beams", "recon.operators.functional", "recon.analytic.recipe", "recon.models.learned_fbp")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
