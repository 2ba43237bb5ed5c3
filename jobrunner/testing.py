"""Helpers for tests of jobrunner and of code that uses it: builders and a fake clock."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from jobrunner import model


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


def evolve(spec: model.JobSpec, **changes: Any) -> model.JobSpec:
    return dataclasses.replace(spec, **changes)


class FakeClock:
    """A clock that only moves when told; `sleep` advances it and returns at once."""

    def __init__(self, now: datetime | None = None) -> None:
        self._now = now or utc(2026, 1, 5, 12)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(timedelta(seconds=seconds))
