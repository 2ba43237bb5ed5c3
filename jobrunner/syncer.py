"""Group commit off the runner's loop: a thread of its own makes what the store committed
so far durable (one fsync) while the loop goes on starting and reaping sessions; the
loop is woken when it is done. Only the runner's loop asks, one sync at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Syncer:
    def __init__(self, sync: Callable[[], None], wake: Callable[[], None]) -> None:
        self._sync, self._wake = sync, wake
        self._asked = threading.Event()
        self._finished = threading.Event()
        self._error: BaseException | None = None
        self._closing = False
        self.busy = False  # asked, and not yet collected
        self._thread = threading.Thread(target=self._serve, name="jobrunner-sync", daemon=True)
        self._thread.start()

    def start(self) -> None:
        """Begin a sync; `done()` tells when it is over (and the loop is woken then)."""
        assert not self.busy
        self.busy = True
        self._finished.clear()
        self._asked.set()

    def done(self) -> bool:
        return self.busy and self._finished.is_set()

    def collect(self) -> None:
        """Wait for the sync under way to end; its error, if any, is raised here."""
        self._finished.wait()
        self.busy = False
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        if self.busy:
            self._finished.wait()
        self._closing = True
        self._asked.set()
        self._thread.join()

    def _serve(self) -> None:
        while True:
            self._asked.wait()
            self._asked.clear()
            if self._closing:
                return
            try:
                self._sync()
            except BaseException as exc:  # handed to the loop by collect()
                self._error = exc
            self._finished.set()
            self._wake()
