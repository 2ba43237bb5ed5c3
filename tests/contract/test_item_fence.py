"""Work items are fenced by the run their session works for, in every store (memory,
SQLite, PostgreSQL): once that run is no longer the one in process (another runner
recovered it, or a new run took its place), the session's claims, starts, finishes,
failures and stagings are refused (`Fenced`) and write nothing; the new owner's items
stay as it wrote them."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from jobrunner import model, scheduler
from jobrunner.items import model as items_model
from jobrunner.items import ops, storage
from jobrunner.items.model import ItemStatus
from tests.contract.test_store import T0, entry, put

Q = items_model.Queue(entry_id="import", name="orders")
Q_PAGE = items_model.Page(entry_id="import")


@pytest.fixture
def items(store):
    found = storage.for_store(store)
    yield found
    found.close()


def _start(store, e: model.Entry, session_id: str) -> items_model.Owner:
    """The entry's run in `session_id` as the runner commits it; its owner (the fence is
    the version that start wrote, as the runner hands it to the session)."""
    running, log = scheduler.started(e, session_id=session_id, runner_id="r", now=T0, user="u")
    store.commit(model.Transition(reason="run_started", put=(running,), log_insert=(log,)))
    return items_model.Owner(session_id=session_id, entry_id=e.id, fence=e.version + 1)


def _recovered(store, entry_id: str) -> model.Entry:
    """The run ended by someone else (a recovery): the entry ready again, no session."""
    stored = store.get_entry(entry_id)
    ready = dataclasses.replace(stored, status=model.EntryStatus.READY, session_id=None)
    store.commit(model.Transition(reason="recovered", put=(ready,)))
    return store.get_entry(entry_id)


def _stage(items, *keys, owner=None):
    return ops.add(items, Q, [(k, f'"{k}"') for k in keys], T0, owner=owner)


def _status(items, key):
    (found,) = ops.listed(items, items_model.Page(entry_id="import", keys=(key,)))
    return found


def test_a_current_run_writes_its_items(store, items):
    (e,) = put(store, entry("import"))
    owner = _start(store, e, "s1")
    assert _stage(items, "a", "b", owner=owner) == 2
    a, b = ops.claim(items, Q, "s1", 5, T0, owner=owner)
    a = ops.start(items, a, "s1", T0, owner=owner)
    assert ops.finish(items, a, "s1", "{}", T0, owner=owner).status is ItemStatus.DONE
    b = ops.start(items, b, "s1", T0, owner=owner)
    after, _ = ops.fail(items, b, "s1", ("boom", ""), "{}", T0, owner=owner)
    assert after.status is ItemStatus.PENDING


def test_a_session_whose_run_was_recovered_writes_nothing(store, items):
    (e,) = put(store, entry("import"))
    old = _start(store, e, "s1")
    _stage(items, "a", "b", "c", owner=old)
    a, b = ops.claim(items, Q, "s1", 2, T0, owner=old)
    a = ops.start(items, a, "s1", T0, owner=old)
    e = _recovered(store, "import")  # s1's runner was taken for dead
    ops.end_sessions(items, ["s1"], T0)  # what the recovering runner releases
    new = _start(store, e, "s2")
    again, _, _ = ops.claim(items, Q, "s2", 3, T0, owner=new)
    ops.add(items, Q, [("d", "1")], T0, owner=new)
    refused = [
        lambda: ops.finish(items, a, "s1", '{"old":1}', T0, owner=old),
        lambda: ops.fail(items, a, "s1", ("late", ""), "{}", T0, owner=old),
        lambda: ops.start(items, b, "s1", T0, owner=old),
        lambda: ops.claim(items, Q, "s1", 5, T0, owner=old),
        lambda: ops.add(items, Q, [("d", '"new"'), ("e", "1")], T0, update=True, owner=old),
        lambda: ops.open_queue(items, Q, "s1", owner=old),
    ]
    for write in refused:
        with pytest.raises(items_model.Fenced, match="session s1"):
            write()
    held = [(i.key, i.status, i.session_id) for i in ops.listed(items, Q_PAGE)]
    assert held == [
        ("a", ItemStatus.IN_PROCESS, "s2"),
        ("b", ItemStatus.IN_PROCESS, "s2"),
        ("c", ItemStatus.IN_PROCESS, "s2"),
        ("d", ItemStatus.PENDING, None),
    ]  # e was never staged
    assert _status(items, "d").payload == "1"
    assert _status(items, "a").attempts == 1  # (the old session's attempt, released)
    done = ops.finish(items, again, "s2", "{}", T0 + timedelta(seconds=1), owner=new)
    assert done.status is ItemStatus.DONE


def test_a_task_session_is_fenced_by_its_task(store, items):
    task = model.Task(id="t1", object="x:y", entry_id="import", session_id="s1", created_at=T0)
    store.commit(model.Transition(reason="t", task_put=(task,)))
    owner = items_model.Owner(session_id="s1", entry_id="import", task_id="t1", fence=1)
    assert _stage(items, "a", owner=owner) == 1
    stored = store.get_task("t1")
    store.commit(
        model.Transition(reason="t", task_put=(dataclasses.replace(stored, session_id=None),))
    )
    with pytest.raises(items_model.Fenced, match="task t1"):
        ops.claim(items, Q, "s1", 1, T0, owner=owner)


def test_a_fence_from_an_older_version_is_refused(store, items):
    """The same session id at a version below the fence (a row written anew) owns nothing."""
    (e,) = put(store, entry("import"))
    owner = _start(store, e, "s1")
    stale = dataclasses.replace(owner, fence=owner.fence + 5)
    with pytest.raises(items_model.Fenced):
        _stage(items, "a", owner=stale)
    assert _stage(items, "a", owner=owner) == 1
