"""jobrunner.imports: a library hidden for one import, and there as usual after it."""

from __future__ import annotations

import importlib
import sys

import pytest

from jobrunner import imports

ABSENT = "tabnanny"  # a standard module nothing here imports


def test_a_hidden_module_cannot_be_imported_in_the_block_and_can_after_it():
    assert ABSENT not in sys.modules
    try:
        with imports.without(ABSENT), pytest.raises(ImportError):
            importlib.import_module(ABSENT)
        assert ABSENT not in sys.modules
        assert importlib.import_module(ABSENT).__name__ == ABSENT
    finally:
        sys.modules.pop(ABSENT, None)


def test_a_module_imported_before_is_left_as_it_is():
    with imports.without("json"):
        assert importlib.import_module("json") is sys.modules["json"]
