"""Helpers for tests of jobrunner and of code that uses it: builders of instants and
entries. (The core takes `now` as an argument, so no fake clock is needed.)"""

from __future__ import annotations

from datetime import UTC, datetime
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
