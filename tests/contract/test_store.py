"""The Store contract, written once and run against every implementation."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from jobrunner import lifecycle, model, spec
from jobrunner.store import StoreConflict
from jobrunner.testing import utc

T0 = utc(2026, 1, 5, 12)
S = model.EntryStatus


def definition(entry_id: str, **raw) -> model.JobSpec:
    raw = {"object_id": 50100, **raw}
    import json

    return spec.parse_spec(
        json.dumps(raw), f"jobs.d/{entry_id}.yaml", default_id=entry_id, timezone="UTC"
    )


def entry(entry_id: str, status=S.READY, at=T0, **raw) -> model.Entry:
    return model.Entry(
        spec=definition(entry_id, **raw),
        status=status,
        earliest_start=at,
        created_at=T0,
        updated_at=T0,
    )


def put(store, *entries):
    store.commit(model.Transition(reason="test", put=entries))
    return [store.get_entry(e.id) for e in entries]


def test_definition_in_its_own_zone_keeps_its_digest(store):
    own_zone = entry("z", recurrence={"every": "1h", "timezone": "Asia/Tokyo"})
    (stored,) = put(store, own_zone)
    assert stored.spec.digest == own_zone.spec.digest


def test_entry_round_trip(store):
    original = entry(
        "a", category="CRM", priority="high", recurrence={"every": "5m", "starting_time": "08:00"}
    )
    (stored,) = put(store, original)
    assert stored.spec == original.spec
    assert stored.spec.raw == original.spec.raw
    assert stored.status is S.READY
    assert stored.earliest_start == T0
    assert stored.version == 1
    assert stored.entry_no >= 1


def test_versions_are_compare_and_set(store):
    (stored,) = put(store, entry("a"))
    with pytest.raises(StoreConflict):
        put(store, entry("a"))  # version 0 again: already exists
    updated = dataclasses.replace(stored, attempts=3)
    store.commit(model.Transition(reason="test", put=(updated,)))
    assert store.get_entry("a").version == 2
    with pytest.raises(StoreConflict):  # stale version 1
        store.commit(model.Transition(reason="test", put=(updated,)))


def test_new_entries_are_numbered_in_order_and_a_taken_id_refuses_them_all(store):
    (a,) = put(store, entry("a"))
    added = put(store, entry("c"), entry("b"), entry("d", status=S.ON_HOLD))
    assert [e.entry_no for e in added] == [a.entry_no + 1, a.entry_no + 2, a.entry_no + 3]
    assert all(e.system_task_id for e in added[:2])
    with pytest.raises(StoreConflict, match="'a'"):
        put(store, entry("e"), entry("a"), entry("f"))
    assert store.get_entry("e") is None
    assert store.get_entry("f") is None
    (g,) = put(store, entry("g"))
    assert g.entry_no == a.entry_no + 4  # the refused batch took no numbers


def test_a_transition_is_all_or_nothing(store):
    (a,) = put(store, entry("a"))
    log = model.LogEntry(entry_id="a", start_at=T0)
    stale = dataclasses.replace(a, version=7)
    with pytest.raises(StoreConflict):
        store.commit(
            model.Transition(
                reason="test",
                put=(entry("b"), stale),
                log_insert=(log,),
                events=(model.SessionEvent(session_id="s", event="logon", at=T0),),
            )
        )
    assert store.get_entry("b") is None
    assert store.list_log() == []
    assert store.list_sessions() == []
    assert store.get_entry("a").version == 1


def test_delete_needs_the_current_version(store):
    (a,) = put(store, entry("a"))
    with pytest.raises(StoreConflict):
        store.commit(model.Transition(reason="test", delete=(("a", 5),)))
    store.commit(model.Transition(reason="test", delete=(("a", a.version),)))
    assert store.get_entry("a") is None
    with pytest.raises(StoreConflict):
        store.commit(model.Transition(reason="test", delete=(("a", a.version),)))


def test_entry_numbers_are_fifo_kept_on_update_and_never_reused(store):
    a, b = put(store, entry("a"), entry("b"))
    assert a.entry_no < b.entry_no
    store.commit(model.Transition(reason="t", put=(dataclasses.replace(a, attempts=1),)))
    assert store.get_entry("a").entry_no == a.entry_no
    store.commit(model.Transition(reason="t", delete=(("b", b.version),)))
    (c,) = put(store, entry("c"))
    assert c.entry_no > b.entry_no


def test_waiting_entries_by_priority_then_fifo(store):
    put(
        store,
        entry("w1", S.WAITING, category="C"),
        entry("w2", S.WAITING, category="C", priority="high"),
        entry("w3", S.WAITING, category="C"),
        entry("other", S.WAITING, category="D"),
        entry("ready", S.READY, category="C"),
    )
    assert [e.id for e in store.waiting_entries("C")] == ["w2", "w1", "w3"]


def test_entries_by_source(store):
    put(store, entry("a"), entry("b"), entry("c"))
    assert [e.id for e in store.entries_by_source(["jobs.d/c.yaml", "jobs.d/a.yaml", "x"])] == [
        "a",
        "c",
    ]
    assert store.entries_by_source([]) == []


def test_entries_by_id(store):
    put(store, entry("a"), entry("b"), entry("c"))
    found = store.entries_by_id(["c", "a", "x", "a"])
    assert sorted(found) == ["a", "c"]
    assert found["c"] == store.get_entry("c")
    assert store.entries_by_id([]) == {}


def test_list_entries_filters(store):
    put(store, entry("a", category="X"), entry("b", S.ERROR, category="X"), entry("c"))
    assert [e.id for e in store.list_entries()] == ["a", "b", "c"]
    assert [e.id for e in store.list_entries(status=S.ERROR)] == ["b"]
    assert [e.id for e in store.list_entries(category="X")] == ["a", "b"]


def test_log_entries(store):
    first, second = store.commit(
        model.Transition(
            reason="t",
            log_insert=(
                model.LogEntry(entry_id="a", start_at=T0, description="one", session_id="s1"),
                model.LogEntry(entry_id="b", start_at=T0 + timedelta(minutes=1)),
            ),
        )
    )
    assert second > first
    row = store.get_log(first)
    assert (row.entry_id, row.description, row.status) == ("a", "one", model.LogStatus.IN_PROCESS)
    done = dataclasses.replace(
        row,
        status=model.LogStatus.ERROR,
        end_at=T0 + timedelta(seconds=2),
        error_message="boom",
        error_call_stack="stack",
        output="out",
    )
    store.commit(model.Transition(reason="t", log_update=(done,)))
    assert store.get_log(first) == done
    assert [r.entry_no for r in store.list_log()] == [second, first]
    assert [r.entry_no for r in store.list_log(entry_id="a")] == [first]
    assert [r.entry_no for r in store.list_log(status=model.LogStatus.ERROR)] == [first]
    assert [r.entry_no for r in store.list_log(since=T0 + timedelta(seconds=30))] == [second]
    assert len(store.list_log(limit=1)) == 1
    with pytest.raises(StoreConflict):
        store.commit(
            model.Transition(reason="t", log_update=(dataclasses.replace(done, entry_no=999),))
        )


def test_session_events_newest_first(store):
    events = tuple(
        model.SessionEvent(
            session_id=f"s{i}",
            event="logon",
            at=T0 + timedelta(i),
            pid=100 + i,
            client_type=model.ClientType.FOREGROUND,
        )
        for i in range(3)
    )
    store.commit(model.Transition(reason="t", events=events))
    listed = store.list_sessions()
    assert [e.session_id for e in listed] == ["s2", "s1", "s0"]
    assert listed[0].pid == 102
    assert listed[0].client_type is model.ClientType.FOREGROUND
    assert [e.session_id for e in store.list_sessions(since=T0 + timedelta(1))] == ["s2", "s1"]
    assert len(store.list_sessions(limit=2)) == 2


def test_tasks(store):
    task = model.Task(
        id="t1",
        object="pkg.mod:fn",
        failure_object="pkg.mod:fail",
        not_before=T0,
        timeout=timedelta(minutes=5),
        parameter="p",
        created_at=T0,
    )
    store.commit(model.Transition(reason="t", task_put=(task,)))
    stored = store.get_task("t1")
    assert stored == dataclasses.replace(task, version=1)
    with pytest.raises(StoreConflict):
        store.commit(model.Transition(reason="t", task_put=(task,)))
    store.commit(model.Transition(reason="t", task_put=(dataclasses.replace(stored, ready=False),)))
    assert store.get_task("t1").ready is False
    assert [t.id for t in store.list_tasks()] == ["t1"]
    store.commit(model.Transition(reason="t", task_delete=(("t1", 2),)))
    assert store.get_task("t1") is None


def test_a_task_in_a_session_keeps_its_runner(store):
    """The runner of a task's session is stored with it (a runner killed before its
    session's logon is found by it), and goes with the session."""
    task = model.Task(id="t1", object="pkg.mod:fn", not_before=T0, created_at=T0)
    store.commit(model.Transition(reason="t", task_put=(task,)))
    claimed = dataclasses.replace(store.get_task("t1"), session_id="s1", runner_id="r1")
    store.commit(model.Transition(reason="t", task_put=(claimed,)))
    assert (store.get_task("t1").session_id, store.get_task("t1").runner_id) == ("s1", "r1")
    idle = dataclasses.replace(store.get_task("t1"), session_id=None, runner_id=None)
    store.commit(model.Transition(reason="t", task_put=(idle,)))
    assert store.get_task("t1").runner_id is None


