"""How `log`, `show` and alerts show a run's report document (pure)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from jobrunner import alerts, model
from jobrunner.testing import utc
from jobrunner.views import shapes, text

UTC = ZoneInfo("UTC")
T0 = utc(2026, 11, 30, 7)


def row(no, entry_id="weekly"):
    return model.LogEntry(
        entry_id=entry_id,
        start_at=T0,
        end_at=T0,
        status=model.LogStatus.SUCCESS,
        entry_no=no,
        object_type="report",
    )


def test_the_log_table_marks_the_runs_that_kept_a_document_in_kind():
    lines = text.log_table([row(2), row(1, "plain")], UTC, False, marks={2: "xlsx"}).splitlines()
    assert lines[1].split()[3:5] == ["job", "(xlsx)"]
    assert lines[2].split()[3:5] == ["job", "2026-11-30"]
    assert text.log_table([row(1)], UTC, False) == text.log_table([row(1)], UTC, False, marks={})


def test_log_widths_count_the_mark():
    assert text.log_widths([row(2)], UTC, {2: "xlsx"})[3] == len("job (xlsx)")


def test_log_json_names_the_document_or_null():
    document = {"file": "weekly_2_20261130T070000Z.xlsx", "format": "xlsx", "bytes": 5}
    assert shapes.log_json(row(2), document)["report_output"] == document
    assert shapes.log_json(row(1))["report_output"] is None


def test_show_names_the_latest_document():
    entry = model.Entry(
        spec=model.JobSpec(id="weekly", object_id=1, object_type="report", report_output="xlsx"),
        status=model.EntryStatus.READY,
    )
    shown = text.show_text(entry, [row(3), row(2)], UTC, False, {2: "xlsx", 3: "xlsx"})
    assert "report output of log entry 3: jobrunner output 3" in shown
    assert "report output" not in text.show_text(entry, [row(3)], UTC, False, {})


def test_an_email_body_names_the_attached_document():
    run = alerts.RunEnd(entry_id="weekly", ok=True, final=False, at=T0, log_no=3)
    msg = alerts.message(run, alerts.SUCCESS, "web-01")
    assert "output" not in msg
    assert "attached" not in alerts.text(msg)
    body = alerts.text({**msg, "output": "weekly_3_20261130T070000Z.xlsx"})
    assert "output: weekly_3_20261130T070000Z.xlsx (attached)\n" in body


def test_a_channel_attaches_only_when_it_says_so():
    raw = {
        "channels": {"a": {"email": {"to": "x@y"}, "attach": True}, "b": {"webhook": "http://h"}}
    }
    a, b = alerts.settings(raw, "web-01").channels
    assert (a.attach, b.attach) == (True, False)
