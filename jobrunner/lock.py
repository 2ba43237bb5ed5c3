"""Exactly one runner per state folder: an exclusive OS file lock (flock).

The lock dies with the process, so a killed runner never leaves a stale lock; the file
keeps the holder's pid only to name it in the message a second runner prints.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from jobrunner import errors, statedir

FILE_NAME = "runner.lock"


class RunnerLocked(errors.JobRunnerError):
    """Another runner holds the state folder."""


class RunnerLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._fd: int | None = None

    def acquire(self) -> RunnerLock:
        statedir.make_dir(self.path.parent)
        fd = statedir.open_file(self.path, os.O_RDWR)  # 0600: no one else can flock it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunnerLocked(
                f"another runner (pid {holder}) is already running on {self.path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunnerLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
