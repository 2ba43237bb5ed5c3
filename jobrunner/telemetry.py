"""Structured logs: structlog JSON lines to stdout (journald) and to a size-rotated file,
and the vocabulary of event names, which is public API.

Event names are snake_case, past tense, one per state transition. BC's telemetry ids go
with the events BC has (`bc_event`). When stdout is the journal, each line there starts
with its syslog priority (`<3>` for an error, sd-daemon(3)).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import structlog

from jobrunner import statedir

# event name -> BC telemetry id (None: our own)
EVENTS: dict[str, str | None] = {
    "runner_started": None,
    "runner_draining": None,
    "runner_stopped": None,
    "config_reloaded": None,
    "config_rejected": None,
    "executor_lost": None,
    "entry_added": None,
    "entry_changed": None,
    "entry_removed": None,
    "job_file_rejected": None,
    "job_file_accepted": None,
    "entry_enqueued": "AL0000E24",
    "run_started": "AL0000E25",
    "run_finished": "AL0000E26",
    "run_failed": "AL0000HE7",
    "run_failed_finally": "AL0000JRG",
    "rescheduled_for_window": "AL0000P9D",
    "entry_waiting": "AL0000P9F",
    "waiting_activated": "AL0000P9G",
    "entry_expired": "AL0000P9E",
    "misfire": None,
    "retry_scheduled": None,
    "session_logon": None,
    "session_logoff": None,
    "run_recovered": None,
    "task_started": None,
    "task_finished": None,
    "task_retry_scheduled": None,
    "task_failure_object_scheduled": None,
    "task_failed": None,
    "task_requested": None,
    "log_pruned": None,
    "state_mode_tightened": None,
    "store_unwritable": None,
    "store_writable": None,
    "store_lost": None,
    "run_triggered": None,
    "run_cancelled": None,
    "runner_paused": None,
    "runner_resumed": None,
    "category_paused": None,
    "category_resumed": None,
}

# the level of the events the runner logs from a scheduler decision: info unless named
LEVELS: dict[str, str] = {
    "run_failed": "warning",
    "run_failed_finally": "error",
    "run_cancelled": "warning",
}


def level(event: str) -> str:
    """The level an event from a decision is logged at."""
    return LEVELS.get(event, "info")


# structlog's method names -> syslog priorities (sd-daemon(3))
PRIORITIES: dict[str, int] = {
    "debug": 7,
    "info": 6,
    "msg": 6,
    "log": 6,
    "warning": 4,
    "warn": 4,
    "error": 3,
    "exception": 3,
    "critical": 2,
    "fatal": 2,
}


def is_journal(stream: TextIO) -> bool:
    """Whether `stream` is connected to the journal: systemd then sets JOURNAL_STREAM to
    the device and inode of that stream (systemd.exec(5)), which a redirection changes."""
    dev, sep, ino = os.environ.get("JOURNAL_STREAM", "").partition(":")
    if not sep:
        return False
    try:
        found = os.fstat(stream.fileno())
        return (found.st_dev, found.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both
        return False


LOG_FILE = "jobrunner.jsonl"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5


def _add_bc_event(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    bc = EVENTS.get(str(event_dict.get("event")))
    if bc is not None:
        event_dict.setdefault("bc_event", bc)
    return event_dict


_second: tuple[int, str] = (-1, "")


def timestamp() -> str:
    """Now in UTC as ISO 8601 with microseconds and a Z (the seconds part is formatted
    once per second)."""
    global _second
    sec, us = divmod(time.time_ns() // 1000, 1_000_000)
    if sec != _second[0]:
        _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return f"{_second[1]}.{us:06d}Z"


_encode = json.JSONEncoder(default=repr).encode
_LEVELS = {"warn": "warning", "exception": "error"}  # as structlog's add_log_level


def render(_: Any, method: str, event_dict: dict[str, Any]) -> str:
    """The event as its JSON line: its fields, then `level`, `timestamp` and `bc_event`
    (for the events BC has). A value JSON cannot hold is written as its repr."""
    event_dict["level"] = _LEVELS.get(method, method)
    event_dict["timestamp"] = timestamp()
    return _encode(_add_bc_event(_, method, event_dict))


def processors() -> list[Any]:
    return [render]


class Sink:
    """Writes each rendered event line to stdout and to the state folder's log file,
    rotating that file by size (`jobrunner.jsonl.1` ... `.5`). No stdlib logging on
    the way: an event costs a render and two writes. On the journal, stdout's lines
    carry their priority prefix; the file's never do."""

    def __init__(self, stream: TextIO, path: Path | None) -> None:
        self.stream = stream
        self.path = path
        self._file: TextIO | None = None
        self._size = 0
        self._held: list[str] | None = None
        self._journal = is_journal(stream)
        self._held_out: list[str] = []
        if path is not None:
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        fd = statedir.open_file(self.path, os.O_WRONLY | os.O_APPEND)  # 0600
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._size = self._file.tell()

    def _rotate(self) -> None:
        assert self.path is not None
        assert self._file is not None
        self._file.close()
        for n in range(BACKUPS - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._open()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """The lines written meanwhile go out together at the end: one write to stdout
        and one to the file instead of one each per event."""
        if self._held is not None:  # already held further out
            yield
            return
        self._held = []
        try:
            yield
        finally:
            lines, self._held = self._held, None
            out, self._held_out = self._held_out, []
            if lines:
                self._emit("".join(lines), "".join(out) if self._journal else None)

    def write(self, line: str, priority: int = 6) -> None:
        text = line + "\n"
        out = f"<{priority}>{text}" if self._journal else None
        if self._held is not None:
            self._held.append(text)
            if out is not None:
                self._held_out.append(out)
        else:
            self._emit(text, out)

    def _emit(self, line: str, out: str | None = None) -> None:
        """`line` to the file and, unless `out` is given (the journal's form), stdout."""
        # A closed stdout (journald gone) must not stop the runner nor the file log.
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(line if out is None else out)
            self.stream.flush()
        if self._file is not None:
            with contextlib.suppress(OSError, ValueError):
                if self._size and self._size + len(line) > MAX_BYTES:
                    self._rotate()
                self._file.write(line)
                self._file.flush()
                self._size += len(line)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _Logger:
    """What structlog hands the rendered line to: a method per level, each writing the
    line with that level's priority."""

    def __init__(self, sink: Sink) -> None:
        for name, priority in PRIORITIES.items():
            setattr(self, name, functools.partial(sink.write, priority=priority))


_sink: Sink | None = None


def configure(state_dir: Path | None, stream: TextIO | None = None) -> None:
    """JSON lines to `stream` (stdout) and to state_dir/log/jobrunner.jsonl, rotated."""
    global _sink
    path = None
    if state_dir is not None:
        log_dir = state_dir / "log"
        statedir.make_dir(log_dir)
        path = log_dir / LOG_FILE
    if _sink is not None:
        _sink.close()
    _sink = Sink(stream or sys.stdout, path)
    logger = _Logger(_sink)
    structlog.configure(
        processors=processors(),
        logger_factory=lambda *_: logger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )


def held() -> contextlib.AbstractContextManager[None]:
    """Hold the events logged meanwhile and write them together at the end (the
    runner holds them for one pass of its loop)."""
    return _sink.held() if _sink is not None else contextlib.nullcontext()


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("jobrunner").bind(**bound)
