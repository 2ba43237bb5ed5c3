"""How the tables show time: LEFT and PASSED as systemctl list-timers does, the zone
beside each time, and a table fitted to the terminal by cutting the description."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobrunner.views import text, times

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(0), "now"),
        (timedelta(microseconds=5), "5us left"),
        (timedelta(milliseconds=420), "420ms left"),
        (timedelta(seconds=59), "59s left"),
        (timedelta(minutes=4, seconds=10), "4min 10s left"),
        (timedelta(minutes=5, seconds=10), "5min left"),
        (timedelta(hours=1, minutes=2, seconds=3), "1h 2min left"),
        (timedelta(hours=7, minutes=30), "7h left"),
        (timedelta(hours=26), "1 day 2h left"),
        (timedelta(days=3, hours=5), "3 days left"),
        (timedelta(days=9), "1 week 2 days left"),
        (-timedelta(minutes=4, seconds=10), "4min 10s ago"),
        (-timedelta(hours=2), "2h 0min ago"),
        (-timedelta(days=400), "1 year 1 month ago"),
    ],
)
def test_relative_times_read_as_systemctl_list_timers(delta, shown):
    assert times.relative(NOW + delta, NOW) == shown


def test_no_time_is_a_dash():
    assert times.relative(None, NOW) == "-"
    assert times.zoned(None, ZoneInfo("UTC")) == "-"


def test_a_time_shows_its_zone():
    assert times.zoned(NOW, ZoneInfo("Europe/Berlin")) == "Tue 2026-12-01 13:00:00 CET"
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert times.zoned(summer, ZoneInfo("Europe/Berlin")) == "Wed 2026-07-01 14:00:00 CEST"


def test_a_table_fits_its_width_by_cutting_the_last_column_first():
    rows = [("a", "x" * 40), ("bb", "short")]
    full = text.table(["ID", "DESCRIPTION"], rows, colour=False)
    assert max(map(len, full.splitlines())) == 2 + 2 + 40
    cut = text.table(["ID", "DESCRIPTION"], rows, colour=False, fit=20).splitlines()
    assert max(map(len, cut)) <= 20
    assert cut[1] == "a   " + "x" * 15 + "…"
    assert cut[2] == "bb  short"
    dropped = text.table(["ID", "DESCRIPTION"], rows, colour=False, fit=8).splitlines()
    assert dropped == ["ID", "a", "bb"]
