"""Report documents on disk: the session side writing one (in this process), the
folder that keeps them (names, modes, finding, pruning), and the runner's keep step."""

from __future__ import annotations

import csv
import io
import os
import stat
from datetime import timedelta

import pytest

from jobrunner import config, executor, model, pruning, reports, session
from jobrunner.reports import outputs, runs
from jobrunner.store.sqlite import SqliteStore
from jobrunner.testing import utc

T0 = utc(2026, 11, 30, 7)
R = "tests.entrypoints.reports"


def request(tmp_path, ref, fmt="csv", limit=1 << 20, parameter=""):
    """A session's request as the runner sends it (the typed request's wire form)."""
    path = None if fmt == "none" else str(tmp_path / f"s.report.{fmt}")
    report = reports.ReportRequest(
        format=fmt, parameters={"rows": 2}, limit=limit, title="Sales", path=path
    )
    typed = executor.SessionRequest(
        session_id="s", ref=f"{R}:{ref}", parameter=parameter, report=report
    )
    return typed.wire()


def test_a_session_renders_what_a_report_returns(tmp_path):
    result = session.execute(request(tmp_path, "sales"))
    assert result == {"ok": True, "no_activity": False}
    text = (tmp_path / "s.report.csv").read_text(encoding="utf-8")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["region", "orders", "amount", "closed"],
        ["North", "3", "1250.50", "true"],
        ["Süd", "0", "0.0", "false"],
    ]
    assert stat.S_IMODE((tmp_path / "s.report.csv").stat().st_mode) == 0o600


def test_a_report_with_a_layout_of_its_own_writes_its_file(tmp_path):
    assert session.execute(request(tmp_path, "own"))["ok"]
    assert (tmp_path / "s.report.csv").read_bytes() == b"custom;layout\r\n1;2\r\n"


def test_a_report_that_writes_its_file_and_returns_rows_fails(tmp_path):
    result = session.execute(request(tmp_path, "both"))
    assert not result["ok"]
    assert result["message"] == (
        "a report that writes its own file (ctx.report_file()) returns None; "
        "this one returned list too"
    )


def test_a_document_over_the_limit_fails_the_run_and_is_not_kept(tmp_path):
    result = session.execute(request(tmp_path, "big", limit=50_000))
    assert not result["ok"]
    assert result["message"] == (
        "The report's output is 100,206 bytes, over the limit of 50,000 bytes "
        "(report_output_limit)."
    )
    assert "jobrunner.reports:ReportTooLarge" in result["exception"]
    assert (tmp_path / "s.report.csv").stat().st_size == 0


def test_a_layout_of_its_own_over_the_limit_fails_too(tmp_path):
    result = session.execute(request(tmp_path, "own", limit=10))
    assert result["message"] == (
        "The report's output is 20 bytes, over the limit of 10 bytes (report_output_limit)."
    )
    assert (tmp_path / "s.report.csv").stat().st_size == 0


def test_a_result_that_is_not_rows_fails_with_what_a_report_returns(tmp_path):
    result = session.execute(request(tmp_path, "number"))
    assert result["message"].startswith("a report returns its rows as a list of mappings")
    assert result["message"].endswith("this one returned int")


def test_report_output_none_runs_for_its_effects_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBRUNNER_TEST_MARKS", str(tmp_path))
    assert session.execute(request(tmp_path, "effects", fmt="none"))["ok"]
    assert (tmp_path / "effects.marks").read_text() == "ran\n"
    assert os.listdir(tmp_path) == ["effects.marks"]


def test_only_a_report_with_a_document_has_a_file(tmp_path):
    def asks(report):
        ctx = session.Context({"session_id": "s", "report": report})
        with pytest.raises(Exception, match="only a report entry with a report_output"):
            ctx.report_file()

    asks(None)
    asks({"format": "none", "parameters": {}})


def log(no, entry_id="weekly", at=T0):
    return model.LogEntry(entry_id=entry_id, start_at=at, entry_no=no, object_type="report")


