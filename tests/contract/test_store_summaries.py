"""The Store contract's reads for the dashboard: a page of entries, entries' states
without their definitions, and the log taken together by entry and status."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from jobrunner import model
from jobrunner import store as store_protocol
from tests.contract.test_store import T0, entry, put

S = model.EntryStatus
L = model.LogStatus
SECOND = timedelta(seconds=1)


def test_list_entries_pages(store):
    put(store, *(entry(f"e{n}", S.ERROR if n % 2 else S.READY) for n in range(5)))
    assert [e.id for e in store.list_entries(limit=2)] == ["e0", "e1"]
    assert [e.id for e in store.list_entries(offset=3, limit=10)] == ["e3", "e4"]
    assert [e.id for e in store.list_entries(offset=4)] == ["e4"]
    assert [e.id for e in store.list_entries(status=S.ERROR, offset=1, limit=1)] == ["e3"]
    assert store.list_entries(offset=9, limit=1) == []


def test_entry_states_are_every_entry_without_its_definition(store):
    running = dataclasses.replace(
        entry("b", S.IN_PROCESS, category="CRM"), session_id="s1", rejected="bad: line 2"
    )
    put(store, running, entry("a", at=None))
    assert store.entry_states() == [
        store_protocol.EntryState(
            id="a", status=S.READY, category=None, earliest_start=None, rejected=False
        ),
        store_protocol.EntryState(
            id="b", status=S.IN_PROCESS, category="CRM", earliest_start=T0, rejected=True
        ),
    ]  # fmt: skip


def test_running_sessions_are_the_entries_and_the_tasks(store):
    running = dataclasses.replace(entry("b", S.IN_PROCESS), session_id="s1")
    put(store, running, entry("a"))
    assert store.running_sessions() == {"s1"}
    task = model.Task(id="t1", object="acme.jobs:post", created_at=T0, session_id="s2")
    store.commit(model.Transition(reason="t", task_put=(task,)))
    assert store.running_sessions() == {"s1", "s2"}


def _log(entry_id: str, status: model.LogStatus, took: timedelta | None) -> model.LogEntry:
    end = None if took is None else T0 + took
    return model.LogEntry(entry_id=entry_id, start_at=T0, end_at=end, status=status)


def test_log_stats_by_entry_and_status_each_in_process_one_alone(store):
    numbers = store.commit(
        model.Transition(
            reason="t",
            log_insert=(
                _log("a", L.SUCCESS, SECOND),
                _log("a", L.SUCCESS, 3 * SECOND),
                _log("a", L.ERROR, 10 * SECOND),
                _log("b", L.IN_PROCESS, None),
                _log("b", L.IN_PROCESS, None),
                _log("b", L.SUCCESS, timedelta(milliseconds=100)),
            ),
        )
    )
    bounds = (timedelta(milliseconds=100), SECOND, 5 * SECOND)
    found = sorted(store.log_stats(bounds=bounds), key=lambda s: (s.entry_id, s.last_no))
    assert [(s.entry_id, s.status, s.count, s.last_no) for s in found] == [
        ("a", L.SUCCESS, 2, numbers[1]),
        ("a", L.ERROR, 1, numbers[2]),
        ("b", L.IN_PROCESS, 1, numbers[3]),
        ("b", L.IN_PROCESS, 1, numbers[4]),
        ("b", L.SUCCESS, 1, numbers[5]),
    ]
    a_ok, a_error, b_open, _, b_ok = found
    assert (a_ok.last_end, a_ok.ended, a_ok.took, a_ok.within) == (
        T0 + 3 * SECOND, 2, 4 * SECOND, (0, 1, 2),
    )  # fmt: skip
    assert (a_error.took, a_error.within) == (10 * SECOND, (0, 0, 0))
    assert (b_open.last_end, b_open.ended, b_open.took) == (None, 0, timedelta())
    assert b_ok.within == (1, 1, 1)  # a duration at the bound is within it


def test_log_stats_count_only_the_log_entries_above_a_number(store):
    first, second = store.commit(
        model.Transition(
            reason="t", log_insert=(_log("a", L.SUCCESS, SECOND), _log("a", L.SUCCESS, SECOND))
        )
    )
    (later,) = store.log_stats(after=first)
    assert (later.count, later.last_no, later.within) == (1, second, ())
    assert store.log_stats(after=second) == []


def test_entry_histories_are_each_entrys_own_limits_without_its_definition(store):
    put(
        store,
        entry("b", history={"keep_failed": 3, "failed_retention": "2d"}),
        entry("a"),
        entry("c", description='"history": in a text, not a key'),
        entry("d", history={"keep_successful": 0}),
    )
    assert store.entry_histories() == {
        "a": None,
        "b": model.History(keep_failed=3, failed_retention=timedelta(days=2)),
        "c": None,
        "d": model.History(keep_successful=0),
    }
    assert store.entry_histories() == {e.id: e.spec.history for e in store.list_entries()}
