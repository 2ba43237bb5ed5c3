"""The pure decisions about work items: no store, no clock, no files."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from jobrunner.items import core, model
from jobrunner.items.model import Item, ItemStatus
from jobrunner.testing import utc

T0 = utc(2026, 3, 2, 9)
QUEUE = model.Queue(entry_id="import", name="orders")


def pending(**fields) -> Item:
    base = Item(entry_id="import", queue="orders", key="SO-1", created_at=T0, updated_at=T0)
    return dataclasses.replace(base, **fields)


def held(session: str = "s1", attempts: int = 1) -> Item:
    """Claimed by `session`, its block begun (the attempt'th)."""
    return core.started(core.claimed(pending(attempts=attempts - 1), session, T0), session, T0)


def test_staged_new_item_is_pending():
    item = core.staged(None, QUEUE, "SO-1", '{"a":1}', T0)
    assert (item.status, item.payload, item.attempts, item.number) == (
        ItemStatus.PENDING,
        '{"a":1}',
        0,
        0,
    )


@pytest.mark.parametrize(
    ("status", "update", "changes"),
    [
        pytest.param(ItemStatus.PENDING, False, False, id="pending-kept"),
        pytest.param(ItemStatus.PENDING, True, True, id="pending-updated"),
        pytest.param(ItemStatus.DONE, True, False, id="done-never-updated"),
        pytest.param(ItemStatus.IN_PROCESS, True, False, id="in-process-never-updated"),
        pytest.param(ItemStatus.FAILED, True, False, id="failed-never-updated"),
    ],
)
def test_staged_existing_key(status, update, changes):
    old = pending(status=status, payload='{"a":1}', number=7)
    new = core.staged(old, QUEUE, "SO-1", '{"a":2}', T0 + timedelta(1), update=update)
    assert (new is not None) == changes
    if new is not None:
        assert (new.payload, new.number, new.updated_at) == ('{"a":2}', 7, T0 + timedelta(1))


def test_staged_same_payload_changes_nothing():
    old = pending(payload='{"a":1}', number=7)
    assert core.staged(old, QUEUE, "SO-1", '{"a":1}', T0, update=True) is None


def test_claimed_holds_and_started_counts_the_attempt():
    item = core.claimed(pending(attempts=1), "s1", T0)
    assert (item.status, item.attempts, item.session_id, item.last_session, item.claimed_at) == (
        ItemStatus.IN_PROCESS,
        1,
        "s1",
        "s1",
        T0,
    )
    assert not item.started
    begun = core.started(item, "s1", T0)
    assert (begun.attempts, begun.started) == (2, True)
    with pytest.raises(model.ItemNotHeld):
        core.started(item, "s2", T0)


@pytest.mark.parametrize(
    ("item", "session", "expected"),
    [
        pytest.param(pending(), "s1", True, id="pending"),
        pytest.param(pending(status=ItemStatus.DONE), "s1", False, id="done"),
        pytest.param(pending(status=ItemStatus.FAILED), "s1", False, id="failed"),
        pytest.param(pending(status=ItemStatus.IN_PROCESS), "s1", False, id="in-process"),
        pytest.param(pending(last_session="s1", error_message="x"), "s1", False, id="failed-here"),
        pytest.param(pending(last_session="s1", error_message="x"), "s2", True, id="failed-before"),
    ],
)
def test_claimable(item, session, expected):
    assert core.claimable(item, session) == expected


def test_finished_is_done_with_notes():
    done = core.finished(held(), "s1", '{"no":1}', T0 + timedelta(1))
    assert (done.status, done.session_id, done.done_at, done.notes) == (
        ItemStatus.DONE,
        None,
        T0 + timedelta(1),
        '{"no":1}',
    )


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(held("s2"), id="another-session"),
        pytest.param(pending(attempts=1, last_session="s1"), id="released"),
        pytest.param(dataclasses.replace(held(), status=ItemStatus.DONE), id="done"),
    ],
)
def test_finished_refuses_an_item_not_held(item):
    with pytest.raises(model.ItemNotHeld):
        core.finished(item, "s1", "{}", T0)
    with pytest.raises(model.ItemNotHeld):
        core.failed(item, "s1", "boom", "", 3, T0)


