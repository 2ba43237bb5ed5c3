"""The ItemStore contract, through the operations written once over it: run against
every implementation (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from jobrunner.items import model, ops
from jobrunner.items.memory import MemoryItems
from jobrunner.items.model import ItemStatus
from jobrunner.items.sqlite import SqliteItems
from jobrunner.store.postgres import PostgresStore
from jobrunner.store.sql.items import SqlItems
from jobrunner.store.sqlite import SqliteStore
from jobrunner.testing import utc
from tests import pgdb

T0 = utc(2026, 3, 2, 9)
Q = model.Queue(entry_id="import", name="orders")


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres])]
)
def items(request, tmp_path):
    if request.param == "memory":
        yield MemoryItems()
        return
    if request.param == "postgresql":
        with pgdb.schema() as db:  # a schema of its own; the store's migrations make the tables
            st = PostgresStore(db.dsn)
            yield SqlItems(st)
            st.close()
        return
    path = tmp_path / "state" / "jobrunner.sqlite3"
    SqliteStore(path).close()  # the state store's migrations make the tables
    found = SqliteItems(path)
    yield found
    found.close()


def stage(items, *keys, queue=Q, at=T0):
    return ops.add(items, queue, [(k, f'{{"id":"{k}"}}') for k in keys], at)


def take(items, session, limit, queue=Q):
    """Claim, and begin each item's block (as `with item:` does)."""
    return [ops.start(items, i, session, T0) for i in ops.claim(items, queue, session, limit, T0)]


def status(items, key, queue=Q):
    (found,) = ops.listed(items, model.Page(entry_id=queue.entry_id, queue=queue.name, keys=(key,)))
    return found


def test_add_is_idempotent_on_the_key(items):
    assert stage(items, "a", "b") == 2
    assert stage(items, "a", "c") == 1
    keys = [i.key for i in ops.listed(items, model.Page(entry_id="import"))]
    assert keys == ["a", "b", "c"]


def test_add_update_replaces_a_pending_payload_only(items):
    stage(items, "a", "b")
    ops.claim(items, Q, "s1", 1, T0)  # a: in process
    assert ops.add(items, Q, [("a", '"new"'), ("b", '"new"')], T0, update=True) == 1
    assert status(items, "a").payload == '{"id":"a"}'
    assert status(items, "b").payload == '"new"'


def test_claim_takes_oldest_pending_first_and_never_twice(items):
    stage(items, "a", "b", "c")
    first = ops.claim(items, Q, "s1", 2, T0)
    second = ops.claim(items, Q, "s2", 5, T0)
    assert [i.key for i in first] == ["a", "b"]
    assert [i.key for i in second] == ["c"]
    assert ops.claim(items, Q, "s3", 5, T0) == []
    assert {i.session_id for i in first} == {"s1"}
    assert all(i.attempts == 0 and i.status is ItemStatus.IN_PROCESS for i in first + second)
    assert ops.start(items, first[0], "s1", T0).attempts == 1
    assert status(items, "a").started


def test_queues_are_separate(items):
    other = model.Queue(entry_id="import", name="invoices")
    stage(items, "a")
    stage(items, "a", queue=other)
    assert [i.queue for i in ops.claim(items, other, "s1", 5, T0)] == ["invoices"]
    assert [i.queue for i in ops.claim(items, Q, "s1", 5, T0)] == ["orders"]


def test_finish_marks_done_and_counts(items):
    ops.open_queue(items, Q, "s1")
    stage(items, "a")
    (a,) = ops.claim(items, Q, "s1", 1, T0)
    done = ops.finish(items, a, "s1", '{"no":7}', T0 + timedelta(seconds=1))
    assert (done.status, done.notes, done.done_at) == (
        ItemStatus.DONE,
        '{"no":7}',
        T0 + timedelta(seconds=1),
    )
    assert status(items, "a").status is ItemStatus.DONE
    (count,) = ops.run_counts(items, ["s1"])["s1"]
    assert (count.done, count.failed, count.left) == (1, 0, None)


def test_fail_until_max_attempts_then_failed_for_good(items):
    ops.open_queue(items, model.Queue(entry_id="import", name="orders", max_attempts=2), None)
    stage(items, "a")
    for n, session in enumerate(["s1", "s2"], 1):
        (a,) = take(items, session, 1)
        assert a.attempts == n
        _, failure = ops.fail(items, a, session, ("boom", "stack"), "{}", T0)
        assert failure.final == (n == 2)
    assert status(items, "a").status is ItemStatus.FAILED
    assert ops.claim(items, Q, "s3", 1, T0) == []
    assert [
        f.attempt for _, fs in ops.detail(items, model.Page(entry_id="import")) for f in fs
    ] == [
        1,
        2,
    ]
    (again,) = ops.retry(items, model.Page(entry_id="import", status=ItemStatus.FAILED), T0)
    assert (again.status, again.attempts) == (ItemStatus.PENDING, 0)
    assert [i.key for i in ops.claim(items, Q, "s3", 1, T0)] == ["a"]


def test_a_session_does_not_reclaim_its_own_failure(items):
    stage(items, "a", "b")
    (a,) = ops.claim(items, Q, "s1", 1, T0)
    ops.fail(items, a, "s1", ("boom", ""), "{}", T0)
    assert [i.key for i in ops.claim(items, Q, "s1", 5, T0)] == ["b"]
    assert [i.key for i in ops.claim(items, Q, "s2", 5, T0)] == ["a"]


