"""Durations as job files and commands write them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobrunner import timetext


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("250ms", timedelta(milliseconds=250)),
        ("1m30s", timedelta(seconds=90)),
        (0, timedelta(0)),
    ],
)
def test_parse_duration(text, expected):
    assert timetext.parse_duration(text) == expected
    assert timetext.parse_duration(timetext.format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "5", "5 min", "m5", "1h1h", "-5m", "1.5h"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="is not a duration"):
        timetext.parse_duration(text)


def test_parse_since_takes_a_time_ago_or_an_instant_in_the_zone():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert timetext.parse_since("-1h", "UTC", now) == now - timedelta(hours=1)
    assert timetext.parse_since("2d", "UTC", now) == now - timedelta(days=2)
    assert timetext.parse_since("2026-12-01T10:00", "Europe/Berlin", now) == datetime(
        2026, 12, 1, 9, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="yesterday"):
        timetext.parse_since("yesterday", "UTC", now)
