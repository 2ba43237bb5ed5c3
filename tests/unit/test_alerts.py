"""Alert rules, throttling and messages: pure functions of the run's end and now."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobrunner import alerts
from jobrunner.testing import utc

NOW = utc(2026, 11, 21, 2)


def run(**kw):
    kw.setdefault("entry_id", "nightly")
    kw.setdefault("ok", False)
    kw.setdefault("final", False)
    kw.setdefault("at", NOW)
    return alerts.RunEnd(**kw)


def channel(**kw):
    kw.setdefault("name", "ops")
    kw.setdefault("kind", "webhook")
    return alerts.Channel(**kw)


def test_default_is_final_failure_only():
    c = channel()
    assert alerts.reason(c, run(final=True)) == "final_failure"
    assert alerts.reason(c, run(final=False)) is None  # a retry follows
    assert alerts.reason(c, run(ok=True, failed_before=3)) is None
    assert alerts.reason(c, run(ok=True)) is None


def test_after_n_consecutive_failures_once_per_streak():
    c = channel(on=frozenset(), after_failures=3)
    assert [alerts.reason(c, run(failed_before=n)) for n in range(5)] == [
        None,
        None,
        "failures",
        None,
        None,
    ]


def test_recovery_and_every_success():
    c = channel(on=frozenset({"recovery"}))
    assert alerts.reason(c, run(ok=True, failed_before=1)) == "recovery"
    assert alerts.reason(c, run(ok=True, failed_before=0)) is None
    both = channel(on=frozenset({"recovery", "success"}))
    assert alerts.reason(both, run(ok=True, failed_before=2)) == "recovery"
    assert alerts.reason(both, run(ok=True)) == "success"


def test_final_failure_wins_over_the_count():
    c = channel(after_failures=1)
    assert alerts.reason(c, run(final=True)) == "final_failure"
    assert alerts.reason(c, run(final=False)) == "failures"


def test_entries_patterns():
    c = channel(entries=("nightly-*", "report"))
    assert alerts.reason(c, run(entry_id="nightly-sync", final=True)) == "final_failure"
    assert alerts.reason(c, run(entry_id="report", final=True)) == "final_failure"
    assert alerts.reason(c, run(entry_id="other", final=True)) is None


def test_throttle_holds_back_and_counts():
    period = timedelta(minutes=10)
    send, gate = alerts.throttle(None, NOW, period)
    assert send
    assert gate == alerts.Gate(last_sent=NOW, held=0)
    send, gate = alerts.throttle(gate, NOW + timedelta(minutes=3), period)
    assert not send
    send, gate = alerts.throttle(gate, NOW + timedelta(minutes=9), period)
    assert not send
    assert gate.held == 2
    before = gate
    send, gate = alerts.throttle(gate, NOW + period, period)
    assert send
    assert before.held == 2  # what the message sent now reports
    assert gate == alerts.Gate(last_sent=NOW + period, held=0)


def test_no_throttle_period_sends_everything():
    send, _ = alerts.throttle(alerts.Gate(last_sent=NOW), NOW, timedelta(0))
    assert send


def test_message_names_entry_error_attempt_log_and_host():
    r = run(
        final=True,
        error="ValueError: bad row\n  more",
        attempt=3,
        log_no=42,
        description="Nightly sync",
        failed_before=2,
    )
    msg = alerts.message(r, "final_failure", "web-01", held_back=4)
    assert msg == {
        "event": "final_failure",
        "entry_id": "nightly",
        "description": "Nightly sync",
        "status": "error",
        "error": "ValueError: bad row",
        "attempt": 3,
        "log_entry_no": 42,
        "consecutive_failures": 3,
        "host": "web-01",
        "at": "2026-11-21T02:00:00Z",
        "held_back": 4,
    }
    assert alerts.subject(msg) == "jobrunner: nightly failed (no retry left) on web-01"
    body = alerts.text(msg)
    assert "error: ValueError: bad row" in body
    assert "log entry: 42" in body
    assert "held back since the last message: 4" in body


def test_settings_from_the_config():
    s = alerts.settings(
        {
            "throttle": "30m",
            "retries": 1,
            "channels": {
                "hook": {"webhook": "http://h/x", "on": ["recovery"], "after_failures": 2},
                "mail": {"email": {"to": "ops@example.com", "server": "smtp:2525"}, "throttle": 0},
                "page": {"command": ["page", "--now"], "entries": ["n*"]},
            },
        },
        "host-a",
    )
    assert s.host == "host-a"
    assert s.retries == 1
    assert s.lookback == 2
    hook, mail, page = (
        next(c for c in s.channels if c.name == n) for n in ("hook", "mail", "page")
    )
    assert (hook.kind, hook.url, hook.on, hook.throttle) == (
        "webhook",
        "http://h/x",
        frozenset({"recovery"}),
        timedelta(minutes=30),
    )
    assert (mail.to, mail.sender, mail.server, mail.throttle) == (
        ("ops@example.com",),
        "jobrunner@host-a",
        "smtp:2525",
        timedelta(0),
    )
    assert (page.argv, page.entries, page.on) == (
        ("page", "--now"),
        ("n*",),
        frozenset({"final_failure"}),
    )


@pytest.mark.parametrize("raw", [None, {}])
def test_no_notify_section_no_channels(raw):
    assert alerts.settings(raw, "h").channels == ()


def test_item_final_failures_go_only_to_channels_that_ask():
    assert not alerts.item_wanted(channel(), "orders")  # default [final_failure]
    asks = channel(on=frozenset({alerts.ITEM_FAILED_FINALLY}))
    assert alerts.item_wanted(asks, "orders")
    only = channel(on=frozenset({alerts.ITEM_FAILED_FINALLY}), entries=("nightly-*",))
    assert not alerts.item_wanted(only, "orders")


def test_item_message_subject_and_text():
    failure = {
        "entry_id": "orders",
        "queue": "q",
        "key": "SO-1",
        "error": "bad\nmore",
        "attempt": 3,
        "at": utc(2026, 3, 2, 9),
    }
    msg = alerts.item_message(failure, "web-01", held_back=2)
    assert (msg["event"], msg["error"], msg["at"], msg["held_back"]) == (
        "item_failed_finally",
        "bad",
        "2026-03-02T09:00:00Z",
        2,
    )
    assert alerts.subject(msg) == (
        "jobrunner: orders item SO-1 of queue q failed (no attempt left) on web-01"
    )
    assert "item: SO-1 (queue q)" in alerts.text(msg)
    assert "log entry" not in alerts.text(msg)
