"""A runner's membership of a cluster: several runners sharing one store (PostgreSQL).

No leader: each runner enters itself in the store's nodes table and renews its lease on
the store server's clock from a thread of its own (a loop busy with a long reconcile
still renews). Each SWEEP every runner claims the runners whose lease lapsed (one
statement: each dead runner goes to one claimer) and recovers their runs, each recovery
a compare-and-set on the run's entry or task, so a run that ended meanwhile is never
written over. A runner claims nobody until its own renewals have gone through for a
whole LEASE: after an outage of the store every runner gets the time to renew before any
counts another as dead. A runner whose row was claimed (it was frozen or cut off for
longer than its lease) is `fenced`: its runs have gone to the others, so it ends the
sessions it still has and enters itself again.

Imports the Store protocol and the model only; the runner logs what this decides.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from jobrunner import __version__, clock, model
from jobrunner.store import SharedStore, StoreUnwritable

Wake = Callable[[], None]

LEASE = timedelta(seconds=3)
"""How long a runner counts as alive after its last renewal; with RENEW and SWEEP it
bounds failover: a dead runner's runs are recovered within LEASE + SWEEP (4 s)."""
RENEW = 1.0  # seconds between renewals
SWEEP = 1.0  # seconds between looks for dead runners


class Membership:
    def __init__(self, store: SharedStore, runner_id: str, state_dir: str) -> None:
        self.store, self.runner_id = store, runner_id
        self.node = model.Node(
            runner_id=runner_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            state_dir=state_dir,
        )
        self._stop = threading.Event()
        self._fenced = threading.Event()
        self._steady_since: float | None = None  # start of the unbroken renewals
        self._renewed = 0.0  # the last renewal that went through (monotonic)
        self._thread: threading.Thread | None = None
        self._sweep_at = 0.0
        self.before: set[str] = set()  # this host's runners before, in this state folder

    def join(self) -> None:
        """Enter the store's nodes and start renewing."""
        self.before = set(self.store.register_node(self.node, LEASE))
        self._steady_since = self._renewed = time.monotonic()
        self._thread = threading.Thread(target=self._renew, name="node-lease", daemon=True)
        self._thread.start()

    def leave(self) -> None:
        """Stop renewing and end the lease now (a clean stop: nothing to recover)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=RENEW * 3)
        with contextlib.suppress(StoreUnwritable):  # (else its lease lapses by itself)
            self.store.leave_node(self.runner_id)

    def _renew(self) -> None:
        while not self._stop.wait(RENEW):
            asked = time.monotonic()
            try:
                kept = self.store.renew_node(self.runner_id, LEASE)
            except StoreUnwritable:  # (the runner's own commits say the store is out)
                self._steady_since = None
                continue
            if not kept:
                self._fenced.set()
                continue
            self._renewed = asked
            if self._steady_since is None:
                self._steady_since = asked

    def may_start(self, mono: float) -> bool:
        """Whether this runner may start runs: its lease surely holds (renewed within
        the last LEASE - RENEW by its own clock, which a freeze does not stop), and it
        was not fenced out."""
        fresh = mono - self._renewed < LEASE.total_seconds() - RENEW
        return fresh and not self._fenced.is_set()

    def fenced(self) -> bool:
        """Whether this runner's lease lapsed since it last entered itself."""
        return self._fenced.is_set()

    def rejoin(self) -> None:
        """Enter itself again once the sessions of the runs it lost are ended."""
        self.store.register_node(self.node, LEASE)
        self._steady_since = self._renewed = time.monotonic()
        self._fenced.clear()

    def sweep_due(self, mono: float) -> bool:
        if mono < self._sweep_at:
            return False
        self._sweep_at = mono + SWEEP
        return True

    def sweep_in(self, mono: float) -> float:
        return max(0.0, self._sweep_at - mono)

    def dead(self, *, starting: bool = False) -> set[str]:
        """The runners whose runs this one is to recover: those it claimed as dead (once
        its own renewals are steady), those not entered at all, and (`starting`) the
        runners before it in its state folder."""
        found = self.store.orphan_owners()
        steady = self._steady_since
        if steady is not None and time.monotonic() - steady >= LEASE.total_seconds():
            found |= self.store.claim_dead(self.runner_id)
        if starting:
            found |= self.before
        found.discard(self.runner_id)
        return found


def orphaned(entries: Iterable[model.Entry], dead: set[str]) -> list[model.Entry]:
    """The entries in process of these (dead) runners."""
    return [e for e in entries if e.status is model.EntryStatus.IN_PROCESS and e.runner_id in dead]


class ServerClock:
    """The runner's clock with a store shared by several runners: the wall time of the
    store's server (one clock decides due times and leases for every runner), kept as
    this host's time plus the offset measured at each `resync`; durations and sleeps
    stay this host's (monotonic)."""

    def __init__(self, store: SharedStore, local: clock.Clock | None = None) -> None:
        self.store, self.local = store, local or clock.SystemClock()
        self.offset = timedelta(0)
        self.resync()

    def resync(self) -> None:
        """Measure the server's time against this host's (half the round trip counted
        on each side); kept as it was when the store cannot be read."""
        before = self.local.now()
        try:
            server = self.store.server_now()
        except StoreUnwritable:
            return
        after = self.local.now()
        self.offset = server - (before + (after - before) / 2)

    def now(self) -> datetime:
        return self.local.now() + self.offset

    def monotonic(self) -> float:
        return self.local.monotonic()

    def sleep(self, seconds: float) -> None:
        self.local.sleep(seconds)
