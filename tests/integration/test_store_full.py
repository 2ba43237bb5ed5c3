"""The SQLite store on a full file system: a failed write is StoreUnwritable, rolled
back, and the same store writes again once there is space."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from jobrunner import model
from jobrunner.store import StoreUnwritable
from jobrunner.store.sqlite import SqliteStore
from jobrunner.testing import utc

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a file system")


@pytest.fixture
def small(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _log(n: int) -> model.Transition:
    entry = model.LogEntry(entry_id=f"e{n}", start_at=utc(2026, 1, 1), output="x" * 20_000)
    return model.Transition(reason="t", log_insert=(entry,))


def test_a_full_file_system_fails_a_commit_cleanly_and_space_brings_it_back(small):
    store = SqliteStore(small / "s.sqlite3", background_checkpoints=True)
    store.commit(_log(0))
    filler = small / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError as exc:  # the file system is full
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    failed = None
    for n in range(1, 200):  # (what the WAL had room for still goes in)
        try:
            store.commit(_log(n))
        except StoreUnwritable as exc:
            failed = exc
            break
    assert "database or disk is full" in str(failed)
    kept = len(store.list_log())
    assert store.list_log(limit=1)[0].entry_id == f"e{n - 1}"  # the failed one rolled back
    filler.unlink()
    store.probe()
    store.commit(_log(999))
    store.sync()
    assert len(store.list_log()) == kept + 1
    store.close()
    again = SqliteStore(small / "s.sqlite3")
    assert len(again.list_log()) == kept + 1
    again.close()
