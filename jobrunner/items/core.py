"""Pure decisions about work items: each a function of its inputs and `now`.

No storage, clock, I/O or logging here; `ops` reads the items, asks these functions
what they become, and writes the answer in the same transaction.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from jobrunner.items import model
from jobrunner.items.model import Item, ItemStatus

RELEASED = "The session ended while the item was in process."
"""The error of an item whose session died (killed, timed out, the runner lost) in it."""
MESSAGE_LIMIT = 2048
"""Characters of an item's error message kept (the first line of the error)."""


def payload_text(value: Any, what: str = "payload") -> str:
    """`value` as compact JSON text, or PayloadError when it is not JSON-serialisable
    or its text is longer than PAYLOAD_LIMIT bytes."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise model.PayloadError(f"the {what} is not JSON-serialisable: {exc}") from None
    size = len(text.encode())
    if size > model.PAYLOAD_LIMIT:
        raise model.PayloadError(
            f"the {what} is {size} bytes of JSON; at most {model.PAYLOAD_LIMIT} are allowed"
        )
    return text


def item_key(key: str | int) -> str:
    """An item's key as stored: text of 1 to KEY_LIMIT characters (an int is its digits)."""
    if isinstance(key, bool) or not isinstance(key, str | int):
        raise model.ItemError(f"an item key is text or an integer, not {type(key).__name__}")
    text = str(key)
    if not text or len(text) > model.KEY_LIMIT:
        raise model.ItemError(f"an item key has 1 to {model.KEY_LIMIT} characters: {text!r}")
    return text


def staged(
    existing: Item | None,
    queue: model.Queue,
    key: str,
    payload: str,
    now: datetime,
    *,
    update: bool = False,
) -> Item | None:
    """The item to write when a job stages `key`, or None when nothing changes: a new
    item is pending; an existing one stays as it is, but for `update`, which replaces
    the payload of a pending item."""
    if existing is None:
        return Item(
            entry_id=queue.entry_id,
            queue=queue.name,
            key=key,
            payload=payload,
            created_at=now,
            updated_at=now,
        )
    if update and existing.status is ItemStatus.PENDING and existing.payload != payload:
        return dataclasses.replace(existing, payload=payload, updated_at=now)
    return None


def claimable(item: Item, session_id: str) -> bool:
    """Whether a claim by `session_id` may take the item: pending and not last failed
    in this very session (a run does not retry its own failures; the next run does)."""
    return item.status is ItemStatus.PENDING and not (
        item.last_session == session_id and item.error_message
    )


def claimed(item: Item, session_id: str, now: datetime) -> Item:
    """The item held by `session_id`: in process, not started yet (a claimed item whose
    session dies before its block began goes back to pending as it was)."""
    return dataclasses.replace(
        item,
        status=ItemStatus.IN_PROCESS,
        started=False,
        session_id=session_id,
        last_session=session_id,
        claimed_at=now,
        updated_at=now,
    )


def started(item: Item, session_id: str, now: datetime) -> Item:
    """The item's block begins in `session_id`: its attempt is counted."""
    _held(item, session_id)
    return dataclasses.replace(item, started=True, attempts=item.attempts + 1, updated_at=now)


def _held(item: Item, session_id: str) -> None:
    if item.status is not ItemStatus.IN_PROCESS or item.session_id != session_id:
        raise model.ItemNotHeld(
            f"item {item.key!r} of queue {item.queue!r} is no longer held by session "
            f"{session_id} (it is {item.status.value}; its session ended meanwhile?)"
        )


def finished(item: Item, session_id: str, notes: str, now: datetime) -> Item:
    """The item done after its block returned in `session_id`; ItemNotHeld when the
    session no longer holds it (never done twice)."""
    _held(item, session_id)
    return dataclasses.replace(
        item,
        status=ItemStatus.DONE,
        started=False,
        session_id=None,
        done_at=now,
        updated_at=now,
        notes=notes,
        error_message="",
        error_stack="",
    )