def test_prune_keeps_in_process_and_recent(store):
    old = T0 - timedelta(days=40)
    store.commit(
        model.Transition(
            reason="t",
            log_insert=(
                model.LogEntry(
                    entry_id="a", start_at=old, end_at=old, status=model.LogStatus.SUCCESS
                ),
                model.LogEntry(entry_id="a", start_at=old),  # in process: never pruned
                model.LogEntry(entry_id="a", start_at=T0, end_at=T0, status=model.LogStatus.ERROR),
            ),
            events=(
                model.SessionEvent(session_id="s", event="logon", at=old),
                model.SessionEvent(session_id="s", event="logoff", at=T0),
            ),
        )
    )
    assert store.prune(T0 - timedelta(days=30)) == 2
    assert [r.status for r in store.list_log()] == [
        model.LogStatus.ERROR,
        model.LogStatus.IN_PROCESS,
    ]
    assert [e.event for e in store.list_sessions()] == ["logoff"]


def test_a_non_durable_commit_is_atomic_and_visible(store):
    store.commit(
        model.Transition(
            reason="t",
            put=(entry("a"),),
            events=(model.SessionEvent(session_id="s", event="logon", at=T0),),
        ),
        durable=False,
    )
    assert store.get_entry("a") is not None
    assert len(store.list_sessions()) == 1
    stale = dataclasses.replace(store.get_entry("a"), version=9)
    with pytest.raises(StoreConflict):
        store.commit(model.Transition(reason="t", put=(stale, entry("b"))), durable=False)
    assert store.get_entry("b") is None
    store.commit(model.Transition(reason="t", put=(entry("c"),)))  # durable again after
    assert store.get_entry("c") is not None


