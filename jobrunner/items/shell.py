"""The runner's side of work items: what it does when a session ends, at recovery and
on each pruning pass, and the events it logs. Called from the runner's hooks; reads no
clock (the runner gives `now`).

A session's items in process go back to pending when it ends however it ends (its
job returned while still holding one, it was killed, timed out, or the fork server
died): `sessions_ended`. A runner killed with its sessions leaves them in process until
the next start: `recovered`, after the runner closed the runs and sessions of the
runner before.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from jobrunner import store
from jobrunner.items import model, ops, storage

EVENTS = ("item_failed", "item_failed_finally", "items_pruned", "items_store_failed")
"""The events logged here (telemetry's vocabulary has them)."""

_items: weakref.WeakKeyDictionary[object, storage.ItemStore] = weakref.WeakKeyDictionary()


def items_of(st: store.Store) -> storage.ItemStore:
    """The item store of the runner's state store (opened once per state store)."""
    found = _items.get(st)
    if found is None:
        found = _items[st] = storage.for_store(st)
    return found


Notify = Callable[[dict[str, Any]], None]
"""Where a final failure also goes (the runner's alerts): its event's fields and `at`."""


def sessions_ended(
    st: store.Store,
    session_ids: Iterable[str],
    now: datetime,
    log: Any,
    notify: Notify | None = None,
) -> None:
    """Sessions ended: release their items in process and log their items' failures."""
    if storage.keeps_items(st):
        _end(st, session_ids, now, log, notify)


def recovered(st: store.Store, now: datetime, log: Any, notify: Notify | None = None) -> None:
    """After the runs of runners before (or of dead runners) were closed: release the
    items held by sessions that are over: no run in process on any runner is theirs
    (an entry's or task's session is recorded before the session starts), and no
    foreground session of theirs is open (a logon without a logoff). A session that
    never logged on (its logon lost with its runner) is over once its run was closed."""
    if not storage.keeps_items(st):
        return
    try:
        held = ops.held_sessions(items_of(st))
    except model.ItemError as exc:
        log.warning("items_store_failed", error=str(exc))
        return
    held -= st.running_sessions()
    if held:
        events = st.list_sessions()
        over = {e.session_id for e in events if e.event == "logoff"}
        open_ = {e.session_id for e in events if e.event == "logon"} - over
        _end(st, held - open_, now, log, notify)


def _end(
    st: store.Store, session_ids: Iterable[str], now: datetime, log: Any, notify: Notify | None
) -> None:
    try:
        ended = ops.end_sessions(items_of(st), session_ids, now)
    except model.ItemError as exc:  # released at the next start instead
        log.warning("items_store_failed", error=str(exc))
        return
    for f in ended.failures:
        fields = {
            "entry_id": f.entry_id,
            "queue": f.queue,
            "key": f.key,
            "session_id": f.session_id,
            "attempt": f.attempt,
            "error": f.message,
        }
        if f.final:
            log.error("item_failed_finally", **fields)
            if notify is not None:
                notify({**fields, "at": f.at})
        else:
            log.warning("item_failed", **fields)


def prune(st: store.Store, now: datetime, log: Any) -> datetime | None:
    """Delete done items past their queue's retention; when the next ones are due."""
    if not storage.keeps_items(st):
        return None
    try:
        removed, due = ops.prune(items_of(st), now)
    except model.ItemError as exc:
        log.warning("items_store_failed", error=str(exc))
        return None
    if removed:
        log.info("items_pruned", rows=removed)
    return due