def first_line(message: str) -> str:
    """The first line of an error (at most MESSAGE_LIMIT characters)."""
    return (message.strip().splitlines() or [""])[0][:MESSAGE_LIMIT]


def failed(
    item: Item,
    session_id: str,
    message: str,
    stack: str,
    max_attempts: int,
    now: datetime,
    *,
    notes: str | None = None,
) -> tuple[Item, model.Failure]:
    """The item after its block raised in `session_id`: pending again while attempts
    are left, else failed (until a person retries it); with the failure to log."""
    _held(item, session_id)
    return _fail(item, first_line(message) or "failed", stack, max_attempts, now, notes)


def _fail(
    item: Item, message: str, stack: str, max_attempts: int, now: datetime, notes: str | None
) -> tuple[Item, model.Failure]:
    final = item.attempts >= max_attempts
    after = dataclasses.replace(
        item,
        status=ItemStatus.FAILED if final else ItemStatus.PENDING,
        started=False,
        session_id=None,
        updated_at=now,
        error_message=message,
        error_stack=stack,
        notes=item.notes if notes is None else notes,
    )
    failure = model.Failure(
        entry_id=item.entry_id,
        queue=item.queue,
        key=item.key,
        session_id=item.last_session or "",
        at=now,
        message=message,
        attempt=item.attempts,
        final=final,
    )
    return after, failure


def released(item: Item, max_attempts: int, now: datetime) -> tuple[Item, model.Failure | None]:
    """An item whose session ended while it was in process (killed, timed out, or its
    runner died): when its block had begun, pending again with that attempt counted
    (failed after the last); when it had not, pending as it was, with no failure."""
    if not item.started:
        return dataclasses.replace(
            item, status=ItemStatus.PENDING, session_id=None, updated_at=now
        ), None
    return _fail(item, RELEASED, "", max_attempts, now, None)


def retried(item: Item, now: datetime) -> Item | None:
    """A failed item made pending again by a person (its attempts start over), or None
    when it is not failed."""
    if item.status is not ItemStatus.FAILED:
        return None
    return dataclasses.replace(
        item, status=ItemStatus.PENDING, attempts=0, last_session=None, updated_at=now
    )


def discarded(item: Item, by: str, now: datetime) -> Item | None:
    """The item set aside for good by `by`, or None when it is in process (its session
    decides) or already discarded."""
    if item.status in (ItemStatus.IN_PROCESS, ItemStatus.DISCARDED):
        return None
    return dataclasses.replace(
        item, status=ItemStatus.DISCARDED, discarded_by=by, session_id=None, updated_at=now
    )


def prune_before(queue: model.Queue, now: datetime) -> datetime:
    """Done items of `queue` that were done before this instant may be deleted."""
    return now - queue.done_retention


def next_prune(oldest_done: Iterable[tuple[model.Queue, datetime]]) -> datetime | None:
    """When the oldest done item among queues reaches its queue's retention (None: no
    done item is kept)."""
    return min((done_at + q.done_retention for q, done_at in oldest_done), default=None)


def counted(count: model.RunCount, *, done: int = 0, failed: int = 0) -> model.RunCount:
    """A session's count for a queue, with these items more."""
    return dataclasses.replace(count, done=count.done + done, failed=count.failed + failed)


def queue_settings(
    entry_id: str, name: str, max_attempts: int, done_retention: timedelta
) -> model.Queue:
    """A queue's settings, checked: at least one attempt, a retention of at least 0."""
    if not name or len(name) > model.KEY_LIMIT:
        raise model.ItemError(f"a queue name has 1 to {model.KEY_LIMIT} characters: {name!r}")
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise model.ItemError(f"max_attempts is an integer of at least 1, not {max_attempts!r}")
    if done_retention < timedelta(0):
        raise model.ItemError(f"done_retention cannot be negative: {done_retention}")
    return model.Queue(
        entry_id=entry_id, name=name, max_attempts=max_attempts, done_retention=done_retention
    )
