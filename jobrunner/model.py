"""The domain's values: frozen dataclasses and enums shared by every layer.

Imports only the stdlib and the pure expression modules (cron, dateformula); never storage.
"""

from __future__ import annotations

import dataclasses
import enum
import operator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, TypeVar

from jobrunner import cron, dateformula

_C = TypeVar("_C", bound=type)


def pickled_as_tuple(cls: _C) -> _C:
    """A frozen slots dataclass pickled as the tuple of its fields' values. Dataclasses'
    own state calls `dataclasses.fields` per object, both ways: for the results of a
    read of 10,000 files handed back by helpers (`jobfiles`), most of their cost."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    setters = tuple(getattr(cls, name).__set__ for name in names)  # the slots' own
    values = operator.attrgetter(*names)
    single = len(names) == 1

    def getstate(obj: Any) -> tuple[Any, ...]:
        return (values(obj),) if single else values(obj)

    def setstate(obj: Any, state: tuple[Any, ...]) -> None:
        for set_value, value in zip(setters, state, strict=True):
            set_value(obj, value)

    setattr(cls, "__getstate__", getstate)  # noqa: B010 (mypy refuses assigning methods)
    setattr(cls, "__setstate__", setstate)  # noqa: B010
    return cls


ALL_DAYS: frozenset[int] = frozenset(range(1, 8))
"""ISO weekdays, Monday = 1 ... Sunday = 7."""

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Priority(enum.Enum):
    """Priority Within Category; a lower rank runs first (BC: High 1000, Normal 2000, Low 3000)."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _RANKS[self._value_]  # (`value` is a property of its own: slower)


_RANKS = {"high": 1000, "normal": 2000, "low": 3000}


class DesiredStatus(enum.Enum):
    """The status a job file asks for."""

    READY = "ready"
    ON_HOLD = "on_hold"


class EntryStatus(enum.Enum):
    """An entry's runtime status (BC table 472, field Status)."""

    READY = "ready"
    IN_PROCESS = "in_process"
    ERROR = "error"
    ON_HOLD = "on_hold"
    FINISHED = "finished"
    WAITING = "waiting"
    ON_HOLD_INACTIVITY = "on_hold_inactivity"


class FinalFailure(enum.Enum):
    """What a recurring entry does once its retries are spent."""

    ERROR = "error"
    NEXT_RECURRENCE = "next_recurrence"


@pickled_as_tuple
@dataclass(frozen=True, kw_only=True, slots=True)
class Recurrence:
    """When a recurring entry runs again.

    Exactly one of three kinds: BC-style (`every`, `run_on`, the window), a date formula
    (with the window's starting time), or a cron expression. Wall-clock fields are in
    `timezone`; `every` is elapsed time. `every=None` is BC's 0 minutes: the next day.
    `starting_time`/`ending_time` are tri-state: None is BC's blank time, not midnight.
    """

    timezone: str
    every: timedelta | None = None
    run_on: frozenset[int] = ALL_DAYS
    starting_time: time | None = None
    ending_time: time | None = None
    date_formula: dateformula.DateFormula | None = None
    cron: cron.CronExpr | None = None
    misfire_grace: timedelta | None = None
    jitter: timedelta | None = None
    """systemd's RandomizedDelaySec: each occurrence starts up to this much later."""


@pickled_as_tuple
@dataclass(frozen=True, kw_only=True, slots=True)
class History:
    """How many ended runs of an entry its log keeps (None: no count limit) and how long
    failed ones are kept (None: as long as `log_retention`). Kubernetes' Job history
    limits; an entry's own keys override the config's."""

    keep_successful: int | None = None
    keep_failed: int | None = None
    failed_retention: timedelta | None = None


