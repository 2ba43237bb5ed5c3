"""The runner's side of a store shared with other runners (PostgreSQL; see cluster.py):
its membership (lease, fencing), the categories busy on other runners, the wake when
another runner commits, and each SWEEP the recovery of dead runners' runs, the
runner's own duties of the sweep (`on_sweep`: its checkout, runner/holding.py) and the
activation of waiting entries whose category nobody runs. A runner whose store is not
shared has no Peers: nothing here runs for it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from jobrunner import cluster, control, model, scheduler
from jobrunner.runner.recovery import Recovery
from jobrunner.runner.shared import Shared, dims
from jobrunner.store import SharedStore, StoreConflict


def _nothing() -> None:
    pass


class Peers:
    def __init__(
        self, shared: Shared, store: SharedStore, recovery: Recovery, clock: object
    ) -> None:
        """`clock`: the runner's; a ServerClock is kept in step with the server's."""
        self.shared, self.store, self.recovery = shared, store, recovery
        self.clock = clock if isinstance(clock, cluster.ServerClock) else None
        self.membership = cluster.Membership(store, shared.runner_id, str(shared.cfg.state_dir))
        self._changed = threading.Event()  # another runner committed (the listener's word)
        self._lost: list[str] = []  # the listener's errors, logged by the loop
        self._lock = threading.Lock()
        self.on_sweep: Callable[[], None] = _nothing  # the runner's part of each sweep
        self._described: tuple[str | None, tuple[str, ...]] | None = None

    def join(self, wake: cluster.Wake) -> None:
        """Enter the cluster; from now on `wake` is called when another runner commits."""
        self.membership.join()

        def changed() -> None:
            self._changed.set()
            wake()

        def lost(error: str) -> None:
            with self._lock:
                self._lost.append(error)
            wake()

        self.store.watch(changed, lost)

    def leave(self) -> None:
        self.membership.leave()

    def describe(self, revision: str | None, unheld: set[str]) -> None:
        """Publish this runner's checkout revision and the entries it leaves to others
        (`jobrunner nodes`, `show`) when they changed since last published."""
        described = (revision, tuple(sorted(unheld)))
        if described != self._described:
            self.store.describe_node(self.shared.runner_id, *described)
            self._described = described

    def busy(self, ending: str | None = None) -> set[str]:
        """The categories with a run in process on any runner (but the entry `ending`)."""
        held = self.store.running_categories()
        return {category for category, entry_id in held.items() if entry_id != ending}

    def may_start(self, mono: float) -> bool:
        return self.membership.may_start(mono)

    def sweep_in(self, mono: float) -> float:
        return self.membership.sweep_in(mono)

    def recover_at_start(self, now: datetime, mono: float) -> None:
        """The runs of the runners before this one in its folder, and of any runner not
        entered (the sessions of those of this folder are ended as a single runner's)."""
        m = self.membership
        self.recovery.recover(now, mono, dead=m.dead(starting=True), local=m.before)

    def changed(self) -> bool:
        """Whether another runner committed since last asked (read the requests)."""
        with self._lock:
            lost, self._lost = self._lost, []
        for error in lost:
            self.shared.log.warning("store_listener_lost", error=error)
        found = self._changed.is_set()
        self._changed.clear()
        return found

    def duties(self, now: datetime, mono: float, fence_out: Callable[[], None]) -> bool:
        """A pass's part: when this runner's lease was taken (it was frozen or cut off;
        its runs may have been recovered elsewhere), `fence_out` ends its sessions (their
        ends are committed only where no other runner recorded those runs) and it enters
        again; then `sweep`. Whether another runner committed (read the requests)."""
        changed = self.changed()
        if self.membership.fenced():
            fence_out()
            self.membership.rejoin()
            self._described = None  # its row was made again: publish again
        self.sweep(now, mono)
        return changed

    def sweep(self, now: datetime, mono: float) -> None:
        """Each SWEEP: recover the runs of the runners this one claims as dead, and
        activate the waiting entries of categories nobody runs."""
        if not self.membership.sweep_due(mono):
            return
        if self.clock is not None:
            self.clock.resync()
        dead = self.membership.dead()
        if dead:
            self.shared.log.warning("runners_dead", runners=sorted(dead))
            self.recovery.recover(now, mono, dead=dead, local=set(), starting=False)
        self.on_sweep()
        self._activate_stranded(now)

    def _activate_stranded(self, now: datetime) -> None:
        """A runner that ended a category's run may have read its waiting entries just
        before another runner made one wait: such an entry is activated here, in BC's
        order (priority, then first come)."""
        busy = self.busy() | control.paused_categories(self.shared.paused)
        waiting = self.store.list_entries(status=model.EntryStatus.WAITING)
        for category in sorted({e.spec.category for e in waiting if e.spec.category} - busy):
            activated, expired = scheduler.activation(self.store.waiting_entries(category), now)
            puts = (*expired, activated) if activated else tuple(expired)
            if not puts:
                continue
            try:
                self.store.commit(model.Transition(reason="activated", put=puts))
            except StoreConflict:
                continue  # another runner did it, or the entries moved on
            if activated is not None:
                self.shared.log.info("waiting_activated", **dims(activated))