def test_end_sessions_releases_with_the_attempt_counted(items):
    ops.open_queue(items, Q, "s1")
    stage(items, "a", "b", "c", "d")
    a, _, _ = take(items, "s1", 2) + ops.claim(items, Q, "s1", 1, T0)  # c: never begun
    ops.finish(items, a, "s1", "{}", T0)
    ended = ops.end_sessions(items, ["s1"], T0 + timedelta(seconds=5))
    assert [(f.key, f.attempt, f.final, f.message) for f in ended.failures] == [
        ("b", 1, False, "The session ended while the item was in process.")
    ]
    assert [(c.done, c.failed, c.left) for c in ended.counts] == [(1, 1, 3)]
    assert (status(items, "b").status, status(items, "b").attempts) == (ItemStatus.PENDING, 1)
    assert (status(items, "c").status, status(items, "c").attempts) == (ItemStatus.PENDING, 0)
    assert ops.held_sessions(items) == set()
    assert ops.end_sessions(items, ["s1"], T0) == ops.Ended(failures=ended.failures)


def test_in_use_names_sessions_that_opened_a_queue_or_hold_an_item(items):
    stage(items, "a")
    assert not items.in_use(["s1", "s2"])
    assert not items.in_use([])
    ops.claim(items, Q, "s1", 1, T0)
    assert items.in_use(["s1"])
    assert items.in_use(["s2", "s1"])
    assert not items.in_use(["s2"])
    ops.open_queue(items, Q, "s2")  # a count, no item
    assert items.in_use(["s2"])
    ops.end_sessions(items, ["s1"], T0)  # its item back to pending, its count kept
    assert not items.in_use(["s1"])


def test_a_released_item_cannot_be_finished_by_its_old_session(items):
    stage(items, "a")
    (a,) = ops.claim(items, Q, "s1", 1, T0)
    ops.end_sessions(items, ["s1"], T0)
    (again,) = ops.claim(items, Q, "s2", 1, T0)
    with pytest.raises(model.ItemNotHeld):
        ops.finish(items, a, "s1", "{}", T0)
    with pytest.raises(model.ItemNotHeld):
        ops.fail(items, a, "s1", ("x", ""), "{}", T0)
    assert ops.finish(items, again, "s2", "{}", T0).status is ItemStatus.DONE


def test_release_after_the_last_attempt_fails_the_item(items):
    ops.open_queue(items, model.Queue(entry_id="import", name="orders", max_attempts=1), None)
    stage(items, "a")
    take(items, "s1", 1)
    (failure,) = ops.end_sessions(items, ["s1"], T0).failures
    assert failure.final
    assert status(items, "a").status is ItemStatus.FAILED


def test_discard_sets_aside_but_not_in_process(items):
    stage(items, "a", "b")
    ops.claim(items, Q, "s1", 1, T0)
    page = model.Page(entry_id="import", keys=("a", "b"))
    assert [i.key for i in ops.discard(items, page, "ops", T0)] == ["b"]
    assert (status(items, "b").status, status(items, "b").discarded_by) == (
        ItemStatus.DISCARDED,
        "ops",
    )


def test_prune_deletes_done_items_past_retention(items):
    ops.open_queue(
        items, model.Queue(entry_id="import", name="orders", done_retention=timedelta(days=1)), "s1"
    )
    stage(items, "a", "b", "c")
    a, b, c = ops.claim(items, Q, "s1", 3, T0)
    ops.finish(items, a, "s1", "{}", T0)
    ops.finish(items, b, "s1", "{}", T0 + timedelta(hours=12))
    ops.fail(items, c, "s1", ("x", ""), "{}", T0)
    assert ops.prune(items, T0 + timedelta(hours=1)) == (0, T0 + timedelta(days=1))
    assert ops.prune(items, T0 + timedelta(days=1, hours=1)) == (
        1,
        T0 + timedelta(days=1, hours=12),
    )
    assert [i.key for i in ops.listed(items, model.Page(entry_id="import"))] == ["b", "c"]
    assert ops.prune(items, T0 + timedelta(days=5)) == (1, None)


def test_status_counts(items):
    stage(items, "a", "b", "c")
    stage(items, "x", queue=model.Queue(entry_id="other", name="q"))
    (a,) = ops.claim(items, Q, "s1", 1, T0)
    ops.finish(items, a, "s1", "{}", T0)
    assert ops.status_counts(items, ["import"]) == {"import": {"done": 1, "pending": 2}}
    assert ops.status_counts(items)["other"] == {"pending": 1}


def test_a_failed_transaction_writes_nothing(items):
    stage(items, "a")
    new = model.Item(entry_id="import", queue="orders", key="b", created_at=T0, updated_at=T0)
    with pytest.raises(model.ItemError), items.transaction() as tx:  # noqa: PT012 - one tx
        tx.put(new)
        tx.put(dataclasses.replace(new, key="a"))
    assert [i.key for i in ops.listed(items, model.Page(entry_id="import"))] == ["a"]


def test_numbers_grow(items):
    stage(items, "a", "b")
    a, b = ops.listed(items, model.Page(entry_id="import"))
    assert 0 < a.number < b.number


def test_queue_settings_are_kept(items):
    q = model.Queue(
        entry_id="import", name="orders", max_attempts=5, done_retention=timedelta(hours=3)
    )
    ops.open_queue(items, q, None)
    with items.reading() as tx:
        assert tx.get_queue("import", "orders") == q
        assert tx.queues("import") == [q]
        assert tx.get_queue("import", "nope") is None
