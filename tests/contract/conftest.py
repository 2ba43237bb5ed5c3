"""The stores the contract suite runs against, as parameters: each `store` test runs
once per store. A store that needs a server (PostgreSQL) is one more
`pytest.param(..., id=..., marks=[pytest.mark.<name>])` here: CI runs its mark, a
machine without the server deselects it (`-m "not <name>"`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from jobrunner.store.memory import MemoryStore
from jobrunner.store.sqlite import SqliteStore
from tests import pgdb


@contextmanager
def _memory(tmp_path):
    yield MemoryStore()


@contextmanager
def _sqlite(tmp_path):
    yield SqliteStore(tmp_path / "state" / "jobrunner.sqlite3")


@contextmanager
def _postgresql(tmp_path) -> Iterator:
    from jobrunner.store.postgres import PostgresStore

    with pgdb.schema() as db:  # a schema of its own, dropped after the test
        yield PostgresStore(db.dsn)


STORES = [
    pytest.param(_memory, id="memory"),
    pytest.param(_sqlite, id="sqlite"),
    pytest.param(_postgresql, id="postgresql", marks=[pytest.mark.postgres]),
]


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    with request.param(tmp_path) as s:
        yield s
        s.close()
