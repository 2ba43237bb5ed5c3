"""`jobrunner log --follow`: new log rows as they are written, woken by inotify on the
state folder (the SQLite file and its WAL), never by polling."""

from __future__ import annotations

import threading
from collections.abc import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from jobrunner import config, model, store
from jobrunner.store import open as store_open


class _Changed(FileSystemEventHandler):
    """Sets `changed` when the state file (or its WAL) is written."""

    def __init__(self, changed: threading.Event, name: str) -> None:
        self.changed, self.name = changed, name

    def on_any_event(self, event: FileSystemEvent) -> None:
        if self.name in str(event.src_path) and event.event_type != "opened":
            self.changed.set()


def log(
    cfg: config.Config,
    db: store.Store,
    after: int,
    emit: Callable[[list[model.LogEntry]], None],
    *,
    entry_id: str | None = None,
    status: model.LogStatus | None = None,
) -> None:
    """Call `emit` with each batch of log entries numbered above `after`, oldest first,
    until interrupted (Ctrl-C)."""
    changed = threading.Event()
    seen: set[int] = set()
    observer = Observer()
    state = store_open.state_file(cfg.state_dir)
    observer.schedule(_Changed(changed, state.name), str(state.parent), recursive=False)
    observer.start()
    try:
        while True:
            changed.wait()
            changed.clear()
            # a row shows once its run has ended (runs may end out of order)
            rows = [
                r
                for r in db.list_log(entry_id=entry_id, status=status, limit=1000)
                if r.entry_no > after
                and r.entry_no not in seen
                and r.status is not model.LogStatus.IN_PROCESS
            ]
            if rows:
                seen.update(r.entry_no for r in rows)
                emit(sorted(rows, key=lambda r: r.entry_no))
    except KeyboardInterrupt:
        pass
    finally:
        observer.stop()
        observer.join(timeout=2)
