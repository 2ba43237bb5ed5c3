"""`jobrunner next` through the real CLI."""

from __future__ import annotations


def test_next_by_id_json(cli):
    result = cli("next", "report-rotation", "--from", "2026-11-20T12:00Z", "--count", "3", "--json")
    assert result.code == 0
    assert result.json() == [
        {"local": "2026-11-23T06:30:00-05:00", "utc": "2026-11-23T11:30:00Z"},
        {"local": "2026-11-24T06:30:00-05:00", "utc": "2026-11-24T11:30:00Z"},
        {"local": "2026-11-25T06:30:00-05:00", "utc": "2026-11-25T11:30:00Z"},
    ]


def test_next_by_file_text(cli):
    path = cli.dir / "one.yaml"
    path.write_text("object_id: 1\nrecurrence:\n  cron: '30 2 * * *'\n  timezone: Europe/Berlin\n")
    result = cli("next", str(path), "--from", "2026-03-28T12:00Z", "--count", "2")
    assert result.code == 0
    assert result.out.splitlines() == [
        "one (Europe/Berlin)",
        "   1  Sun 2026-03-29 03:00:00 CEST   2026-03-29 01:00:00 UTC",
        "   2  Mon 2026-03-30 02:30:00 CEST   2026-03-30 00:30:00 UTC",
    ]


def test_next_of_one_off_is_one_time(cli):
    result = cli("next", "reminder-once", "--from", "2026-11-21T10:00:00Z", "--json")
    assert result.json() == [{"local": "2026-11-21T10:00:01+00:00", "utc": "2026-11-21T10:00:01Z"}]


def test_next_of_expired_entry(cli):
    result = cli("next", "reminder-once", "--from", "2031-01-01T00:00Z")
    assert result.code == 0
    assert "no further runs (expired)" in result.out


def test_next_unknown_id_is_one_line_error(cli):
    result = cli("next", "nope")
    assert result.code == 2
    assert result.err.strip() == "jobrunner: no job queue entry with id 'nope'"


def test_next_bad_from(cli):
    result = cli("next", "inbox-poll", "--from", "yesterday")
    assert result.code == 2
    assert "--from: 'yesterday' is not an ISO-8601 date and time" in result.err


def test_next_invalid_file_lists_problems(cli):
    path = cli.dir / "bad.yaml"
    path.write_text("object_id: 1\nrecurrence:\n  every: often\n")
    result = cli("next", str(path))
    assert result.code == 2
    assert "bad.yaml:3: recurrence.every: 'often' is not a duration" in result.err


def test_next_shows_unjittered_times_and_says_a_jitter_applies(cli):
    path = cli.dir / "spread.yaml"
    path.write_text("object_id: 1\nrecurrence:\n  cron: '0 2 * * *'\n  jitter: 5m\n")
    result = cli("next", str(path), "--from", "2026-11-20T12:00Z", "--count", "2")
    assert result.code == 0
    assert result.out.splitlines()[1:] == [
        "  jitter: each run starts up to 5m later than shown",
        "   1  Sat 2026-11-21 02:00:00 UTC    2026-11-21 02:00:00 UTC",
        "   2  Sun 2026-11-22 02:00:00 UTC    2026-11-22 02:00:00 UTC",
    ]
    result = cli("next", str(path), "--from", "2026-11-20T12:00Z", "--count", "1", "--json")
    assert result.json() == [
        {"local": "2026-11-21T02:00:00+00:00", "utc": "2026-11-21T02:00:00Z", "jitter": "5m"}
    ]
