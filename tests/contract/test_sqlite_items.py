"""Facts of work items in the SQL stores (SQLite and PostgreSQL): they persist, the
migration makes their tables in an older store, and two processes claiming at once
never take one item twice; a missing SQLite state file is an ItemError."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from jobrunner.items import model, ops, storage
from jobrunner.items.sqlite import SqliteItems
from jobrunner.store.postgres import PostgresStore
from jobrunner.store.sql import migrations
from jobrunner.store.sqlite import SqliteStore
from jobrunner.testing import utc
from tests import pgdb

T0 = utc(2026, 3, 2, 9)
Q = model.Queue(entry_id="import", name="orders")
DROP = ("items", "item_queues", "item_failures", "item_runs")


def _open(where: str):  # type: ignore[no-untyped-def]
    """The state store at `where` (a file's path or a connection string)."""
    return PostgresStore(where) if where.startswith("postgresql:") else SqliteStore(Path(where))


@contextmanager
def opened(where: str) -> Iterator[storage.ItemStore]:
    """The item store of the state store at `where`, open for the block."""
    st = _open(where)
    items = storage.for_store(st)
    try:
        yield items
    finally:
        items.close()
        st.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres])])
def where(request, tmp_path):
    """A new state store (made by its migrations), by where it is."""
    if request.param == "sqlite":
        path = tmp_path / "jobrunner.sqlite3"
        SqliteStore(path).close()
        yield str(path)
        return
    with pgdb.schema() as db:
        PostgresStore(db.dsn).close()
        yield db.dsn


UNDO_6 = (  # what versions 6 and 7 added, in both dialects (PostgreSQL: the nodes' too)
    "ALTER TABLE tasks DROP COLUMN runner_id",
    "DROP TABLE store_revision",
    "DROP INDEX entries_source",
    "CREATE INDEX entries_source ON entries (source, stamp)",
    "ALTER TABLE entries DROP COLUMN revision",
)


def _older(where: str) -> None:
    """The store as version 4 left it: no item tables (nor the revisions and task runners
    of versions 6 and 7)."""
    if where.startswith("postgresql:"):
        with psycopg.connect(where, autocommit=True) as db:
            for table in (*DROP, "report_documents"):  # (PostgreSQL's version 5 has it too)
                db.execute(f"DROP TABLE {table}")
            for statement in UNDO_6:
                db.execute(statement)
            db.execute("ALTER TABLE nodes DROP COLUMN revision")
            db.execute("ALTER TABLE nodes DROP COLUMN unheld")
            db.execute("UPDATE jobrunner_schema SET version = 4")
        return
    db = sqlite3.connect(where)
    db.executescript(
        "".join(f"{s}; " for s in (*(f"DROP TABLE {t}" for t in DROP), *UNDO_6))
        + "PRAGMA user_version = 4;"
    )
    db.close()


def test_items_persist_across_reopen(where):
    with opened(where) as items:
        ops.add(items, Q, [("a", "1")], T0)
    with opened(where) as again:
        assert [i.key for i in ops.listed(again, model.Page(entry_id="import"))] == ["a"]


def test_migration_adds_the_item_tables_to_an_older_store(where):
    _older(where)
    store = _open(where)
    assert store.schema_version == migrations.LATEST == 7
    store.close()
    with opened(where) as items:
        assert ops.add(items, Q, [("a", "1")], T0) == 1


def test_a_missing_state_file_is_an_item_error(tmp_path):
    with pytest.raises(model.ItemError, match="cannot open the state file"):
        SqliteItems(tmp_path / "none.sqlite3")


def _claimer(where: str, session: str, out: multiprocessing.Queue, start) -> None:
    got: list[str] = []
    with opened(where) as items:
        start.wait(timeout=30)
        while found := ops.claim(items, Q, session, 1, T0):
            for item in found:
                time.sleep(0.002)  # the work, outside any transaction
                ops.finish(items, item, session, "{}", T0)
                got.append(item.key)
    out.put(got)


def test_two_processes_never_claim_one_item(where):
    keys = [f"k{n:03}" for n in range(200)]
    with opened(where) as items:
        ops.add(items, Q, [(k, "null") for k in keys], T0)
    ctx = multiprocessing.get_context("fork")  # (no connection is open across the fork)
    out, start = ctx.Queue(), ctx.Barrier(3)
    procs = [ctx.Process(target=_claimer, args=(where, f"s{n}", out, start)) for n in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    claimed = [k for r in results for k in r]
    assert sorted(claimed) == keys  # each once: none lost, none twice
    assert sum(1 for r in results if r) >= 2  # they did run side by side
    with opened(where) as items:
        assert ops.status_counts(items, ["import"]) == {"import": {"done": 200}}