def test_a_scheduled_entry_is_backed_by_a_task(store):
    from jobrunner import lifecycle

    (a,) = put(store, entry("a", at=T0 + timedelta(minutes=5), priority="high"))
    task = store.get_task(a.system_task_id)
    assert a.system_task_id == lifecycle.system_task_id("a")
    assert (task.object, task.entry_id, task.ready, task.not_before, task.session_id) == (
        lifecycle.DISPATCH,
        "a",
        True,
        T0 + timedelta(minutes=5),
        None,
    )
    waiting = dataclasses.replace(a, status=S.WAITING)
    store.commit(model.Transition(reason="t", put=(waiting,)))
    assert store.get_task(a.system_task_id).ready is False
    running = dataclasses.replace(store.get_entry("a"), status=S.IN_PROCESS, session_id="s1")
    store.commit(model.Transition(reason="t", put=(running,)))
    assert store.get_task(a.system_task_id).session_id == "s1"
    held = dataclasses.replace(store.get_entry("a"), status=S.ON_HOLD, earliest_start=None)
    store.commit(model.Transition(reason="t", put=(held,)))
    assert store.get_task(a.system_task_id) is None
    assert store.get_entry("a").system_task_id is None
    ready = dataclasses.replace(store.get_entry("a"), status=S.READY, earliest_start=T0)
    store.commit(model.Transition(reason="t", put=(ready,)))
    stored = store.get_entry("a")
    store.commit(model.Transition(reason="t", delete=(("a", stored.version),)))
    assert store.get_task(lifecycle.system_task_id("a")) is None


