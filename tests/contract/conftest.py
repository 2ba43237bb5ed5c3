from __future__ import annotations

import pytest

from jobrunner.store.memory import MemoryStore
from jobrunner.store.sqlite import SqliteStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        s = MemoryStore()
    else:
        s = SqliteStore(tmp_path / "state" / "jobrunner.sqlite3")
    yield s
    s.close()
