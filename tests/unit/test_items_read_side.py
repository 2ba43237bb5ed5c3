"""What `list`, `show` and `log` read and add about work items, without the command
line: the counts the queries give over the reference store, and their shapes and text."""

from __future__ import annotations

from jobrunner import model
from jobrunner.items import model as items_model
from jobrunner.items import ops, shell
from jobrunner.store.memory import MemoryStore
from jobrunner.testing import job, utc
from jobrunner.views import items, queries, shapes

NOW = utc(2026, 1, 5, 12)
Q = items_model.Queue(entry_id="a", name="orders", max_attempts=1)


def _store() -> MemoryStore:
    """Entries a (with items: one done, one failed, one pending) and b (none); a's last
    run (session s) did one item and failed one."""
    db = MemoryStore()
    log = model.LogEntry(entry_id="a", start_at=NOW, session_id="s")
    db.commit(
        model.Transition(
            reason="test",
            put=tuple(model.Entry(spec=job(id=i), status=model.EntryStatus.READY) for i in "ab"),
            log_insert=(log,),
        )
    )
    st = shell.items_of(db)
    ops.open_queue(st, Q, "s")
    ops.add(st, Q, [("k1", "null"), ("k2", "null"), ("k3", "null")], NOW)
    one, two = ops.claim(st, Q, "s", 2, NOW)
    ops.finish(st, ops.start(st, one, "s", NOW), "s", "{}", NOW)
    ops.fail(st, ops.start(st, two, "s", NOW), "s", ("boom", ""), "{}", NOW)
    ops.end_sessions(st, ["s"], NOW)
    return db


def test_listing_and_detail_count_the_items_of_entries_that_have_them():
    db = _store()
    counts = {"a": {"done": 1, "failed": 1, "pending": 1}}
    assert queries.listing(db).items == counts
    found = queries.detail(db, "a")
    assert found.items == counts
    (run,) = found.runs["s"]
    assert (run.queue, run.done, run.failed, run.left) == ("orders", 1, 1, 1)
    assert queries.detail(db, "b").items == {}


def test_entry_and_log_json_get_items_only_when_there_are_some():
    db = _store()
    found = queries.listing(db)
    shown = [items.with_counts(shapes.entry_json(e), found.items) for e in found.entries]
    assert [s.get("items") for s in shown] == [
        {"pending": 1, "in_process": 0, "done": 1, "failed": 1, "discarded": 0},
        None,
    ]
    (row,) = db.list_log()
    runs = queries.item_runs(db, [row])
    assert items.log_with_items(shapes.log_json(row), runs)["items"] == [
        {"queue": "orders", "done": 1, "failed": 1, "left": 1}
    ]
    assert "items" not in items.log_with_items(shapes.log_json(row), {})


def test_the_lines_below_the_tables():
    db = _store()
    found = queries.detail(db, "a")
    assert items.counts_lines(["a", "b"], found.items) == [
        "",
        "work items (jobrunner items ID):",
        "  a: 1 pending, 1 failed, 1 done",
    ]
    assert items.counts_lines(["b"], found.items) == []
    assert items.run_lines(found.logs, found.runs) == [
        "",
        "work items:",
        f"  log entry {found.logs[0].entry_no}: orders: 1 done, 1 failed, 1 left",
    ]
