"""The event sink: every line to stdout and the log file, the file rotated by size."""

from __future__ import annotations

import io
import json
import os
import re
import time
from datetime import datetime

from jobrunner import telemetry


def test_lines_go_to_both_outputs_and_the_file_rotates(tmp_path, monkeypatch):
    monkeypatch.setattr(telemetry, "MAX_BYTES", 1000)
    stream = io.StringIO()
    path = tmp_path / telemetry.LOG_FILE
    sink = telemetry.Sink(stream, path)
    line = json.dumps({"event": "run_started", "pad": "x" * 80})
    for _ in range(60):
        sink.write(line)
    sink.close()
    assert stream.getvalue() == (line + "\n") * 60
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [telemetry.LOG_FILE] + [
        f"{telemetry.LOG_FILE}.{n}" for n in range(1, telemetry.BACKUPS + 1)
    ]
    for p in tmp_path.iterdir():
        assert 0 < p.stat().st_size <= 1000
        assert all(json.loads(row)["event"] == "run_started" for row in p.read_text().splitlines())


def test_a_closed_stdout_does_not_stop_the_file_log(tmp_path):
    stream = io.StringIO()
    stream.close()
    sink = telemetry.Sink(stream, tmp_path / "events.jsonl")
    sink.write('{"event": "runner_started"}')
    sink.close()
    assert (tmp_path / "events.jsonl").read_text() == '{"event": "runner_started"}\n'


def test_the_configured_logger_writes_json_lines_with_bc_ids(tmp_path):
    stream = io.StringIO()
    telemetry.configure(tmp_path, stream)
    try:
        telemetry.get_logger(runner_id="r1").warning("run_failed", entry_id="nightly")
    finally:
        telemetry.configure(None, io.StringIO())
    event = json.loads(stream.getvalue())
    assert event["event"] == "run_failed"
    assert event["level"] == "warning"
    assert event["bc_event"] == "AL0000HE7"
    assert event["runner_id"] == "r1"
    assert (tmp_path / "log" / telemetry.LOG_FILE).read_text() == stream.getvalue()


def test_held_lines_go_out_together_at_the_end_in_order(tmp_path):
    stream = io.StringIO()
    path = tmp_path / "events.jsonl"
    sink = telemetry.Sink(stream, path)
    with sink.held():
        sink.write('{"event": "run_started"}')
        with sink.held():  # nested: still one batch
            sink.write('{"event": "session_logon"}')
        assert stream.getvalue() == ""
        assert path.read_text() == ""
    sink.write('{"event": "run_finished"}')
    sink.close()
    expected = '{"event": "run_started"}\n{"event": "session_logon"}\n{"event": "run_finished"}\n'
    assert stream.getvalue() == expected
    assert path.read_text() == expected


def test_held_lines_are_written_also_when_the_pass_fails(tmp_path):
    stream = io.StringIO()
    sink = telemetry.Sink(stream, None)
    try:
        with sink.held():
            sink.write('{"event": "run_failed"}')
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert stream.getvalue() == '{"event": "run_failed"}\n'


def test_rendered_events_have_level_utc_timestamp_and_survive_odd_values():
    line = telemetry.render(None, "exception", {"event": "run_failed", "path": object})
    event = json.loads(line)
    assert list(event) == ["event", "path", "level", "timestamp", "bc_event"]
    assert event["level"] == "error"
    assert event["path"] == repr(object)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["timestamp"])
    stamp = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    assert abs(stamp.timestamp() - time.time()) < 5


def test_on_the_journal_held_lines_keep_their_priorities_and_the_file_none(tmp_path, monkeypatch):
    out = (tmp_path / "journal").open("w")
    found = os.fstat(out.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino}")
    telemetry.configure(tmp_path, out)
    try:
        log = telemetry.get_logger()
        log.info("runner_started")
        with telemetry.held():
            log.warning("run_failed")
            log.error("run_failed_finally")
            log.info("run_finished")
    finally:
        telemetry.configure(None, io.StringIO())
        out.close()
    lines = (tmp_path / "journal").read_text().splitlines()
    assert [(line[:3], json.loads(line[3:])["event"]) for line in lines] == [
        ("<6>", "runner_started"),
        ("<4>", "run_failed"),
        ("<3>", "run_failed_finally"),
        ("<6>", "run_finished"),
    ]
    file_lines = (tmp_path / "log" / telemetry.LOG_FILE).read_text().splitlines()
    assert file_lines == [line[3:] for line in lines]


def test_a_terminal_that_is_the_journal_gets_the_json_lines_with_priorities(tmp_path, monkeypatch):
    import os
    import pty

    primary, secondary = pty.openpty()
    with os.fdopen(secondary, "w") as stream:
        found = os.fstat(secondary)
        monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino}")
        assert telemetry.wants_console("auto", stream) is False
        monkeypatch.delenv("JOURNAL_STREAM")
        assert telemetry.wants_console("auto", stream) is True
        assert telemetry.wants_console("json", stream) is False
    os.close(primary)
    assert telemetry.wants_console("auto", io.StringIO()) is False
    assert telemetry.wants_console("console", io.StringIO()) is True


def test_held_console_lines_go_to_stdout_and_json_lines_to_the_file(tmp_path):
    stream = io.StringIO()
    telemetry.configure(tmp_path, stream, log_format="console")
    try:
        with telemetry.held():
            telemetry.get_logger(runner_id="r1").info("run_started", entry_id="a", status="x")
            telemetry.get_logger(runner_id="r1").debug("run_started", entry_id="b")
            assert stream.getvalue() == ""  # nothing until the pass ends
    finally:
        telemetry.configure(None, io.StringIO())
    (line,) = stream.getvalue().splitlines()
    assert "run_started" in line
    assert "entry_id=a status=x" in line
    assert "r1" not in line
    (event,) = [
        json.loads(x) for x in (tmp_path / "log" / telemetry.LOG_FILE).read_text().splitlines()
    ]
    assert event["runner_id"] == "r1"
    assert event["bc_event"] == "AL0000E25"