def test_due_tasks_order_and_next(store):
    put(
        store,
        entry("late", at=T0 + timedelta(minutes=1)),
        entry("low", priority="low"),
        entry("high", priority="high"),
        entry("n1"),
        entry("n2"),
        entry("held", S.ON_HOLD),
        entry("future", at=T0 + timedelta(hours=1)),
    )
    store.commit(
        model.Transition(
            reason="t",
            task_put=(
                model.Task(
                    id="plain",
                    object="pkg.mod:fn",
                    not_before=T0 - timedelta(seconds=1),
                    created_at=T0,
                ),
                model.Task(id="dormant", object="pkg.mod:fn", ready=False, not_before=T0),
            ),
        )
    )
    due = store.due_tasks(T0 + timedelta(minutes=1), 100)
    names = [t.entry_id or t.id for t in due]
    assert names == ["plain", "high", "n1", "n2", "low", "late"]
    assert len(store.due_tasks(T0, 2)) == 2
    assert store.next_task_due() == T0 - timedelta(seconds=1)


def test_only_entries_with_a_pending_run_have_a_due_task(store):
    put(
        store,
        entry("error", S.ERROR),
        entry("finished", S.FINISHED),
        entry("inactive", S.ON_HOLD_INACTIVITY, at=T0 - timedelta(seconds=1)),
        entry("dormant", S.ON_HOLD_INACTIVITY, at=None),
        entry("ready", at=None),
    )
    assert [t.entry_id for t in store.due_tasks(T0, 10)] == ["inactive"]
    assert store.next_task_due() == T0 - timedelta(seconds=1)


def test_a_jittered_entry_is_due_at_its_delayed_start(store):
    jittered = entry("j", recurrence={"cron": "0 12 * * *", "jitter": "5m"})
    (stored,) = put(store, jittered)
    due = lifecycle.due_at(stored)
    assert due is not None
    assert T0 < due < T0 + timedelta(minutes=5)
    assert stored.earliest_start == T0  # the occurrence itself is kept
    assert store.due_tasks(T0, 10) == []
    assert store.next_task_due() == due
    assert [t.entry_id for t in store.due_tasks(due, 10)] == ["j"]


def test_an_entry_keeps_its_trigger_and_cancel_requests(store):
    (stored,) = put(store, entry("a"))
    trigger = model.Trigger(by="alice", at=T0, status=S.READY, next_run=T0 + timedelta(hours=1))
    asked = dataclasses.replace(stored, trigger=trigger, cancel="bob")
    store.commit(model.Transition(reason="test", put=(asked,)))
    again = store.get_entry("a")
    assert (again.trigger, again.cancel) == (trigger, "bob")
    cleared = dataclasses.replace(again, trigger=None, cancel="")
    store.commit(model.Transition(reason="test", put=(cleared,)))
    again = store.get_entry("a")
    assert (again.trigger, again.cancel) == (None, "")


def test_pauses_are_kept_replaced_and_lifted(store):
    assert store.pauses() == []
    runner = model.Pause(category=None, by="alice", at=T0)
    crm = model.Pause(category="CRM", by="bob", at=T0 + timedelta(seconds=1))
    store.commit(model.Transition(reason="pause", pause_put=(crm, runner)))
    assert store.pauses() == [runner, crm]
    later = dataclasses.replace(crm, by="carol")
    store.commit(model.Transition(reason="pause", pause_put=(later,)))
    assert store.pauses() == [runner, later]
    store.commit(model.Transition(reason="resume", pause_delete=(None,)))
    assert store.pauses() == [later]
    store.commit(model.Transition(reason="resume", pause_delete=("CRM", "other")))
    assert store.pauses() == []


def test_a_pause_is_not_written_when_its_transition_conflicts(store):
    (stored,) = put(store, entry("a"))
    pause = model.Pause(category=None, by="alice", at=T0)
    stale = dataclasses.replace(stored, version=stored.version + 5)
    with pytest.raises(StoreConflict):
        store.commit(model.Transition(reason="pause", put=(stale,), pause_put=(pause,)))
    assert store.pauses() == []
