"""The machine's floors, measured in the same run as the figures they bound.

F: a small single-threaded parent forks a tiny child at a due instant; due -> the
   child's first statement.
X: the same with a fresh `python -I -S` from this interpreter.
L: a loop that runs 1,000 forked no-op children and commits each completion to SQLite
   (WAL, synchronous=FULL, grouped commits): completions per second.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


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
