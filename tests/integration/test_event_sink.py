"""The event sink: every line to stdout and the log file, the file rotated by size."""

from __future__ import annotations

import io
import json

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
