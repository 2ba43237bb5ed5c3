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
