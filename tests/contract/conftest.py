"""The stores the contract suite runs against, as parameters: each `store` test runs
once per store. A store that needs a server (PostgreSQL, next) is one more
`pytest.param(..., id=..., marks=[pytest.mark.<name>])` here: CI runs its mark, a
machine without the server deselects it (`-m "not <name>"`)."""

from __future__ import annotations

import pytest

from jobrunner.store.memory import MemoryStore
from jobrunner.store.sqlite import SqliteStore


def _memory(tmp_path):
    return MemoryStore()


def _sqlite(tmp_path):
    return SqliteStore(tmp_path / "state" / "jobrunner.sqlite3")


STORES = [
    pytest.param(_memory, id="memory"),
    pytest.param(_sqlite, id="sqlite"),
]


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    s = request.param(tmp_path)
    yield s
    s.close()
