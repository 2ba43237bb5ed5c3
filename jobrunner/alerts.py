"""Alerts: which run ends notify which channel, throttled, and what the message says.

Pure: functions of (the settings, a run's end, the throttle state, now) with no clock,
I/O or logging. The shell (`delivery.Alerts`) reads the store, keeps the throttle state
and delivers on a thread of its own.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jobrunner import timetext

FINAL_FAILURE, FAILURES, RECOVERY, SUCCESS = "final_failure", "failures", "recovery", "success"
ON = (FINAL_FAILURE, RECOVERY, SUCCESS)
"""The values of a channel's `on` list (and `after_failures: N` for FAILURES)."""
DEFAULT_THROTTLE = timedelta(minutes=10)
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = timedelta(seconds=2)


@dataclass(frozen=True, kw_only=True, slots=True)
class Channel:
    """One destination: kind webhook (target: the URL), email (to, sender, server) or
    command (argv), and the rules of what it is sent."""

    name: str
    kind: str
    url: str = ""
    to: tuple[str, ...] = ()
    sender: str = ""
    server: str = "localhost:25"
    argv: tuple[str, ...] = ()
    on: frozenset[str] = frozenset({FINAL_FAILURE})
    after_failures: int | None = None
    entries: tuple[str, ...] = ()
    throttle: timedelta = DEFAULT_THROTTLE


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    host: str
    channels: tuple[Channel, ...] = ()
    retries: int = DEFAULT_RETRIES
    retry_delay: timedelta = DEFAULT_RETRY_DELAY

    @property
    def lookback(self) -> int:
        """How many earlier log entries of an entry the decisions need."""
        return max((c.after_failures or 1 for c in self.channels), default=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunEnd:
    """A run's end as the rules see it. `failed_before`: the consecutive failed runs of
    the entry just before this one (each attempt counts)."""

    entry_id: str
    ok: bool
    final: bool
    at: datetime
    error: str = ""
    attempt: int = 0
    log_no: int = 0
    description: str = ""
    failed_before: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Gate:
    """The throttle state of one entry and channel: the last message sent, and how many
    were held back since."""

    last_sent: datetime | None = None
    held: int = 0


def settings(raw: dict[str, Any] | None, host: str) -> Settings:
    """The config's `notify:` mapping (schema- and duration-checked) as Settings."""
    raw = raw or {}
    throttle = _duration(raw.get("throttle"), DEFAULT_THROTTLE)
    channels = tuple(
        _channel(name, value, throttle, raw.get("host") or host)
        for name, value in sorted((raw.get("channels") or {}).items())
    )
    return Settings(
        host=raw.get("host") or host,
        channels=channels,
        retries=raw.get("retries", DEFAULT_RETRIES),
        retry_delay=_duration(raw.get("retry_delay"), DEFAULT_RETRY_DELAY),
    )


def _duration(value: Any, default: timedelta) -> timedelta:
    return default if value is None else timetext.parse_duration(value)


def _channel(name: str, raw: dict[str, Any], throttle: timedelta, host: str) -> Channel:
    common: dict[str, Any] = {
        "name": name,
        "on": frozenset(raw.get("on", [FINAL_FAILURE])),
        "after_failures": raw.get("after_failures"),
        "entries": tuple(raw.get("entries", ())),
        "throttle": _duration(raw.get("throttle"), throttle),
    }
    if "webhook" in raw:
        return Channel(kind="webhook", url=raw["webhook"], **common)
    if "email" in raw:
        mail = raw["email"]
        to = mail["to"]
        return Channel(
            kind="email",
            to=tuple([to] if isinstance(to, str) else to),
            sender=mail.get("from") or f"jobrunner@{host}",
            server=mail.get("server", "localhost:25"),
            **common,
        )
    return Channel(kind="command", argv=tuple(raw["command"]), **common)


def reason(channel: Channel, run: RunEnd) -> str | None:
    """Why `channel` is sent this run's end, or None. One message per run and channel:
    a final failure, then the Nth consecutive failure, then a recovery, then a success."""
    if channel.entries and not any(fnmatch.fnmatchcase(run.entry_id, p) for p in channel.entries):
        return None
    if not run.ok:
        if run.final and FINAL_FAILURE in channel.on:
            return FINAL_FAILURE
        if channel.after_failures is not None and run.failed_before + 1 == channel.after_failures:
            return FAILURES
        return None
    if run.failed_before and RECOVERY in channel.on:
        return RECOVERY
    return SUCCESS if SUCCESS in channel.on else None


def throttle(gate: Gate | None, now: datetime, period: timedelta) -> tuple[bool, Gate]:
    """Whether a message may go now (at most one per `period` for an entry and channel)
    and the gate after it; a message held back is counted, and the next one sent says
    how many were (the count of the gate before it)."""
    gate = gate or Gate()
    if gate.last_sent is not None and now - gate.last_sent < period:
        return False, Gate(last_sent=gate.last_sent, held=gate.held + 1)
    return True, Gate(last_sent=now, held=0)


def message(run: RunEnd, why: str, host: str, held_back: int = 0) -> dict[str, Any]:
    """The JSON a webhook is posted (and a command gets on stdin)."""
    return {
        "event": why,
        "entry_id": run.entry_id,
        "description": run.description,
        "status": "success" if run.ok else "error",
        "error": spec_first_line(run.error),
        "attempt": run.attempt,
        "log_entry_no": run.log_no,
        "consecutive_failures": 0 if run.ok else run.failed_before + 1,
        "host": host,
        "at": run.at.isoformat().replace("+00:00", "Z"),
        "held_back": held_back,
    }


_SUBJECTS = {
    FINAL_FAILURE: "failed (no retry left)",
    FAILURES: "failed {n} times in a row",
    RECOVERY: "succeeded again",
    SUCCESS: "succeeded",
}


def subject(msg: dict[str, Any]) -> str:
    """A one-line summary: the email's subject, the first line of a text body."""
    what = _SUBJECTS[msg["event"]].format(n=msg["consecutive_failures"])
    return f"jobrunner: {msg['entry_id']} {what} on {msg['host']}"


def text(msg: dict[str, Any]) -> str:
    """The email's body."""
    lines = [subject(msg), ""]
    if msg["error"]:
        lines.append(f"error: {msg['error']}")
    lines += [
        f"entry: {msg['entry_id']}" + (f" ({msg['description']})" if msg["description"] else ""),
        f"attempt: {msg['attempt']}",
        f"log entry: {msg['log_entry_no']}",
        f"host: {msg['host']}",
        f"at: {msg['at']}",
    ]
    if msg["held_back"]:
        lines.append(f"held back since the last message: {msg['held_back']}")
    return "\n".join(lines) + "\n"


def spec_first_line(error: str) -> str:
    """The error's first line (the log entry keeps BC's first line already)."""
    return (error.strip().splitlines() or [""])[0]
