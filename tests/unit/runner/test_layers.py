"""The runner's parts import one way (each only parts below it), none reads the clock
but through the injected Clock, and none names a store implementation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import jobrunner.runner

PARTS = Path(jobrunner.runner.__file__).parent
LAYERS = [
    {"sessions", "wakeup"},
    {"shared", "commits"},
    {"dispatch", "holding"},
    {"endings"},
    {"recovery", "timing"},
    {"housekeeping", "peers"},
    {"loop"},
    {"__init__"},
]
RANK = {part: rank for rank, layer in enumerate(LAYERS) for part in layer}


def _imports(part: str) -> set[str]:
    tree = ast.parse((PARTS / f"{part}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_layers_name_every_part():
    assert {p.stem for p in PARTS.glob("*.py")} == set(RANK)


@pytest.mark.parametrize("part", sorted(RANK))
def test_layers_a_part_imports_only_parts_below_it(part):
    below = {
        name.removeprefix("jobrunner.runner.").split(".")[0]
        for name in _imports(part)
        if name.startswith("jobrunner.runner.")
    }
    assert {p for p in below if p in RANK and RANK[p] >= RANK[part]} == set()


@pytest.mark.parametrize("part", sorted(RANK))
def test_layers_a_part_reads_no_clock_and_names_no_store(part):
    names = _imports(part)
    assert "time" not in names
    assert not any(n.startswith("jobrunner.store.sqlite") or n == "sqlite3" for n in names)
    assert ".now(" not in (PARTS / f"{part}.py").read_text().replace("clock.now(", "")