@pickled_as_tuple
@dataclass(frozen=True, kw_only=True, slots=True)
class JobSpec:
    """One validated job queue entry definition, as read from its file."""

    id: str
    object_id: int | str
    source: str = ""
    description: str = ""
    object_type: str = "codeunit"
    parameter_string: str = ""
    status: DesiredStatus = DesiredStatus.READY
    user: str | None = None
    timezone: str = "UTC"
    earliest_start: datetime | None = None
    expiration: datetime | None = None
    recurrence: Recurrence | None = None
    max_retries: int = 0
    rerun_delay: timedelta = timedelta(0)
    category: str | None = None
    priority: Priority = Priority.NORMAL
    timeout: timedelta = timedelta(hours=12)
    inactivity_timeout: timedelta = timedelta(minutes=5)
    manual_recurrence: bool = False
    failure_handler: int | str | None = None
    on_final_failure: FinalFailure = FinalFailure.ERROR
    environment: dict[str, str] = field(default_factory=dict, hash=False)
    """Variables set in every session of the entry, over the session's own environment."""
    session_mode: str | None = None
    """pool or fork: where the entry's sessions run; None: as the config says."""
    history: History | None = None
    report_output: str | None = None
    """A report's format (csv, xlsx, pdf, none); None: the entry is not a report."""
    report_parameters: dict[str, Any] = field(default_factory=dict, hash=False)
    """A report's saved request-page options, handed to it as `ctx.report_parameters`."""
    digest: str = ""
    definition: str = field(default="", compare=False, repr=False)
    """The file's mapping as canonical JSON: what the store keeps and the digest hashes."""
    stamp: str = field(default="", compare=False)
    """The file's identity when it was read (inode, size, mtime, ctime): an unchanged
    stamp means an unchanged file, so a rescan need not read it."""
    revision: str | None = field(default=None, compare=False)
    """The revision of the checkout the file was read from (`revision`; None: it had
    none): what the store shows as the revision that wrote the definition."""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def recurring(self) -> bool:
        return self.recurrence is not None


@pickled_as_tuple
@dataclass(frozen=True, kw_only=True, slots=True)
class Problem:
    """One located problem in an input file: what a person needs to fix it. `column`
    (from 1) only where the reader knows it: a YAML syntax error."""

    file: str
    line: int
    path: str
    message: str
    column: int | None = None

    def format(self) -> str:
        """`file:line: path: message`; `file:line:column: path: message` with a column
        (as compilers and editors read it)."""
        where = f"{self.line}" if self.column is None else f"{self.line}:{self.column}"
        return f"{self.file}:{where}: {self.path}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "column": self.column,
        }


class LogStatus(enum.Enum):
    """Job Queue Log Entry status."""

    SUCCESS = "success"
    IN_PROCESS = "in_process"
    ERROR = "error"


class ClientType(enum.Enum):
    BACKGROUND = "background"
    FOREGROUND = "foreground"


@dataclass(frozen=True, kw_only=True, slots=True)
class Trigger:
    """A run asked for now (`jobrunner trigger`), outside the entry's schedule: who asked,
    when, and the status and next run the entry had, which it goes back to after."""

    by: str
    at: datetime
    status: EntryStatus
    next_run: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Pause:
    """No new runs start (`jobrunner pause`): of every entry and task (`category` None),
    or of one category's entries."""

    category: str | None
    by: str
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """A job queue entry as the store keeps it: the definition plus runtime state.

    `version` is the stored row's version when read (0 for a new entry); a store writes
    an entry only when the stored version still matches (compare-and-set).
    """

    spec: JobSpec
    status: EntryStatus
    earliest_start: datetime | None = None
    attempts: int = 0
    error_message: str = ""
    error_call_stack: str = ""
    last_ready_state: datetime | None = None
    session_id: str | None = None
    session_pid: int | None = None
    session_started: float | None = None
    runner_id: str | None = None
    system_task_id: str | None = None
    rejected: str = ""
    remove_after_run: bool = False
    session_retries: int = 0
    last_run_at: datetime | None = None
    last_result: str | None = None
    trigger: Trigger | None = None
    """A run asked for now; kept until that run (and its retries) end."""
    cancel: str = ""
    """Who asked to end the run in process (`jobrunner cancel`); empty: nobody."""
    entry_no: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True, kw_only=True, slots=True)
class LogEntry:
    """One run of an entry (Job Queue Log Entry); `entry_no` is assigned by the store."""

    entry_id: str
    start_at: datetime
    status: LogStatus = LogStatus.IN_PROCESS
    end_at: datetime | None = None
    user: str = ""
    object_type: str = "codeunit"
    object_id: str = ""
    parameter_string: str = ""
    description: str = ""
    category: str = ""
    error_message: str = ""
    error_call_stack: str = ""
    session_id: str = ""
    attempt: int = 0
    system_task_id: str = ""
    output: str = ""
    client_type: ClientType = ClientType.BACKGROUND
    entry_no: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionEvent:
    """A session's logon or logoff."""

    session_id: str
    event: str  # "logon" | "logoff"
    at: datetime
    user: str = ""
    runner_id: str = ""
    client_type: ClientType = ClientType.BACKGROUND
    entry_id: str = ""
    pid: int | None = None
    comment: str = ""
    seq: int = 0


