"""`validate` (resolving) says when a report's format needs a library not installed."""

from __future__ import annotations

import sys

from jobrunner import config, validate


def test_validate_names_the_extra_a_reports_format_needs(tmp_path, monkeypatch):
    jobs = tmp_path / "jobs.d"
    jobs.mkdir(mode=0o755)
    (jobs / "weekly.yaml").write_text(
        "object_type: report\nobject_id: jobrunner.demo:run_statistics\nreport_output: pdf\n"
    )
    (jobs / "daily.yaml").write_text(
        "object_type: report\nobject_id: jobrunner.demo:run_statistics\nreport_output: xlsx\n"
    )
    cfg = config.load(None, cwd=tmp_path)
    assert validate.run(cfg).problems == []
    monkeypatch.setitem(sys.modules, "fpdf", None)  # what Python does for a missing one
    (problem,) = validate.run(cfg).problems
    assert (problem.file, problem.line, problem.path) == (
        str(jobs / "weekly.yaml"),
        3,
        "report_output",
    )
    assert problem.message == (
        "pdf needs the package 'fpdf2', which is not installed (pip install 'jobrunner[pdf]')"
    )
    assert validate.run(cfg, resolve=False).problems == []
