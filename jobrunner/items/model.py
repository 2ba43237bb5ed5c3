"""The records of work items and their errors: frozen data, no storage, no clock."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobrunner import errors

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_DONE_RETENTION = timedelta(days=30)
PAYLOAD_LIMIT = 64 * 1024
"""Bytes of JSON text a payload (and, separately, an item's notes) may take."""
KEY_LIMIT = 200
"""Characters of an item's key."""


class ItemStatus(enum.Enum):
    PENDING = "pending"
    IN_PROCESS = "in_process"
    DONE = "done"
    FAILED = "failed"
    DISCARDED = "discarded"


class ItemError(errors.JobRunnerError):
    """Work items cannot do what was asked; the message says why."""


class PayloadError(ItemError, ValueError):
    """A payload or note is not JSON-serialisable, or larger than PAYLOAD_LIMIT."""


class ItemNotHeld(ItemError):
    """The item is no longer claimed by this session (it was released meanwhile)."""


class Fenced(ItemNotHeld):
    """The session's run is no longer the one in process (another runner recovered it):
    its items are left to the run that owns them now."""


class UnknownItem(ItemError, LookupError):
    """No item of the entry has this key."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Owner:
    """The run a session works for: the entry's run (or, with `task_id`, the task's) that
    the runner started with this `fence` (`ctx.fence`: the row's version as the start
    committed it). The run is current while that row still records `session_id` at a
    version of at least `fence`; once another runner recovered it (this one was taken
    for dead), the session's writes of items are refused (`Fenced`)."""

    session_id: str
    entry_id: str = ""
    task_id: str = ""
    fence: int = 0

    def __str__(self) -> str:
        row = f"task {self.task_id}" if self.task_id else f"entry {self.entry_id!r}"
        return f"session {self.session_id} ({row}, fence {self.fence})"


@dataclass(frozen=True, kw_only=True, slots=True)
class Queue:
    """A named queue of one entry's items and its settings, as the job last gave them."""

    entry_id: str
    name: str
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    done_retention: timedelta = DEFAULT_DONE_RETENTION


@dataclass(frozen=True, kw_only=True, slots=True)
class Item:
    """One work item. `session_id` is the session that holds it while in process
    (`started` once its block began: its attempt is counted then); `last_session` the
    one that last claimed it. `payload` and `notes` are JSON text.
    `number` orders items (oldest first) and identifies one in a store; 0: not stored."""

    entry_id: str
    queue: str
    key: str
    status: ItemStatus = ItemStatus.PENDING
    payload: str = "null"
    notes: str = "{}"
    attempts: int = 0
    started: bool = False
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None = None
    done_at: datetime | None = None
    session_id: str | None = None
    last_session: str | None = None
    error_message: str = ""
    error_stack: str = ""
    discarded_by: str = ""
    number: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Failure:
    """One failed attempt of an item (kept with the item; logged when its session ends).
    `final`: the item is failed for good (until a person retries it)."""

    entry_id: str
    queue: str
    key: str
    session_id: str
    at: datetime
    message: str
    attempt: int
    final: bool
    seq: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class RunCount:
    """What one session did with one queue: items done and failed; `left`: pending once
    the session ended (None while it runs)."""

    session_id: str
    entry_id: str
    queue: str
    done: int = 0
    failed: int = 0
    left: int | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Released:
    """What ending sessions did to items: the items written and their failures."""

    items: tuple[Item, ...] = ()
    failures: tuple[Failure, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Page:
    """A filter of item lists (the CLI's)."""

    entry_id: str
    queue: str | None = None
    status: ItemStatus | None = None
    keys: tuple[str, ...] = ()
    limit: int | None = None
