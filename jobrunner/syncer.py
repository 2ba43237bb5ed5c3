"""Group commit off the runner's loop: a thread of its own makes what the store committed
so far durable (one fsync) while the loop goes on starting and reaping sessions; the
loop is woken when it is done. Only the runner's loop asks, one sync at a time, handing
over the batch it covers and taking it back once it is durable. After each sync, with
the loop already woken, the thread does `after` (the store's checkpoint, which would
otherwise stall a commit of the loop now and then); a fault of it is raised by the
collect() of the next sync. A failed sync hands its batch back with the error
(SyncFailed): none of it is known to be durable."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SyncFailed(Exception, Generic[T]):
    """The sync failed (the cause says why); `batch` is what it covered, to sync again."""

    def __init__(self, batch: list[T]) -> None:
        super().__init__(f"sync of {len(batch)} failed")
        self.batch = batch


class Syncer(Generic[T]):
    def __init__(
        self,
        sync: Callable[[], None],
        wake: Callable[[], None],
        after: Callable[[], object] | None = None,
    ) -> None:
        self._sync, self._wake, self._after = sync, wake, after
        self._asked = threading.Event()
        self._finished = threading.Event()
        self._error: BaseException | None = None
        self._failed = False  # the error is the sync's own (not a fault of `after`)
        self._closing = False
        self._batch: list[T] | None = None  # what the sync under way covers
        # started on first use: until then the process stays single-threaded (the
        # start-up reconcile forks helpers, see jobfiles)
        self._thread = threading.Thread(target=self._serve, name="jobrunner-sync", daemon=True)

    @property
    def busy(self) -> bool:
        """A sync was started and not yet collected."""
        return self._batch is not None

    def start(self, batch: list[T]) -> None:
        """Begin a sync covering `batch`; `done()` tells when it is over (and the loop is
        woken then)."""
        assert self._batch is None
        if self._thread.ident is None:
            self._thread.start()
        self._batch = batch
        self._finished.clear()
        self._asked.set()

    def done(self) -> bool:
        return self.busy and self._finished.is_set()

    def collect(self) -> list[T]:
        """Wait for the sync under way to end and take its batch back; its error, if
        any, is raised here (SyncFailed, with the batch, when the sync itself failed)."""
        self._finished.wait()
        batch, self._batch = self._batch or [], None
        error, self._error = self._error, None
        if error is not None and self._failed:
            raise SyncFailed(batch) from error
        if error is not None:
            raise error
        return batch

    def close(self) -> None:
        if self.busy:
            self._finished.wait()
        self._closing = True
        self._asked.set()
        if self._thread.ident is not None:
            self._thread.join()

    def _serve(self) -> None:
        fault: BaseException | None = None  # of `after`: told with the next sync
        while True:
            self._asked.wait()
            self._asked.clear()
            if self._closing:
                return
            synced = False
            try:
                self._sync()
                synced = True
            except BaseException as exc:  # handed to the loop by collect()
                self._error, self._failed = exc, True
            else:
                self._error, self._failed, fault = fault, False, None
            self._finished.set()
            self._wake()
            if self._after is not None and synced:
                try:
                    self._after()
                except BaseException as exc:
                    fault = exc
