"""The jobs folder watcher: watchdog (inotify on Linux) events -> debounced batches of
changed job-file paths. No logic and no polling: the debounce thread blocks until an
event arrives, then waits for a short quiet period (editors write a temp file and
rename it) before handing the batch on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from jobrunner import spec

QUIET = 0.02
MAX_DELAY = 0.25
_KINDS = {"created", "modified", "moved", "deleted", "closed"}


class _Handler(FileSystemEventHandler):
    def __init__(self, sink: Callable[[set[Path]], None]) -> None:
        self._sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in _KINDS:
            return
        paths = {Path(str(event.src_path))}
        if getattr(event, "dest_path", ""):
            paths.add(Path(str(event.dest_path)))
        wanted = {p for p in paths if p.suffix in spec.JOB_SUFFIXES}
        if wanted:
            self._sink(wanted)


class Watcher:
    """Calls `on_batch(paths)` from its own thread after each burst of file events."""

    def __init__(
        self,
        folder: Path,
        on_batch: Callable[[set[Path]], None],
        *,
        quiet: float = QUIET,
        max_delay: float = MAX_DELAY,
    ) -> None:
        self.folder = folder
        self._on_batch = on_batch
        self._quiet, self._max_delay = quiet, max_delay
        self._pending: set[Path] = set()
        self._lock = threading.Lock()
        self._arrived = threading.Event()
        self._stopping = False
        self._observer = Observer()
        self._thread = threading.Thread(target=self._debounce, name="jobs-watcher", daemon=True)

    def start(self) -> None:
        self._observer.schedule(_Handler(self._add), str(self.folder), recursive=False)
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._arrived.set()
        self._observer.stop()
        self._observer.join(timeout=5)
        self._thread.join(timeout=5)

    def _add(self, paths: set[Path]) -> None:
        with self._lock:
            self._pending |= paths
        self._arrived.set()

    def _debounce(self) -> None:
        while True:
            self._arrived.wait()
            if self._stopping:
                return
            deadline = time.monotonic() + self._max_delay
            while True:
                self._arrived.clear()
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._arrived.wait(min(self._quiet, remaining)):
                    break
            with self._lock:
                batch, self._pending = self._pending, set()
            if batch and not self._stopping:
                self._on_batch(batch)
