from __future__ import annotations

import compileall
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import alone

ROOT = Path(__file__).resolve().parent.parent
_LOCKS = pytest.StashKey[Path]()
TIERS = ("unit", "contract", "integration", "e2e")

# The commands the tests run write to pipes, never to a terminal: a terminal's size left
# in the environment (a parallel test worker's is 80x24) would make them fit a table to it.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the package and the tests' job modules once, before the suite starts its
    thousands of child processes (CLI commands, runners, sessions). Where the environment
    says not to write bytecode (PYTHONDONTWRITEBYTECODE), each child would otherwise
    compile every module it imports from source again: about 150 ms per CLI command here,
    a sixth of the suite. What the children run is unchanged: the same sources, read from
    their cache as after a normal install. (Parallel workers find it done.)"""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for folder in ("jobrunner", "tests"):
        compileall.compile_dir(ROOT / folder, quiet=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from its folder, so `-m unit` etc. select a tier."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


def pytest_configure(config: pytest.Config) -> None:
    """The controller of a parallel run makes the folder of the `alone` lock (its
    workers start after this and inherit its name); `pytest_unconfigure` removes it."""
    parallel = config.pluginmanager.hasplugin("xdist") and config.getoption("dist") != "no"
    if parallel and not hasattr(config, "workerinput"):
        config.stash[_LOCKS] = alone.make_folder()


def pytest_unconfigure(config: pytest.Config) -> None:
    made = config.stash.get(_LOCKS, None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop(alone.ENV, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """In parallel workers, a test marked `alone` waits until no other test runs, and the
    others wait while it runs (setup and teardown included)."""
    where = alone.folder()
    if where is None:
        return (yield)
    with alone.turn(where, item.get_closest_marker("alone") is not None):
        return (yield)