@pytest.mark.parametrize(
    ("attempts", "max_attempts", "status", "final"),
    [
        pytest.param(1, 3, ItemStatus.PENDING, False, id="first-of-3"),
        pytest.param(2, 3, ItemStatus.PENDING, False, id="second-of-3"),
        pytest.param(3, 3, ItemStatus.FAILED, True, id="last-of-3"),
        pytest.param(1, 1, ItemStatus.FAILED, True, id="only-one"),
    ],
)
def test_failed(attempts, max_attempts, status, final):
    after, failure = core.failed(
        held(attempts=attempts), "s1", "boom\nmore", "Traceback ...", max_attempts, T0
    )
    assert (after.status, after.session_id, after.error_message, after.error_stack) == (
        status,
        None,
        "boom",
        "Traceback ...",
    )
    assert (failure.final, failure.attempt, failure.session_id, failure.message) == (
        final,
        attempts,
        "s1",
        "boom",
    )


def test_released_counts_the_attempt_as_failed():
    after, failure = core.released(held(attempts=3), 3, T0)
    assert (after.status, after.error_message, failure.final, failure.session_id) == (
        ItemStatus.FAILED,
        core.RELEASED,
        True,
        "s1",
    )
    after, failure = core.released(held(attempts=1), 3, T0)
    assert (after.status, after.attempts, failure.final) == (ItemStatus.PENDING, 1, False)


def test_released_before_its_block_began_is_pending_as_it_was():
    claimed = core.claimed(pending(attempts=2), "s1", T0)
    after, failure = core.released(claimed, 3, T0)
    assert (after.status, after.attempts, after.session_id, failure) == (
        ItemStatus.PENDING,
        2,
        None,
        None,
    )


def test_retried_only_failed_items_start_over():
    failed = pending(status=ItemStatus.FAILED, attempts=3, last_session="s1", error_message="x")
    again = core.retried(failed, T0)
    assert (again.status, again.attempts, again.last_session, again.error_message) == (
        ItemStatus.PENDING,
        0,
        None,
        "x",
    )
    assert core.retried(pending(), T0) is None


@pytest.mark.parametrize(
    ("status", "discards"),
    [
        pytest.param(ItemStatus.PENDING, True, id="pending"),
        pytest.param(ItemStatus.FAILED, True, id="failed"),
        pytest.param(ItemStatus.DONE, True, id="done"),
        pytest.param(ItemStatus.IN_PROCESS, False, id="in-process"),
        pytest.param(ItemStatus.DISCARDED, False, id="discarded"),
    ],
)
def test_discarded(status, discards):
    out = core.discarded(pending(status=status), "ops", T0)
    assert (out is not None) == discards
    if out is not None:
        assert (out.status, out.discarded_by) == (ItemStatus.DISCARDED, "ops")


def test_prune_times():
    q = dataclasses.replace(QUEUE, done_retention=timedelta(days=2))
    assert core.prune_before(q, T0) == T0 - timedelta(days=2)
    other = model.Queue(entry_id="x", name="y")
    assert core.next_prune([(q, T0), (other, T0 - timedelta(days=1))]) == T0 + timedelta(days=2)
    assert core.next_prune([]) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({1, 2}, "not JSON-serialisable", id="a-set"),
        pytest.param(float("nan"), "not JSON-serialisable", id="nan"),
        pytest.param("x" * model.PAYLOAD_LIMIT, "at most 65536", id="too-large"),
    ],
)
def test_payload_refused(value, message):
    with pytest.raises(model.PayloadError, match=message):
        core.payload_text(value)


def test_payload_text_is_compact_json():
    assert core.payload_text({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    assert len(core.payload_text("x" * (model.PAYLOAD_LIMIT - 2)).encode()) == model.PAYLOAD_LIMIT


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("k" * 201, id="long"),
        pytest.param(True, id="bool"),
        pytest.param(1.5, id="float"),
    ],
)
def test_item_key_refused(key):
    with pytest.raises(model.ItemError):
        core.item_key(key)


def test_item_key_of_an_int():
    assert core.item_key(1001) == "1001"


@pytest.mark.parametrize(
    ("name", "attempts", "retention"),
    [
        pytest.param("", 3, timedelta(0), id="no-name"),
        pytest.param("q", 0, timedelta(0), id="no-attempt"),
        pytest.param("q", True, timedelta(0), id="bool-attempts"),
        pytest.param("q", 3, timedelta(-1), id="negative-retention"),
    ],
)
def test_queue_settings_refused(name, attempts, retention):
    with pytest.raises(model.ItemError):
        core.queue_settings("e", name, attempts, retention)


def test_counted_and_first_line():
    c = model.RunCount(session_id="s", entry_id="e", queue="q", done=1)
    assert core.counted(c, done=2, failed=1) == dataclasses.replace(c, done=3, failed=1)
    assert core.first_line("\n  boom\nmore") == "boom"
    assert core.first_line("") == ""
