"""kill -9 at any instant leaves the SQLite store consistent."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from jobrunner import model
from jobrunner.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


def check_consistent(path: Path) -> int:
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    store = SqliteStore(path)
    try:
        entries = store.list_entries()
        open_logs = store.list_log(status=model.LogStatus.IN_PROCESS)
        in_process = {e.id for e in entries if e.status is model.EntryStatus.IN_PROCESS}
        assert sorted(log.entry_id for log in open_logs) == sorted(in_process)
        events = store.list_sessions()
        logons = sum(e.event == "logon" for e in events)
        logoffs = sum(e.event == "logoff" for e in events)
        logs = store.list_log()
        assert logons == len(logs)
        assert logoffs == len(logs) - len(open_logs)
        assert sum(e.attempts for e in entries) == logoffs
        return len(logs)
    finally:
        store.close()


def test_kill_9_mid_stream_leaves_the_store_consistent(tmp_path):
    path = tmp_path / "state" / "jobrunner.sqlite3"
    rng = random.Random(1234)
    runs_seen = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for round_no in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.crash_writer", str(path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        if round_no % 3:  # most rounds: kill while transitions stream
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if path.exists():
            runs_seen.append(check_consistent(path))
    print("runs committed after each kill:", runs_seen)
    assert runs_seen[-1] > 0
    assert runs_seen == sorted(runs_seen)  # nothing committed was ever lost


def test_reading_the_wal_index_keeps_sqlites_locks_on_it(tmp_path):
    """Closing any descriptor of the -shm file drops the process's POSIX locks on it;
    another process's connection would then take the WAL index for unused and truncate
    it under this store's mapping (SIGBUS)."""
    store = SqliteStore(tmp_path / "s.sqlite3", background_checkpoints=True)
    try:
        store.list_entries()
        inode = os.stat(tmp_path / "s.sqlite3-shm").st_ino

        def locks() -> int:
            text = Path("/proc/locks").read_text()
            return sum(
                f":{inode} " in line and f" {os.getpid()} " in line for line in text.splitlines()
            )

        assert locks() > 0
        store.wal_backlog()
        store.checkpoint()
        assert locks() > 0
    finally:
        store.close()
