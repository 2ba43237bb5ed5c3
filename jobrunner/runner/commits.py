"""Committing what a loop pass planned: `Step` (a planned transition and what follows
it), the group commit (many steps made durable by one fsync in the sync thread), and a
store that cannot be written (what is held, the retry with its doubling delay).

Imports the Store protocol, the model and the syncer; it does not read the clock (every
method that needs the time takes `mono`, a monotonic reading in seconds)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobrunner import model
from jobrunner.store import Store, StoreConflict, StoreUnwritable
from jobrunner.syncer import Syncer, SyncFailed

GROUP_MAX = 64  # durable steps committed before one fsync makes them all durable
GROUP_WINDOW = 0.01  # seconds the oldest of them may wait for it
RETRY_FIRST, RETRY_MAX = 0.1, 30.0  # seconds between tries to write a store that failed


@dataclass(frozen=True, slots=True)
class Step:
    """A planned state transition, what to do once it is committed (given the numbers of
    its new log entries), and how to plan it again from fresh reads after a conflict."""

    transition: model.Transition
    then: Callable[[list[int]], None]
    redo: Callable[[], Step] | None = None
    durable: bool = True  # False: `then` at once; its durability comes with the next sync
    replanned: bool = False  # True: not kept when it cannot be committed (planned again)


class NotCommitted(Exception):
    """The store could not be written: `steps` are not committed."""

    def __init__(self, steps: list[Step], error: StoreUnwritable) -> None:
        super().__init__(str(error))
        self.steps, self.error = steps, error


Committed = tuple[Step, list[int]]


class GroupCommit:
    """`announce` is called when the store becomes unwritable or writable again."""

    def __init__(
        self, store: Store, log: Any, wake: Callable[[], None], announce: Callable[[], None]
    ) -> None:
        self.store, self.log, self.announce = store, log, announce
        self.syncer: Syncer[Committed] = Syncer(store.sync, wake, after=store.upkeep)
        self.unsynced: list[Committed] = []  # committed, not yet durable
        self.unsynced_since_mono = 0.0
        # while the store cannot be written: the steps not committed (ends whose outcome
        # is only here), those committed but not known to be durable, and the next try
        self.held: list[Step] = []
        self.held_synced: list[Committed] = []
        self.retry_at_mono: float | None = None
        self.retry_delay = RETRY_FIRST
        self.wrote = True  # a commit succeeded since the store could last be written again
        self.error = ""

    @property
    def unwritable(self) -> bool:
        return self.retry_at_mono is not None

    def close(self) -> None:
        self.syncer.close()

    def commit(self, reason: str, steps: list[Step], mono: float) -> None:
        """Commit the steps of one loop pass in one transaction without waiting for the
        disk. What the starts and logons do follows at once (their sessions begin); the
        ends and decisions are made durable by a group commit (see `flush`) before what
        they do is carried out. A conflict (another process changed a row in between)
        commits them one by one, each planned again from fresh reads. While the store
        cannot be written they are held (see `hold`)."""
        if self.unwritable:
            self.hold(steps)
            return
        try:
            self._commit_group(reason, steps, mono)
        except NotCommitted as failed:
            self.store_failed(failed.error, mono)
            self.hold(failed.steps)
            return
        self.wrote = self.wrote or bool(steps)
        self.flush(mono)

    def _commit_group(self, reason: str, steps: list[Step], mono: float) -> None:
        """Raises NotCommitted with the steps not committed when the store cannot be
        written (those before them are committed and carried out)."""
        if not steps:
            return
        self.store.check_alive()  # never a run into a file nobody else sees
        try:
            numbers = self.store.commit(
                model.merge(reason, [s.transition for s in steps]), durable=False
            )
        except StoreConflict:
            for at, step in enumerate(steps):
                try:
                    self._commit_alone(step, mono)
                except StoreUnwritable as exc:
                    raise NotCommitted(steps[at:], exc) from None
            return
        except StoreUnwritable as exc:
            raise NotCommitted(steps, exc) from None
        at = 0
        for step in steps:
            count = len(step.transition.log_insert)
            self._committed(step, numbers[at : at + count], mono)
            at += count

    def _commit_alone(self, step: Step, mono: float) -> None:
        try:
            numbers = self.store.commit(step.transition, durable=False)
        except StoreConflict:
            if step.redo is None:
                return  # planned on stale reads; the next pass reads afresh
            step = step.redo()
            numbers = self.store.commit(step.transition, durable=False)
        self._committed(step, numbers, mono)

    def _committed(self, step: Step, numbers: list[int], mono: float) -> None:
        if not step.durable:
            step.then(numbers)
            return
        if not self.unsynced:
            self.unsynced_since_mono = mono
        self.unsynced.append((step, numbers))

    def flush(self, mono: float, *, wait: bool = False) -> None:
        """Group commit: make the durable steps committed so far durable with one fsync
        once GROUP_MAX of them wait or the oldest has waited GROUP_WINDOW, then carry out
        what each does (a run counts as done only then). The fsync runs in the syncer's
        thread while the loop goes on (it is woken when the fsync is over); with `wait`
        (nothing else to do) it waits for that one and for one of the rest."""
        if self.syncer.busy and (wait or self.syncer.done()):
            self._collect(mono)
        if not self.unsynced or self.unwritable:
            return
        if wait:  # through the thread all the same: a checkpoint due follows it there
            self.syncer.start(self.unsynced)
            self.unsynced = []
            self._collect(mono)
        elif not self.syncer.busy and (
            len(self.unsynced) >= GROUP_MAX or mono - self.unsynced_since_mono >= GROUP_WINDOW
        ):
            self.syncer.start(self.unsynced)
            self.unsynced = []

    def _collect(self, mono: float) -> None:
        try:
            synced = self.syncer.collect()
        except SyncFailed as failed:
            self.held_synced += failed.batch
            cause = failed.__cause__
            self.store_failed(cause if isinstance(cause, Exception) else failed, mono)
            return
        _carry_out(synced)

    def flush_in(self, mono: float) -> float | None:
        """Seconds until the group window of the steps waiting for a sync closes (None:
        none wait, or the sync thread is busy: its end wakes the loop)."""
        if not self.unsynced or self.unwritable or self.syncer.busy:
            return None
        return GROUP_WINDOW - (mono - self.unsynced_since_mono)

    # --- a store that cannot be written (disk full, read-only) ------------------------------

    def store_failed(self, exc: Exception, mono: float) -> None:
        """Start nothing and try again after a delay (doubling up to RETRY_MAX)."""
        first = not self.unwritable
        self.error = str(exc)
        if first and self.wrote:
            self.retry_delay = RETRY_FIRST
        else:  # (also when it failed again before anything more could be written)
            self.retry_delay = min(self.retry_delay * 2, RETRY_MAX)
        self.retry_at_mono = mono + self.retry_delay
        held = len(self.held) + len(self.held_synced)
        self.log.error("store_unwritable", error=self.error, retry_s=self.retry_delay, held=held)
        if first:
            print(f"jobrunner: the state store cannot be written: {exc}", file=sys.stderr)
        self.announce()

    def hold(self, steps: list[Step]) -> None:
        """Keep what cannot be committed now for the next try: the ends and logons of
        sessions (their outcome is nowhere else); starts and dispatch decisions are
        dropped, planned again from the store once it can be written."""
        self.held += [s for s in steps if not s.replanned]

    def retry(self, mono: float) -> None:
        """Sync and commit what is held; on success carry on as before."""
        try:
            if self.held_synced:
                self.store.sync()
            if not self.held and not self.held_synced:
                self.store.probe()  # nothing to write: whether something could be
        except StoreUnwritable as exc:
            self.store_failed(exc, mono)
            return
        synced, self.held_synced = self.held_synced, []
        _carry_out(synced)
        held, self.held = self.held, []
        try:
            self._commit_group("retry", held, mono)
        except NotCommitted as failed:
            self.held = failed.steps
            self.store_failed(failed.error, mono)
            return
        self.retry_at_mono, self.wrote = None, bool(held)
        self.log.info("store_writable", after_s=round(self.retry_delay, 3), committed=len(held))
        print("jobrunner: the state store can be written again", file=sys.stderr)
        self.flush(mono, wait=True)
        self.announce()


def _carry_out(synced: list[Committed]) -> None:
    for step, numbers in synced:
        step.then(numbers)
