"""The machine's floors, measured in the same run as the figures they bound.

F: a small single-threaded parent forks a tiny child at a due instant; due -> the
   child's first statement.
X: the same with a fresh `python -I -S` from this interpreter.
L: a loop that runs 1,000 forked no-op children and commits each completion to SQLite
   (WAL, synchronous=FULL, grouped commits): completions per second.
W: a bare watchdog observer on a folder; a save (written in place, or renamed into
   place) -> its finishing event (closed, moved) in the observer's handler.
The reconcile's floors (a bare read + parse + insert loop, a bare scandir + stat) run in
a fresh process of their own: see `bench.reconcile_probe`.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from jobrunner import watcher


def _sleep_until(t: float) -> None:
    while True:
        left = t - time.time()
        if left <= 0:
            return
        time.sleep(left)


def fork_latency(samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        r, w = os.pipe()
        due = time.time() + 0.02
        _sleep_until(due)
        pid = os.fork()
        if pid == 0:
            os.write(w, repr(time.time()).encode())
            os._exit(0)
        os.close(w)
        first = float(os.read(r, 64))
        os.close(r)
        os.waitpid(pid, 0)
        out.append(first - due)
    return out


def spawn_latency(samples: int) -> list[float]:
    out = []
    code = "import time,sys; sys.stdout.write(repr(time.time()))"
    for _ in range(samples):
        due = time.time() + 0.02
        _sleep_until(due)
        proc = subprocess.run(
            [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
        )
        out.append(float(proc.stdout) - due)
    return out


def loop_throughput(children: int = 1000, group: int = 32) -> float:
    """Completions per second of fork + wait + a durable commit, grouped."""
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "floor.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE done (n INTEGER PRIMARY KEY, status INTEGER, at REAL)")
        start = time.perf_counter()
        pending = []
        for n in range(children):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            pending.append((n, status, time.time()))
            if len(pending) >= group:
                db.execute("BEGIN")
                db.executemany("INSERT INTO done VALUES (?, ?, ?)", pending)
                db.execute("COMMIT")
                pending.clear()
        if pending:
            db.execute("BEGIN")
            db.executemany("INSERT INTO done VALUES (?, ?, ?)", pending)
            db.execute("COMMIT")
        elapsed = time.perf_counter() - start
        db.close()
    return children / elapsed


def save(path: Path, text: str, *, renamed: bool) -> None:
    """One save of a job file, as an editor makes it: written in place, or written
    beside it and renamed into place."""
    if renamed:
        temp = path.with_name(f".{path.stem}.tmp")
        temp.write_text(text)
        os.replace(temp, path)
    else:
        path.write_text(text)


class _Finished(FileSystemEventHandler):
    def __init__(self) -> None:
        self.events: queue.Queue[tuple[float, str]] = queue.Queue()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type == "closed":
            self.events.put((time.time(), str(event.src_path)))
        elif event.event_type == "moved":
            self.events.put((time.time(), str(event.dest_path)))


def watch_latency(folder: Path, saves: int, first: int = 0) -> list[float]:
    """W for `saves` saves, alternately in place and renamed (as figure 6 saves; `first`
    continues its count). The observer holds a lone IN_MOVED_FROM as briefly as the
    runner's watcher does: left at watchdog's 0.5 s, the floor would be that bug."""
    watcher._shorten_move_pairing()
    handler = _Finished()
    observer = Observer()
    observer.schedule(handler, str(folder), recursive=False)
    observer.start()
    out = []
    try:
        for n in range(first, first + saves):
            path = folder / f"job{(n * 3 + 2) % 9999:05d}.yaml"
            written = time.time()
            save(path, f"object_id: bench.jobs:noop\ndescription: edit {n}\n", renamed=bool(n % 2))
            while True:
                at, name = handler.events.get(timeout=60)
                if name == str(path):
                    break
            out.append(at - written)
    finally:
        observer.stop()
        observer.join(5)
    return out
