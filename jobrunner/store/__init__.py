"""The Store protocol: the runner's durable memory, documented once here.

Implementations: `memory.MemoryStore` (the reference, for unit tests),
`sqlite.SqliteStore` (the default: one SQLite file) and `postgres.PostgresStore` (one
PostgreSQL database that several runners share: a `SharedStore`), the last two built on
`sql`, what every SQL store shares (named statements, rows by column name, migrations,
the commit); see `sql`'s docstring for how another database plugs in. `open` is the only place that
names a file (or a connection string); `codec` turns stored definitions back into
specs; `entrytask` is the rule by which an entry's task follows it. The contract suite
in tests/contract/ runs against every store. No verb relies on being the only process:
every write is a `Transition` applied atomically with compare-and-set on entry and
task versions, so a store shared by several runners (PostgreSQL) can satisfy it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol, runtime_checkable

from jobrunner import errors, model


class StoreConflict(errors.JobRunnerError):
    """A transition expected a version that is no longer stored; nothing was written."""


class StoreUnwritable(errors.JobRunnerError, OSError):
    """The store cannot be written now (disk full, read-only, I/O error); nothing was
    written, and the same commit may succeed later."""


class StoreLost(errors.JobRunnerError):
    """The store this process opened is gone (SQLite: its file was deleted, or another
    file put in its place): what it writes from then on is lost to everyone else."""


class Source(NamedTuple):
    """What a rescan needs of the entry a job file defines (`Store.sources`)."""

    stamp: str
    entry_id: str
    digest: str


@dataclass(frozen=True, kw_only=True, slots=True)
class EntryState:
    """What the dashboard's counts and gauges need of one entry, without its definition
    (`Store.entry_states`)."""

    id: str
    status: model.EntryStatus
    category: str | None
    earliest_start: datetime | None
    rejected: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class LogStats:
    """Log entries of one entry and status taken together (`Store.log_stats`): how many,
    the highest number among them, the latest end, and of those that ended: how many,
    the sum of their durations and how many took at most each of the bounds asked for."""

    entry_id: str
    status: model.LogStatus
    count: int
    last_no: int
    last_end: datetime | None
    ended: int
    took: timedelta
    within: tuple[int, ...]


class Store(Protocol):
    @property
    def where(self) -> str:
        """Where the store is, for messages (a file's path; a database's host, never
        its password)."""
        ...

    def commit(self, transition: model.Transition, *, durable: bool = True) -> list[int]:
        """Apply every write of `transition` in one transaction, or none of them.

        Raises StoreConflict when an entry or task's expected version does not match
        (another writer got there first), or the store's revision is not the one its
        `revision` move expects, StoreUnwritable when it cannot be written now
        (the disk is full, say). Returns the numbers given to `log_insert`
        rows, in order. Each written entry and task is stored with version + 1.
        With `durable=False` the transaction is still atomic and consistent, but the
        store may make it durable only with a later durable commit (for records that a
        crash may lose, such as a session's logon; PostgreSQL: synchronous_commit off).
        """
        ...

    def sync(self) -> None:
        """Make every commit so far durable (group commit: several `durable=False`
        commits, then one sync; SQLite: an fsync of the WAL, as synchronous=FULL does at
        each commit). Raises StoreUnwritable when that fails; sync again later."""
        ...

    def get_entry(self, entry_id: str) -> model.Entry | None:
        """The entry with this id, or None."""
        ...

    def list_entries(
        self,
        *,
        status: model.EntryStatus | None = None,
        category: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[model.Entry]:
        """Entries (optionally of one status / category), ordered by id; of those, at most
        `limit` after the first `offset`."""
        ...

    def entries_by_source(self, sources: Iterable[str]) -> list[model.Entry]:
        """Entries defined by these job files (their `spec.source`)."""
        ...

    def entries_by_id(self, entry_ids: Iterable[str]) -> dict[str, model.Entry]:
        """The entries of these ids that exist, by id (one read: `get_entry` of many)."""
        ...

    def entry_states(self) -> list[EntryState]:
        """Every entry's state (no definition is built), ordered by id."""
        ...

    def entry_histories(self) -> dict[str, model.History | None]:
        """Every entry's own history limits (its file's `history:`; None when it sets
        none), by id, without building definitions (what log pruning needs of every
        entry)."""
        ...

    def running_sessions(self) -> set[str]:
        """The sessions entries and tasks are recorded running in (their session ids)."""
        ...

    def sources(self) -> dict[str, Source]:
        """Job file -> the stamp of the file its entry was last read from, and the
        entry's id and digest (cheap: from an index, no definitions are built), so a
        rescan reads only files that changed, and a runner knows which definitions its
        own unchanged files hold."""
        ...

    def revision(self) -> str | None:
        """The revision of the job files the store's definitions were last reconciled
        from (`Transition.revision`; None: never one). Each entry's definition keeps the
        revision of the checkout that wrote it (`JobSpec.revision`)."""
        ...

    def waiting_entries(self, category: str) -> list[model.Entry]:
        """Waiting entries of a category in activation order: priority, then FIFO."""
        ...

    def get_log(self, entry_no: int) -> model.LogEntry | None:
        """One log entry by its number."""
        ...

    def list_log(
        self,
        *,
        entry_id: str | None = None,
        status: model.LogStatus | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[model.LogEntry]:
        """Log entries, newest first (by entry number)."""
        ...

    def list_sessions(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> list[model.SessionEvent]:
        """Session events, newest first."""
        ...

    def get_task(self, task_id: str) -> model.Task | None:
        """One task by id."""
        ...

    def list_tasks(self) -> list[model.Task]:
        """All tasks, oldest first. The store keeps, for each entry with a run pending or
        in process, the task that backs it (`lifecycle.platform_task`: id = the entry's
        System Task ID, object `lifecycle.DISPATCH`) in step with every write of the
        entry, and removes it with the entry."""
        ...

    def due_tasks(self, now: datetime, limit: int) -> list[model.Task]:
        """Up to `limit` tasks that may start at `now`: ready, not running, not before
        `now`; ordered by not-before, then (for an entry's task) the entry's priority and
        number, then creation."""
        ...

    def next_task_due(self) -> datetime | None:
        """The earliest not-before among ready tasks that are not running."""
        ...

    def pauses(self) -> list[model.Pause]:
        """What is paused (`Transition.pause_put`, lifted by `pause_delete`): the whole
        runner (category None) and categories, the whole runner first, then by
        category. A pause of a category already paused replaces it."""
        ...

    def prune(self, before: datetime, *, failed_before: datetime | None = None) -> int:
        """Delete log entries that ended and session events that happened before
        `before` (failed log entries: before `failed_before` when given); never an
        in-process log entry. Returns how many rows went."""
        ...

    def trim_log(
        self,
        entry_id: str,
        status: model.LogStatus,
        *,
        keep: int | None = None,
        before: datetime | None = None,
    ) -> int:
        """Delete the entry's ended log entries of `status` (success or error) beyond the
        newest `keep` of them (by number) or that ended before `before`; never an
        in-process one. Returns how many went."""
        ...

    def log_stats(self, *, after: int = 0, bounds: Sequence[timedelta] = ()) -> list[LogStats]:
        """The log entries numbered above `after`, taken together by entry id and status
        (in no order), each in-process one on its own (its `last_no` is its number); the
        `within` counts are for each of `bounds` in turn (a duration is within a bound
        when it is at most the bound)."""
        ...

    def log_ends(self) -> dict[tuple[str, model.LogStatus], datetime]:
        """For each entry id and ended status (success, error) with a log entry: the
        earliest end among them (when the oldest of them reaches a retention)."""
        ...

    def probe(self) -> None:
        """Raise StoreUnwritable unless a write can be committed now (nothing changes)."""
        ...

    def check_alive(self) -> None:
        """Raise StoreLost when the store this object opened is gone (cheap: called
        before each group commit)."""
        ...

    def upkeep(self) -> bool:
        """Housekeeping that may take a while, safe from another thread while commits go
        on (SQLite: a passive WAL checkpoint). Whether it did any."""
        ...

    def close(self) -> None:
        """Release the store's resources."""
        ...


@runtime_checkable
class SharedStore(Store, Protocol):
    """A store several runners share (PostgreSQL): besides the Store verbs, the runners'
    leases (on the store server's clock), and a wake when another runner commits. The
    SQLite file keeps its one runner (the state folder's lock) and is not one."""

    def register_node(self, node: model.Node, lease: timedelta) -> list[str]:
        """Enter a runner, its lease ending `lease` after the server's now. Returns the
        ids of the runners that ran before it on its host in its state folder (they are
        gone: their leases end now)."""
        ...

    def renew_node(self, runner_id: str, lease: timedelta) -> bool:
        """Extend the runner's lease from the server's now (also one that lapsed, while no
        other runner has claimed it); False when another runner claimed it as dead (and
        took its runs): the runner must end its sessions and enter itself again."""
        ...

    def server_now(self) -> datetime:
        """The store server's wall time (aware UTC): the one clock of the runners."""
        ...

    def nodes(self) -> list[model.Node]:
        """Every runner entered, oldest first, `alive` as the server's clock says."""
        ...

    def claim_dead(self, runner_id: str) -> set[str]:
        """Remove the runners (not `runner_id`) whose leases have lapsed, in one statement:
        the runner that gets them recovers their runs; any other gets none of them."""
        ...

    def orphan_owners(self) -> set[str]:
        """The runners with an entry in process that are not entered (a claimer that died
        before it recovered their runs; a store from a single runner's file)."""
        ...

    def describe_node(self, runner_id: str, revision: str | None, unheld: Sequence[str]) -> None:
        """Record the runner's checkout of the job files: its revision, and the entries
        it found due whose stored definitions it does not hold (by id), as `nodes`
        returns them (a runner not entered: nothing)."""
        ...

    def leave_node(self, runner_id: str) -> None:
        """Remove a runner that stops cleanly (nothing of it to recover)."""
        ...

    def open_sessions(self, runner_ids: Iterable[str]) -> list[model.SessionEvent]:
        """The logons of these runners' background sessions with no logoff yet."""
        ...

    def running_categories(self) -> dict[str, str]:
        """Category -> the id of its entry in process, on any runner."""
        ...

    def watch(self, wake: Callable[[], None], lost: Callable[[str], None]) -> None:
        """From now on call `wake` (from another thread) when another store commits, and
        once after the listener reconnects; `lost` with the error when it drops."""
        ...