def written(folder, session_id, fmt="xlsx", data=b"PK document"):
    folder.mkdir(exist_ok=True)
    path = runs.session_file(folder, session_id, fmt)
    path.write_bytes(data)
    return path


def test_a_kept_document_is_private_and_found_by_its_log_entry(tmp_path):
    docs = outputs.FolderOutputs(tmp_path / "reports")
    kept = docs.keep(written(tmp_path / "sessions", "s1"), log(12), "xlsx")
    assert kept.name == "weekly_12_20261130T070000Z.xlsx"
    assert kept.path.read_bytes() == b"PK document"
    assert stat.S_IMODE(kept.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "reports").stat().st_mode) == 0o700
    assert docs.find(12) == kept
    assert docs.find(13) is None
    assert kept.as_dict() == {"file": kept.name, "format": "xlsx", "bytes": 11}
    assert not (tmp_path / "sessions" / "s1.report.xlsx").exists()


def test_keeping_again_after_a_crash_finds_the_document_kept(tmp_path):
    docs = outputs.FolderOutputs(tmp_path / "reports")
    source = written(tmp_path / "sessions", "s1")
    first = docs.keep(source, log(12), "xlsx")
    assert docs.keep(source, log(12), "xlsx") == first


def test_the_runner_keeps_a_successful_runs_document_and_drops_a_failed_ones(tmp_path):
    sessions, docs = tmp_path / "sessions", outputs.FolderOutputs(tmp_path / "reports")
    ok, failed = model.Outcome(ok=True), model.Outcome(ok=False, message="boom")
    written(sessions, "good", "pdf")
    written(sessions, "bad", "pdf")
    written(sessions, "empty", "csv", b"")
    assert runs.kept(docs, sessions, "good", log(1), ok) == ok
    assert runs.kept(docs, sessions, "bad", log(2), failed) == failed
    assert runs.kept(docs, sessions, "empty", log(3), ok) == ok
    assert sorted(docs.index()) == [1]
    assert os.listdir(sessions) == []


def test_a_document_that_cannot_be_kept_fails_the_run(tmp_path):
    sessions = tmp_path / "sessions"
    (tmp_path / "reports").write_text("a file where the folder should be")
    written(sessions, "s", "csv")
    result = runs.kept(
        outputs.FolderOutputs(tmp_path / "reports"), sessions, "s", log(1), model.Outcome(ok=True)
    )
    assert not result.ok
    assert result.message.startswith("The report's output could not be kept: ")


def test_pruned_log_entries_take_their_documents_with_them(tmp_path):
    cfg = config.load(None, cwd=tmp_path)
    cfg = type(cfg)(**{**_fields(cfg), "history": model.History(keep_successful=1)})
    db = SqliteStore(cfg.state_dir / "jobrunner.sqlite3")
    try:
        numbers = db.commit(
            model.Transition(
                reason="t",
                log_insert=tuple(
                    model.LogEntry(
                        entry_id="weekly",
                        start_at=T0 + timedelta(days=i),
                        end_at=T0 + timedelta(days=i, seconds=1),
                        status=model.LogStatus.SUCCESS,
                        object_type="report",
                    )
                    for i in range(3)
                ),
            )
        )
        docs = outputs.of(cfg)
        for no in numbers:
            docs.keep(written(tmp_path / "sessions", f"s{no}"), db.get_log(no), "xlsx")
        (outputs.folder(cfg) / "notes.txt").write_text("not a document")
        events = []

        class Log:
            def info(self, name, **fields):
                events.append((name, fields))

        pruner = pruning.Pruner(db, cfg, Log())
        pruner.ended("weekly")
        pruner.tick(T0 + timedelta(days=3))
        assert sorted(docs.index()) == [numbers[-1]]
        assert ("outputs_pruned", {"files": 2}) in events
        assert (outputs.folder(cfg) / "notes.txt").exists()
    finally:
        db.close()


def _fields(cfg):
    return {name: getattr(cfg, name) for name in cfg.__slots__}