class Phase(enum.StrEnum):
    """What a task's session runs: its object, or its failure object with the error."""

    MAIN = "main"
    FAILURE = "failure"


@dataclass(frozen=True, kw_only=True, slots=True)
class Task:
    """A platform task (Task Scheduler): an object to run in a background session."""

    id: str
    object: str
    failure_object: str | None = None
    ready: bool = True
    not_before: datetime | None = None
    entry_id: str | None = None
    timeout: timedelta | None = None
    parameter: str = ""
    user: str = ""
    attempts: int = 0
    created_at: datetime | None = None
    phase: Phase = Phase.MAIN
    """main: the object runs; failure: the failure object runs with the error."""
    session_id: str | None = None
    """Set while a session runs the task (a running task cannot be cancelled)."""
    runner_id: str | None = None
    """The runner of that session (with a store several share: who recovers it)."""
    version: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Node:
    """A runner entered in a store shared by several (`jobrunner nodes`): alive while
    its lease, renewed on the store server's clock, has not lapsed."""

    runner_id: str
    host: str
    pid: int
    version: str
    state_dir: str
    started_at: datetime | None = None
    lease_until: datetime | None = None
    alive: bool = True
    revision: str | None = None
    """The revision of the runner's checkout of the job files (None: it has none)."""
    unheld: tuple[str, ...] = ()
    """Entries due that the runner does not start: its checkout does not hold the
    definition the store has (mid-deploy), by id."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RevisionMove:
    """A compare-and-set of the store's revision (`Store.revision`): from `expected`
    (None: the store has none) to `to`; a transition that holds one conflicts when the
    store's revision is no longer `expected`."""

    expected: str | None
    to: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Transition:
    """Everything one state transition writes; a store applies it in one transaction.

    `put` entries are written when their `version` matches the stored one (0: must not
    exist); `delete` holds (id, expected version). Log entries in `log_insert` get new
    numbers; `log_update` rewrites rows by `entry_no`.
    """

    reason: str
    put: tuple[Entry, ...] = ()
    delete: tuple[tuple[str, int], ...] = ()
    log_insert: tuple[LogEntry, ...] = ()
    log_update: tuple[LogEntry, ...] = ()
    events: tuple[SessionEvent, ...] = ()
    task_put: tuple[Task, ...] = ()
    task_delete: tuple[tuple[str, int], ...] = ()
    pause_put: tuple[Pause, ...] = ()
    pause_delete: tuple[str | None, ...] = ()
    """Categories (None: the whole runner) no longer paused."""
    revision: RevisionMove | None = None
    """The revision of the job files a reconcile stored its definitions from."""


def merge(reason: str, transitions: list[Transition]) -> Transition:
    """Several transitions of distinct rows as one (one transaction, one fsync). The log
    numbers a store returns follow the order of the transitions' `log_insert`s."""
    return Transition(
        reason=reason,
        put=tuple(e for t in transitions for e in t.put),
        delete=tuple(d for t in transitions for d in t.delete),
        log_insert=tuple(g for t in transitions for g in t.log_insert),
        log_update=tuple(g for t in transitions for g in t.log_update),
        events=tuple(e for t in transitions for e in t.events),
        task_put=tuple(k for t in transitions for k in t.task_put),
        task_delete=tuple(k for t in transitions for k in t.task_delete),
        pause_put=tuple(p for t in transitions for p in t.pause_put),
        pause_delete=tuple(p for t in transitions for p in t.pause_delete),
        revision=next((t.revision for t in transitions if t.revision is not None), None),
    )


class Cause(enum.StrEnum):
    """Why a run failed (logged and shown by its value; NONE: it did not fail)."""

    NONE = ""
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    SIGNAL = "signal"
    EXIT = "exit"
    START = "start"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """How a session ended: `cause` says why a failure failed; `retriable` failures are
    re-run on the platform retry profile. `items`: the session may still hold work
    items (False only when its result says it opened no queue)."""

    ok: bool
    no_activity: bool = False
    message: str = ""
    stack: str = ""
    exception: tuple[str, ...] = ()
    cause: Cause = Cause.NONE
    retriable: bool = False
    output: str = ""
    items: bool = True
