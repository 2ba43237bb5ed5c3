"""The runner's JSON-line events as log pipelines read them: one type per field, the
level of a final failure, a job's own tracebacks, and the journal's priority prefix."""

from __future__ import annotations

import json
import os
import subprocess

from tests.e2e.runner_env import Env, events, named

J = "tests.entrypoints.jobs"


def _with_both_kinds_of_object(env: Env) -> None:
    env.job("numbered", "object_id: 50140\n")
    env.job("referenced", f"object_id: {J}:fail\nmax_retries: 0\n")


def test_object_id_is_a_string_in_every_event_and_every_json_output(env):
    _with_both_kinds_of_object(env)
    code, found, err = env.run()
    assert code == 0, err
    typed = {(e["entry_id"], type(e["object_id"])) for e in found if "object_id" in e}
    assert typed == {("numbered", str), ("referenced", str)}
    assert {e["object_id"] for e in found if "object_id" in e} == {"50140", f"{J}:fail"}

    def out(*args: str) -> str:
        proc = subprocess.run(
            env.command(*args), cwd=env.root, env=env.env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    listed = {e["id"]: e["object_id"] for e in json.loads(out("list", "--json"))}
    assert listed == {"numbered": "50140", "referenced": f"{J}:fail"}
    assert json.loads(out("show", "numbered", "--json"))["object_id"] == "50140"
    logged = [json.loads(line) for line in out("log", "--json").splitlines()]
    assert {type(r["object_id"]) for r in logged} == {str}


def test_a_final_failure_is_logged_as_an_error(env):
    env.job("bad", f"object_id: {J}:fail\nmax_retries: 1\nrerun_delay: 0\n")
    code, found, err = env.run()
    assert code == 0, err
    assert [e["level"] for e in named(found, "run_failed", "bad")] == ["warning", "warning"]
    assert [e["level"] for e in named(found, "run_failed_finally", "bad")] == ["error"]


def test_a_jobs_logged_exception_keeps_its_traceback(env):
    env.job("soft", f"object_id: {J}:logs_exception\n")
    code, _, err = env.run()
    assert code == 0, err
    (row,) = env.log("soft")
    (line,) = [json.loads(x) for x in row.output.splitlines() if "lookup_failed" in x]
    assert line["level"] == "error"
    assert "Traceback (most recent call last):" in line["exception"]
    assert "KeyError: 'missing-key'" in line["exception"]
    assert "exc_info" not in line


def _run_to(env: Env, stdout_path, journal_stream: str | None) -> str:
    environ = dict(env.env)
    environ.pop("JOURNAL_STREAM", None)
    with open(stdout_path, "w") as stdout:
        if journal_stream == "this":
            found = os.fstat(stdout.fileno())
            environ["JOURNAL_STREAM"] = f"{found.st_dev}:{found.st_ino}"
        elif journal_stream is not None:
            environ["JOURNAL_STREAM"] = journal_stream
        proc = subprocess.run(
            env.command("run", "--until-idle"),
            cwd=env.root,
            env=environ,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr
    return stdout_path.read_text()


def test_on_the_journal_each_line_carries_its_priority(env, tmp_path):
    env.job("bad", f"object_id: {J}:fail\nmax_retries: 0\n")
    env.job("good", f"object_id: {J}:ok\n")
    text = _run_to(env, tmp_path / "journal.out", "this")
    lines = text.splitlines()
    assert all(line[:3] in ("<3>", "<4>", "<6>") for line in lines), lines
    by_event = {json.loads(line[3:])["event"]: line[:3] for line in lines}
    assert by_event["run_failed_finally"] == "<3>"
    assert by_event["run_failed"] == "<4>"
    assert by_event["run_finished"] == "<6>"
    file_log = (env.root / ".jobrunner" / "log" / "jobrunner.jsonl").read_text()
    assert all(line.startswith("{") for line in file_log.splitlines())


def test_elsewhere_the_lines_are_plain_json(env, tmp_path):
    env.job("good", f"object_id: {J}:ok\n")
    other = os.stat(env.root)  # JOURNAL_STREAM names another file: stdout was redirected
    for stream in (None, f"{other.st_dev}:{other.st_ino}", "garbage"):
        text = _run_to(env, tmp_path / "plain.out", stream)
        assert "runner_started" in {e["event"] for e in events(text)}
        assert all(line.startswith("{") for line in text.splitlines())
