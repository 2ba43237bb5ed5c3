"""The jobs folder watcher: watchdog (inotify on Linux) events -> debounced batches of
changed job-file paths. No logic and no polling: the debounce thread blocks until an
event arrives. A finished save (the file closed after writing, a rename into place) is
handed on at once; a bare "modified" or "created" waits for a short quiet period, since
the close (or the editor's rename) usually follows. A file deleted is handed on only
once it has stayed away for DELETE_SETTLE (a rename is one event: handed on at once):
`git checkout` and `git pull` replace each changed file by deleting it and writing it
anew, and a reconcile between the two would remove its entry (and its state: status,
attempts, last run) only to add it again. The folder's parent is watched too: a jobs
folder deleted and made again (or another moved into place) is watched again at once, and
every job file in it is handed on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from jobrunner import jobfiles

QUIET = 0.02
MAX_DELAY = 0.25
# watchdog holds an IN_MOVED_FROM back for up to this long to pair it with its
# IN_MOVED_TO (0.5 s of its own); its reader sleeps out the whole hold when it sees the
# first alone, even once the second has come (gorakhargosh/watchdog#649), so a rename
# into place (an editor's save) took half a second now and then. The two come from one
# read of the inotify queue, microseconds apart; an unpaired one only costs a "created".
MOVE_PAIRING = 0.002
DELETE_SETTLE = 0.25
_KINDS = {"created", "modified", "moved", "deleted", "closed"}
_FINISHED = {"moved", "deleted", "closed"}


class _Handler(FileSystemEventHandler):
    def __init__(self, sink: Callable[[set[Path], bool, set[Path], set[Path]], None]) -> None:
        self._sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in _KINDS:
            return
        source = Path(str(event.src_path))
        paths = {source}
        if getattr(event, "dest_path", ""):
            paths.add(Path(str(event.dest_path)))
        wanted = {p for p in paths if jobfiles.is_job_name(p.name)}
        kind = event.event_type
        gone = {source} & wanted if kind == "deleted" else set()
        away = {source} & wanted if kind == "moved" else set()
        if wanted:
            self._sink(wanted, kind in _FINISHED, gone, away)


class _ParentHandler(FileSystemEventHandler):
    # inotify watches an inode: a folder made again under the same name is a new one
    def __init__(self, folder: Path, appeared: Callable[[], None]) -> None:
        self._folder = os.path.abspath(folder)
        self._appeared = appeared

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not event.is_directory or event.event_type not in ("created", "moved"):
            return
        target = event.dest_path if event.event_type == "moved" else event.src_path
        if os.path.abspath(str(target)) == self._folder:
            self._appeared()


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
        self._gone: dict[Path, float] = {}  # deleted -> when it may be handed on
        self._away: set[Path] = set()  # renamed to another name: handed on at once
        self._lock = threading.Lock()
        self._arrived = threading.Event()
        self._finished = False
        self._stopping = False
        self._rewatch = False
        self._watch: ObservedWatch | None = None
        self._observer = Observer()
        self._thread = threading.Thread(target=self._debounce, name="jobs-watcher", daemon=True)

    def start(self) -> None:
        _shorten_move_pairing()
        if self.folder.parent.is_dir():
            handler = _ParentHandler(self.folder, self._appeared)
            self._observer.schedule(handler, str(self.folder.parent), recursive=False)
        self._watch_folder()
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._arrived.set()
        self._observer.stop()
        self._observer.join(timeout=5)
        self._thread.join(timeout=5)

    def _add(
        self,
        paths: set[Path],
        finished: bool,
        gone: AbstractSet[Path] = frozenset(),
        away: AbstractSet[Path] = frozenset(),
    ) -> None:
        settled = time.monotonic() + DELETE_SETTLE
        with self._lock:
            self._pending |= paths
            self._finished = self._finished or finished
            for path in paths - gone - away:  # back (or written): no longer held
                self._gone.pop(path, None)
                self._away.discard(path)
            for path in gone:
                self._gone[path] = settled
            self._away |= away
        self._arrived.set()

    def _appeared(self) -> None:
        with self._lock:
            self._rewatch = True
        self._arrived.set()

    def _watch_folder(self) -> None:
        if self._watch is not None:
            with contextlib.suppress(KeyError):  # (gone with its folder)
                self._observer.unschedule(self._watch)
            self._watch = None
        with contextlib.suppress(OSError):  # (gone again: its parent's event follows)
            self._watch = self._observer.schedule(
                _Handler(self._add), str(self.folder), recursive=False
            )

    def _rescan(self) -> None:
        # Watch the new folder, then list it: a file written before the watch is in
        # the listing, one written after it is an event.
        self._watch_folder()
        with contextlib.suppress(OSError):
            found = {p for p in self.folder.iterdir() if jobfiles.is_job_name(p.name)}
            self._add(found, True)

    def _held(self, batch: set[Path]) -> tuple[set[Path], float | None]:
        """The paths of `batch` deleted too recently to hand on (they stay pending), and
        how long until the first of them may go (under the lock). A file found missing
        before its deletion's event came is held from now: the reconcile that would read
        it follows at once, and would take it for deleted."""
        now = time.monotonic()
        held: set[Path] = set()
        for path in batch:
            until = self._gone.get(path)
            if until is None and path not in self._away and not os.path.lexists(path):
                self._gone[path] = until = now + DELETE_SETTLE
            if until is not None and until > now:
                held.add(path)
            else:
                self._gone.pop(path, None)
                self._away.discard(path)
        wait = min((self._gone[p] for p in held), default=None)
        return held, None if wait is None else max(0.0, wait - now)

    def _debounce(self) -> None:
        hold: float | None = None  # until the first held deletion may go
        while True:
            self._arrived.wait(hold)
            if self._stopping:
                return
            with self._lock:
                rewatch, self._rewatch = self._rewatch, False
            if rewatch:
                self._rescan()
            deadline = time.monotonic() + self._max_delay
            while not self._finished:
                self._arrived.clear()
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._arrived.wait(min(self._quiet, remaining)):
                    break
            self._arrived.clear()
            with self._lock:
                batch, self._finished = self._pending, False
                held, hold = self._held(batch)
                self._pending = held
                batch -= held
            if batch and not self._stopping:
                self._on_batch(batch)


def _shorten_move_pairing() -> None:
    """Set watchdog's hold of an IN_MOVED_FROM (see MOVE_PAIRING) before its inotify
    reader is made; the class is named differently in older watchdog releases."""
    import importlib

    for module, name in (
        ("watchdog.observers.inotify_move_event_grouper", "InotifyMoveEventGrouper"),
        ("watchdog.observers.inotify_buffer", "InotifyBuffer"),
    ):
        try:
            holder = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if isinstance(getattr(holder, "delay", None), float):
            holder.delay = MOVE_PAIRING
