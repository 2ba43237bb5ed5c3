"""SQLite-only facts of work items: they persist, the migration makes their tables in an
older state file, and two processes claiming at once never take one item twice."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time

import pytest

from jobrunner.items import model, ops
from jobrunner.items.sqlite import SqliteItems
from jobrunner.store import sqlite as sqlite_store
from jobrunner.store.sqlite import SqliteStore
from jobrunner.testing import utc

T0 = utc(2026, 3, 2, 9)
Q = model.Queue(entry_id="import", name="orders")


def test_items_persist_across_reopen(tmp_path):
    path = tmp_path / "jobrunner.sqlite3"
    SqliteStore(path).close()
    items = SqliteItems(path)
    ops.add(items, Q, [("a", "1")], T0)
    items.close()
    again = SqliteItems(path)
    assert [i.key for i in ops.listed(again, model.Page(entry_id="import"))] == ["a"]
    again.close()


def test_migration_adds_the_item_tables_to_an_older_state_file(tmp_path):
    path = tmp_path / "jobrunner.sqlite3"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE items; DROP TABLE item_queues; DROP TABLE item_failures; "
        "DROP TABLE item_runs; ALTER TABLE tasks DROP COLUMN runner_id; "
        "PRAGMA user_version = 4;"
    )
    db.close()
    store = SqliteStore(path)
    assert store.schema_version == sqlite_store.LATEST == 6
    store.close()
    items = SqliteItems(path)
    assert ops.add(items, Q, [("a", "1")], T0) == 1
    items.close()


def test_a_missing_state_file_is_an_item_error(tmp_path):
    with pytest.raises(model.ItemError, match="cannot open the state file"):
        SqliteItems(tmp_path / "none.sqlite3")


def _claimer(path: str, session: str, out: multiprocessing.Queue, start) -> None:
    items = SqliteItems(path)
    got: list[str] = []
    start.wait(timeout=30)
    while found := ops.claim(items, Q, session, 1, T0):
        for item in found:
            time.sleep(0.002)  # the work, outside any transaction
            ops.finish(items, item, session, "{}", T0)
            got.append(item.key)
    out.put(got)


def test_two_processes_never_claim_one_item(tmp_path):
    path = tmp_path / "jobrunner.sqlite3"
    SqliteStore(path).close()
    items = SqliteItems(path)
    keys = [f"k{n:03}" for n in range(200)]
    ops.add(items, Q, [(k, "null") for k in keys], T0)
    ctx = multiprocessing.get_context("fork")
    out, start = ctx.Queue(), ctx.Barrier(3)
    procs = [ctx.Process(target=_claimer, args=(str(path), f"s{n}", out, start)) for n in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    claimed = [k for r in results for k in r]
    assert sorted(claimed) == keys  # each once: none lost, none twice
    assert sum(1 for r in results if r) >= 2  # they did run side by side
    counts = ops.status_counts(items, ["import"])
    assert counts == {"import": {"done": 200}}
    items.close()
