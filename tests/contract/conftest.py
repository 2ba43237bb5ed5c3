from __future__ import annotations

import pytest

from jobrunner.store.memory import MemoryStore
from jobrunner.store.sqlite import SqliteStore
from tests import pgdb


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "memory":
        s = MemoryStore()
    elif request.param == "sqlite":
        s = SqliteStore(tmp_path / "state" / "jobrunner.sqlite3")
    else:
        from jobrunner.store.postgres import PostgresStore

        with pgdb.schema() as db:
            s = PostgresStore(db.dsn)
            yield s
            s.close()
        return
    yield s
    s.close()
