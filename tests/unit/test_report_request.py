"""The report part of a session's request: typed on the runner's side, and the dict the
session reads in the request's wire form."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobrunner import executor, model, reports
from jobrunner.reports import runs

SESSIONS = Path("/state/sessions")


def spec(**keys):
    return model.JobSpec(id="weekly", object_id=1, description="Weekly sales", **keys)


def test_a_codeunit_asks_for_no_report():
    assert runs.request(spec(), SESSIONS, "s1", 100) is None
    assert executor.SessionRequest(session_id="s1").wire()["report"] is None


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_a_report_with_a_document_names_its_file_beside_the_sessions_files(fmt):
    wanted = spec(object_type="report", report_output=fmt, report_parameters={"days": 7})
    asked = runs.request(wanted, SESSIONS, "s1", 100)
    assert asked == reports.ReportRequest(
        format=fmt,
        parameters={"days": 7},
        limit=100,
        title="Weekly sales",
        path=f"/state/sessions/s1.report.{fmt}",
    )
    assert executor.SessionRequest(session_id="s1", report=asked).wire()["report"] == {
        "format": fmt,
        "parameters": {"days": 7},
        "limit": 100,
        "title": "Weekly sales",
        "path": f"/state/sessions/s1.report.{fmt}",
    }


def test_a_report_for_its_effects_alone_has_no_file_and_is_titled_by_its_id():
    asked = runs.request(
        model.JobSpec(id="weekly", object_id=1, object_type="report", report_output="none"),
        SESSIONS,
        "s1",
        100,
    )
    assert asked is not None
    assert asked.wire() == {"format": "none", "parameters": {}, "limit": 100, "title": "weekly"}


def test_the_wire_form_is_a_copy_the_session_may_change():
    """The session adds its file's descriptor to the dict it reads."""
    asked = reports.ReportRequest(format="csv", parameters={"days": 7}, path="/x")
    wired = asked.wire()
    wired["fd"] = 3
    wired["parameters"]["days"] = 1
    assert asked.wire() == {
        "format": "csv",
        "parameters": {"days": 7},
        "limit": reports.DEFAULT_LIMIT,
        "title": "",
        "path": "/x",
    }
