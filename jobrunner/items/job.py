"""The job's side of work items: `ctx.items(name)` gives a Queue; `claim` gives
WorkItems, each processed in a `with item:` block.

    orders = ctx.items("orders")
    for order in fetch_new_orders():
        orders.add(order["id"], payload=order)      # staging twice adds nothing
    for item in orders.claim(limit=100):            # pending items, oldest first
        with item:                                  # done when the block returns,
            no = create_sales_order(item.payload)   # failed (kept) when it raises
            item.note(sales_order=no)

This module is the shell of items in a session: it reads the clock and opens the state
store (the runner's, found as `jobrunner.tasks` finds it: its file, or the shared store
its config names). A session of a run the runner started writes its items only while
that run is the one in process (`ctx.fence`; see `model.Owner`).
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from jobrunner.items import core, model, ops, storage

_opened: dict[str, tuple[Any, storage.ItemStore]] = {}  # the state store and its items


def _now() -> datetime:
    return datetime.now(UTC)


class WorkItem:
    """One claimed item: `key`, `payload` (the JSON value staged), `attempt` (1 on the
    first try; counted when the block begins) and `notes`. Use it as a context manager:
    done when the block returns, failed (pending again while attempts are left) when it
    raises an Exception, which the block then swallows so the next item goes on."""

    def __init__(self, queue: Queue, item: model.Item) -> None:
        self._queue, self._item = queue, item
        self.key: str = item.key
        self.payload: Any = json.loads(item.payload)
        self.attempt: int = item.attempts + 1
        self.notes: dict[str, Any] = json.loads(item.notes)
        self.status = item.status

    def note(self, **fields: Any) -> None:
        """Keep data with the item for support (JSON values; written with its end)."""
        merged = {**self.notes, **fields}
        core.payload_text(merged, "notes")
        self.notes = merged

    def __enter__(self) -> WorkItem:
        self._item = self._queue._start(self._item)
        self.attempt = self._item.attempts
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if kind is None:
            self._item = self._queue._finish(self._item, self.notes)
            self.status = self._item.status
            return False
        if exc is None or not isinstance(exc, Exception):
            return False  # SystemExit, KeyboardInterrupt: the session ends, which releases it
        stack = "".join(traceback.format_exception(kind, exc, tb))
        message = str(exc) or kind.__name__
        self._item = self._queue._fail(self._item, (message, stack), self.notes)
        self.status = self._item.status
        return True

    def __repr__(self) -> str:
        return f"WorkItem({self._item.queue!r}, {self.key!r}, attempt={self.attempt})"


class Queue:
    """A named queue of one entry's work items, as one session (or process) sees it."""

    def __init__(
        self,
        items: storage.ItemStore,
        queue: model.Queue,
        session_id: str | None,
        now: Callable[[], datetime] = _now,
        *,
        owner: model.Owner | None = None,
    ) -> None:
        self._items, self.queue, self._session, self._now = items, queue, session_id, now
        self._owner = owner
        ops.open_queue(items, queue, session_id, owner=owner)

    @property
    def name(self) -> str:
        return self.queue.name

    def add(self, key: str | int, payload: Any = None, *, update: bool = False) -> bool:
        """Stage an item; False when its key was staged before (nothing changes, but
        with `update` a pending item's payload is replaced). PayloadError when the
        payload is not JSON or larger than PAYLOAD_LIMIT."""
        return self.add_many([(key, payload)], update=update) == 1

    def add_many(self, staged: Iterable[tuple[str | int, Any]], *, update: bool = False) -> int:
        """Stage (key, payload) pairs in one transaction; how many were new (or updated)."""
        pairs = [(core.item_key(k), core.payload_text(p)) for k, p in staged]
        return ops.add(
            self._items, self.queue, pairs, self._now(), update=update, owner=self._owner
        )

    def claim(self, limit: int = 100) -> list[WorkItem]:
        """Up to `limit` pending items, oldest first, now in process for this session
        (not those that already failed in it: the next run retries them)."""
        if self._session is None:
            raise model.ItemError("only a session (a job or a task) can claim items")
        found = ops.claim(
            self._items, self.queue, self._session, limit, self._now(), owner=self._owner
        )
        return [WorkItem(self, i) for i in found]

    def _start(self, item: model.Item) -> model.Item:
        assert self._session is not None
        return ops.start(self._items, item, self._session, self._now(), owner=self._owner)

    def _finish(self, item: model.Item, notes: dict[str, Any]) -> model.Item:
        assert self._session is not None
        text = core.payload_text(notes, "notes")
        return ops.finish(self._items, item, self._session, text, self._now(), owner=self._owner)

    def _fail(self, item: model.Item, error: tuple[str, str], notes: dict[str, Any]) -> model.Item:
        assert self._session is not None
        text = core.payload_text(notes, "notes")
        now = self._now()
        return ops.fail(self._items, item, self._session, error, text, now, owner=self._owner)[0]

    def counts(self) -> dict[str, int]:
        """How many items of this queue's entry are in each status."""
        return ops.status_counts(self._items, [self.queue.entry_id]).get(self.queue.entry_id, {})


def _state_items() -> storage.ItemStore:
    """The item store of the runner's state (a session's runner sets the folder and the
    config), kept open with its state store for the rest of the process."""
    from jobrunner import config
    from jobrunner.store import open as store_open

    conf = os.environ.get("JOBRUNNER_CONFIG")
    cfg = config.load(Path(conf) if conf else None)
    state = os.environ.get("JOBRUNNER_STATE_DIR") or str(cfg.state_dir)
    key = f"{state}\n{cfg.store or ''}"
    found = _opened.get(key)
    if found is None:
        st = store_open.open_at(Path(state), dsn=cfg.store)
        try:
            found = _opened[key] = (st, storage.for_store(st))
        except BaseException:
            st.close()
            raise
    return found[1]


def _owner(ctx: Any) -> model.Owner | None:
    """The run the session works for (None outside a run the runner started: fence 0,
    as `run-once` in the foreground)."""
    fence = int(getattr(ctx, "fence", 0) or 0)
    session_id = getattr(ctx, "session_id", None)
    if not fence or not session_id:
        return None
    record = getattr(ctx, "entry", None) or {}
    return model.Owner(
        session_id=str(session_id),
        entry_id=str(record.get("id") or ""),
        task_id=str(record.get("task_id") or ""),
        fence=fence,
    )


def for_context(
    ctx: Any,
    name: str,
    *,
    entry: str | None = None,
    max_attempts: int = model.DEFAULT_MAX_ATTEMPTS,
    done_retention: timedelta = model.DEFAULT_DONE_RETENTION,
) -> Queue:
    """The queue `name` of the session's entry (a task's: its `record`; or `entry`)."""
    entry_id = entry or (getattr(ctx, "entry", None) or {}).get("id")
    if not entry_id:
        raise model.ItemError(
            f"queue {name!r}: this session has no entry; name one (ctx.items(name, entry=ID))"
        )
    settings = core.queue_settings(str(entry_id), name, max_attempts, done_retention)
    return Queue(_state_items(), settings, getattr(ctx, "session_id", None), owner=_owner(ctx))
