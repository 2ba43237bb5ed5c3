"""What the web process reads from: one long-lived reading store (opened through
`store.open`, reopened once a runner has made the state), and whether a runner is up,
seen without disturbing it. A local store: the kernel's table of file locks says
whether someone holds the runner's lock (`lock.RunnerLock`, flock), and the lock file's
change time says since when (the runner writes its pid into it when it takes it). A
store shared by several runners (PostgreSQL): the runners entered in it whose leases
hold, and its commits heard through the store's own channel (`Store.watch`), since no
file in this host's state folder changes when a runner elsewhere commits."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jobrunner import config, errors, lock, model, store, telemetry
from jobrunner.store import SharedStore
from jobrunner.store import open as store_open

PROC_LOCKS = Path("/proc/locks")


@dataclass(frozen=True, kw_only=True, slots=True)
class RunnerState:
    up: bool
    pid: int | None = None
    since: datetime | None = None
    """The runner's pid and start (of a shared store: the longest-running runner's)."""
    count: int = 0
    """The runners up (a local store: 0 or 1)."""
    host: str | None = None
    """Of a shared store: the host of the longest-running runner."""
    shared: bool = False
    """The store is shared by several runners (PostgreSQL)."""


def runner_state(state_dir: Path, locks: Path = PROC_LOCKS) -> RunnerState:
    """Whether a runner holds `state_dir`'s lock, its pid and when it took it."""
    path = state_dir / lock.FILE_NAME
    try:
        info = path.stat()
        table = locks.read_text()
    except OSError:
        return RunnerState(up=False)
    pid = holder(table, os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
    if pid is None:
        return RunnerState(up=False)
    since = datetime.fromtimestamp(info.st_mtime, UTC)
    return RunnerState(up=True, pid=pid, since=since, count=1)


def cluster_state(nodes: list[model.Node]) -> RunnerState:
    """The runners of a shared store whose leases hold (`nodes()` lists them oldest first)."""
    alive = [n for n in nodes if n.alive]
    if not alive:
        return RunnerState(up=False, shared=True)
    first = alive[0]
    return RunnerState(
        up=True,
        pid=first.pid,
        since=first.started_at,
        count=len(alive),
        host=first.host,
        shared=True,
    )


def holder(table: str, major: int, minor: int, inode: int) -> int | None:
    """The pid holding an exclusive flock on the file, from /proc/locks' text
    (`1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`)."""
    wanted = f"{major:02x}:{minor:02x}:{inode}"
    for line in table.splitlines():
        fields = line.split()
        if fields[1:2] == ["->"]:  # a waiter, not a holder
            continue
        if len(fields) >= 6 and fields[1:4:2] == ["FLOCK", "WRITE"] and fields[5] == wanted:
            return int(fields[4])
    return None


class Source:
    """The store, shared by every request (the SQLite store serialises its calls
    itself)."""

    def __init__(self, cfg: config.Config) -> None:
        self.cfg = cfg
        self._lock = threading.Lock()
        self._db: store.Store | None = None
        self._real = False
        self.version = 0  # bumped at each change of the store (`touch`)
        self._entries: tuple[int, list[model.Entry]] | None = None
        self._states: tuple[int, list[store.EntryState]] | None = None
        self._heard: Callable[[], None] = self.touch

    def follow(self, heard: Callable[[], None]) -> None:
        """Call `heard` (from another thread) at each commit the shared store announces;
        a local store's commits are seen in its folder instead (`live.Changes`)."""
        self._heard = heard

    def reader(self) -> store.Store:
        with self._lock:
            if self._db is None or (not self._real and store_open.has_state(self.cfg)):
                if self._db is not None:
                    self._db.close()
                self._real = store_open.has_state(self.cfg)
                self._db = store_open.open_for_reading(self.cfg)
                if isinstance(self._db, SharedStore):
                    self._db.watch(self._heard, self._unheard)
                self.touch()
            return self._db

    def touch(self) -> None:
        """The store changed (the watcher saw a commit, or this process made one)."""
        self.version += 1

    def entries(self) -> list[model.Entry]:
        """`list_entries()`, read again only after a change: building 10,000 entries
        takes the store a third of a second, and most pages and scrapes come while
        nothing changed. The list is shared: never change it."""
        seen = self.version  # before the read: a change during it reads again next time
        cached = self._entries
        if cached is not None and cached[0] == seen:
            return cached[1]
        found = self.reader().list_entries()
        self._entries = (seen, found)
        return found

    def states(self) -> list[store.EntryState]:
        """`entry_states()` (what counts and gauges need, no definition built), read
        again only after a change, as `entries`. Shared: never change it."""
        seen = self.version
        cached = self._states
        if cached is not None and cached[0] == seen:
            return cached[1]
        found = self.reader().entry_states()
        self._states = (seen, found)
        return found

    @property
    def has_state(self) -> bool:
        self.reader()
        return self._real

    def writer(self) -> store.Store:
        """The store for a change: the reading one, once a runner has made the state
        (as `store.open.open_existing` requires). One store per process: opening a
        second SQLite store here would open and close a descriptor of its file, which
        drops the POSIX locks the first one holds on it, and another process could then
        checkpoint and reset the WAL under it."""
        if not self.has_state:
            raise errors.JobRunnerError(
                f"no state in {self.cfg.state_dir} yet: start the runner once (jobrunner run)"
            )
        return self.reader()

    def _unheard(self, error: str) -> None:
        telemetry.get_logger().warning("store_listener_lost", error=error)

    def runner(self) -> RunnerState:
        db = self.reader()
        if isinstance(db, SharedStore):
            return cluster_state(db.nodes())
        return runner_state(self.cfg.state_dir)

    def nodes(self) -> list[tuple[model.Node, int]]:
        """The runners entered in a shared store (oldest first), each with its sessions
        running; none for a local store."""
        db = self.reader()
        if not isinstance(db, SharedStore):
            return []
        return [(n, len(db.open_sessions([n.runner_id]))) for n in db.nodes()]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
