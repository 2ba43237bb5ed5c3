"""Structured logs: structlog JSON lines to stdout (journald, a pipe) and to a size-rotated
file, one readable line per event on a terminal, and the vocabulary of event names, which
is public API.

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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from jobrunner import imports, statedir

with imports.without(*imports.OPTIONAL):  # (see jobrunner.imports)
    import structlog

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
    "definition_newer_in_store": None,
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
    "outputs_pruned": None,
    "notify_sent": None,
    "notify_failed": None,
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
    "item_failed": None,
    "item_failed_finally": None,
    "items_pruned": None,
    "items_store_failed": None,
    "web_started": None,
    "web_action_done": None,
    "web_action_refused": None,
    "runners_dead": None,
    "runner_fenced": None,
    "run_fenced": None,
    "store_listener_lost": None,
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


def _encoder() -> Callable[[Any], str]:
    """An event's JSON text, exactly as `json.JSONEncoder(default=repr).encode` writes
    it. That method makes its C encoder anew for every event (half of an event's JSON
    cost); this one is made once. json's own is kept where the C encoder is missing or
    writes otherwise."""
    slow = json.JSONEncoder(default=repr).encode
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return slow
    try:
        ascii_ = json.encoder.encode_basestring_ascii
        fast = make(None, repr, ascii_, None, ": ", ", ", False, False, True)
        sample = {"s": 'é\n"', "n": [1, 2.5, None, True, float("inf")], "o": Path("/")}
        if "".join(fast(sample, 0)) != slow(sample):
            return slow
    except (TypeError, ValueError):  # another signature
        return slow

    def encode(value: Any) -> str:
        return "".join(fast(value, 0))

    return encode


_encode = _encoder()
_LEVELS = {"warn": "warning", "exception": "error"}  # as structlog's add_log_level


def render(_: Any, method: str, event_dict: dict[str, Any]) -> str:
    """The event as its JSON line: its fields, then `level`, `timestamp` and `bc_event`
    (for the events BC has). A value JSON cannot hold is written as its repr."""
    event_dict["level"] = _LEVELS.get(method, method)
    event_dict["timestamp"] = timestamp()
    return _encode(_add_bc_event(_, method, event_dict))


FORMATS = ("auto", "console", "json")
LEVEL_NAMES = ("debug", "info", "warning", "error")

# fields a person at a terminal does not read (the JSON lines keep them all)
QUIET = frozenset(
    {
        "runner_id",
        "session_id",
        "system_task_id",
        "object_type",
        "recurring",
        "max_retries",
        "stacktrace",
        "bc_event",
        "client_type",
        "file",
    }
)
_FIRST = ("entry_id", "status")


def readable(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The fields that matter, the entry and its status first: no None, no ids of
    sessions and runners, no call stacks, each value on one line."""
    shown: dict[str, Any] = {
        k: event_dict[k] for k in ("timestamp", "level", "event") if k in event_dict
    }
    rest = sorted(
        event_dict, key=lambda k: (k not in _FIRST, _FIRST.index(k) if k in _FIRST else 0)
    )
    for key in rest:
        value = event_dict[key]
        if key in shown or key in QUIET or value is None:
            continue
        if isinstance(value, str) and "\n" in value.strip():
            value = value.strip().splitlines()[0] + " ..."
        shown[key] = value
    return shown


def console_processors(colors: bool) -> list[Any]:
    """structlog's own: the time in the local zone, the level, the event padded, then
    key=value pairs in the order `readable` gives them."""
    return [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
        readable,
        structlog.dev.ConsoleRenderer(colors=colors, sort_keys=False, pad_event_to=22),
    ]


class _Both:
    """The last processor when stdout is a terminal: the JSON line for the file and
    the readable line for stdout, handed on together as (args, kwargs)."""

    def __init__(self, colors: bool) -> None:
        self.chain = console_processors(colors)

    def __call__(self, logger: Any, method: str, event_dict: dict[str, Any]) -> Any:
        shown = dict(event_dict)
        line = render(logger, method, event_dict)
        for processor in self.chain:
            shown = processor(logger, method, shown)
        return (line,), {"console": shown}


def processors(console: bool = False, colors: bool = False) -> list[Any]:
    return [_Both(colors)] if console else [render]


def wants_console(log_format: str, stream: TextIO) -> bool:
    """auto: readable lines on a terminal; the JSON lines on the journal and in a pipe."""
    if log_format != "auto":
        return log_format == "console"
    try:
        return stream.isatty() and not is_journal(stream)
    except (OSError, ValueError, AttributeError):
        return False


def wants_colour(stream: TextIO) -> bool:
    """Colour on a terminal unless NO_COLOR is set (to anything but empty, no-color.org)."""
    try:
        return stream.isatty() and not os.environ.get("NO_COLOR")
    except (OSError, ValueError, AttributeError):
        return False


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
                self._emit("".join(lines), "".join(out))

    def write(self, line: str, priority: int = 6, console: str | None = None) -> None:
        """`line` (JSON) to the file; to stdout `console` when given, else `line`."""
        text = line + "\n"
        if console is not None:
            out: str | None = console + "\n"
        else:
            out = f"<{priority}>{text}" if self._journal else None
        if self._held is not None:
            self._held.append(text)
            self._held_out.append(text if out is None else out)
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


def configure(
    state_dir: Path | None,
    stream: TextIO | None = None,
    *,
    log_format: str = "auto",
    log_level: str = "info",
    log_file: bool = True,
) -> None:
    """Events at `log_level` and above to `stream` (stdout: JSON lines, or readable ones
    as `log_format` says) and, with `log_file`, as JSON lines to
    state_dir/log/jobrunner.jsonl, rotated."""
    global _sink
    stream = stream or sys.stdout
    console = wants_console(log_format, stream)
    path = None
    if state_dir is not None and log_file:
        log_dir = state_dir / "log"
        statedir.make_dir(log_dir)
        path = log_dir / LOG_FILE
    if _sink is not None:
        _sink.close()
    _sink = Sink(stream, path)
    logger = _Logger(_sink)
    structlog.configure(
        processors=processors(console, console and wants_colour(stream)),
        logger_factory=lambda *_: logger,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[log_level.upper()]
        ),
        cache_logger_on_first_use=True,
    )


def held() -> contextlib.AbstractContextManager[None]:
    """Hold the events logged meanwhile and write them together at the end (the
    runner holds them for one pass of its loop)."""
    return _sink.held() if _sink is not None else contextlib.nullcontext()


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("jobrunner").bind(**bound)
