"""Helpers for tests of jobrunner and of code that uses it: builders of instants and
entries; a FakeClock and a FakeExecutor, so that the runner's loop can run its passes
(`Runner.tick`) with no process, no sleep and no file. (The pure core takes `now` as an
argument and needs neither.)"""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from typing import Any

from jobrunner import executor, model


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """utc(2012, 1, 1, 13) -> an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def recurrence(**fields: Any) -> model.Recurrence:
    fields.setdefault("timezone", "UTC")
    return model.Recurrence(**fields)


def job(**fields: Any) -> model.JobSpec:
    """A JobSpec with test defaults (id 'job', object 50100, UTC)."""
    fields.setdefault("id", "job")
    fields.setdefault("object_id", 50100)
    if isinstance(fields.get("recurrence"), dict):
        fields["recurrence"] = recurrence(**fields["recurrence"])
    return model.JobSpec(**fields)


class FakeClock:
    """A Clock that moves only when told: `advance()`, or `sleep()` (which returns at
    once, having moved the clock)."""

    def __init__(self, start: datetime) -> None:
        self._now, self._mono = start, 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(timedelta(seconds=seconds))

    def advance(self, delta: timedelta) -> None:
        self._now += delta
        self._mono += delta.total_seconds()


class FakeExecutor:
    """An Executor whose sessions are entries in a table: `start` records the request
    and reports the session started (pid from 10001 on); the test ends a session with
    `exit(session_id, status)`. A SIGTERM or SIGKILL ends it by that signal."""

    def __init__(self) -> None:
        self.requests: list[executor.SessionRequest] = []
        self.prepared: list[str] = []
        self.signals: list[tuple[int, signal.Signals]] = []
        self.pids: dict[str, int] = {}
        self.refuse_starts = False
        self.dead = False
        self._events: list[executor.Event] = []
        self._next_pid = 10001

    def start(self, request: executor.SessionRequest) -> None:
        if self.refuse_starts:
            raise executor.SessionStartError("The session could not start: no fork.")
        self.requests.append(request)
        pid, self._next_pid = self._next_pid, self._next_pid + 1
        self.pids[request.session_id] = pid
        self._events.append(executor.Started(request.session_id, pid))

    def exit(self, session_id: str, status: int = 0) -> None:
        """The session ends with wait status `status` (0: success; 256: exit status 1)."""
        self._events.append(executor.Exited(self.pids.pop(session_id), status))

    def running(self) -> list[str]:
        """The session ids of the sessions not ended."""
        return list(self.pids)

    def prepare(self, ref: str) -> None:
        self.prepared.append(ref)

    def fds(self) -> list[int]:
        return []

    def collect(self) -> list[executor.Event]:
        events, self._events = self._events, []
        return events

    def alive(self) -> bool:
        return not self.dead

    def kill(self, pid: int, sig: signal.Signals) -> None:
        self.signals.append((pid, sig))
        for session_id, running in list(self.pids.items()):
            if running == pid:
                self._events.append(executor.Exited(self.pids.pop(session_id), int(sig)))

    def identity(self, pid: int) -> int | None:
        return pid * 10

    def end_leftover(self, pid: int, started: float | None) -> None:
        self.signals.append((pid, signal.SIGKILL))

    def close(self) -> None:
        self.dead = True
