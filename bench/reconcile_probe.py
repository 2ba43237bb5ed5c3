"""Figure 5's reconcile, timed in a fresh process, and its floors.

`python -m bench.reconcile_probe ours|floor`, run in a folder that holds jobrunner.yaml
and jobs.d/, prints two times in seconds: a cold reconcile (an empty store), then a
rescan with nothing changed. `ours` is jobrunner's reconciler; `floor` is a bare loop
that reads each file, parses it with the same C loader (PyYAML's CSafeLoader) and
inserts it into SQLite (WAL, as the store opens it) in one transaction, then a bare
`scandir` + `stat` of the folder. Each store is opened before its clock starts.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import structlog
import yaml


def ours() -> tuple[float, float]:
    from jobrunner import config
    from jobrunner.reconciler import Reconciler
    from jobrunner.store.sqlite import SqliteStore

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    cfg = config.load(cwd=Path.cwd())
    db = SqliteStore(cfg.state_dir / "jobrunner.sqlite3")
    rec = Reconciler(cfg, db, lambda: datetime.now(UTC))
    start = time.perf_counter()
    rec.full()
    cold = time.perf_counter() - start
    start = time.perf_counter()
    rec.full()
    return cold, time.perf_counter() - start


def floor() -> tuple[float, float]:
    folder = Path(".jobrunner")
    folder.mkdir(exist_ok=True)
    db = sqlite3.connect(folder / "floor.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")  # as a reconcile's commit (no fsync of its own)
    db.execute("CREATE TABLE entries (name TEXT PRIMARY KEY, mtime INTEGER, spec TEXT)")
    start = time.perf_counter()
    rows = []
    with os.scandir("jobs.d") as listing:
        for item in listing:
            with open(item.path, encoding="utf-8") as f:
                data = yaml.load(f.read(), Loader=yaml.CSafeLoader)
            rows.append((item.name, item.stat().st_mtime_ns, json.dumps(data, default=str)))
    db.execute("BEGIN")
    db.executemany("INSERT INTO entries VALUES (?, ?, ?)", rows)
    db.execute("COMMIT")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    with os.scandir("jobs.d") as listing:
        for item in listing:
            item.stat()
    rescan = time.perf_counter() - start
    db.close()
    return cold, rescan


if __name__ == "__main__":
    cold, rescan = {"ours": ours, "floor": floor}[sys.argv[1]]()
    print(cold, rescan)
