"""The operator's commands, end to end: real runner, real store, the real CLI."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from jobrunner import model
from jobrunner.views import shapes

S = model.EntryStatus
L = model.LogStatus
J = "tests.entrypoints.jobs"


def cli(env, *args, stdin=None):
    proc = subprocess.run(
        env.command(*args),
        cwd=env.root,
        env=env.env,
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_list_and_show(env):
    env.job("good", f"object_id: {J}:ok\ncategory: A\nrecurrence:\n  every: 1h\n")
    env.job("bad", f"object_id: {J}:fail\nmax_retries: 0\n")
    env.run()
    rows = json.loads(cli(env, "list", "--json").stdout)
    assert [(r["id"], r["status"], r["last_result"]) for r in rows] == [
        ("bad", "error", "error"),
        ("good", "ready", "success"),
    ]
    assert set(rows[0]) >= {
        "id",
        "status",
        "next_run",
        "last_run",
        "last_result",
        "attempts",
        "max_retries",
        "category",
        "rejected",
        "file",
    }
    assert [
        r["id"] for r in json.loads(cli(env, "list", "--json", "--status", "error").stdout)
    ] == ["bad"]
    assert [r["id"] for r in json.loads(cli(env, "list", "--json", "--category", "A").stdout)] == [
        "good"
    ]
    table = cli(env, "list").stdout.splitlines()
    assert table[0].split() == [
        "ID",
        "STATUS",
        "NEXT",
        "LEFT",
        "LAST",
        "PASSED",
        "RESULT",
        "ATTEMPTS",
        "CATEGORY",
        "DESCRIPTION",
    ]
    assert "\033[" not in cli(env, "list").stdout  # no colour when not a terminal
    shown = json.loads(cli(env, "show", "bad", "--json").stdout)
    assert shown["error_message"] == "boom: "
    assert "ValueError" in shown["error_call_stack"]
    assert shown["file"] == "jobs.d/bad.yaml"
    assert [row["status"] for row in shown["log"]] == ["error"]
    good = json.loads(cli(env, "show", "good", "--json").stdout)
    assert len(good["next_runs"]) == 3
    text = cli(env, "show", "bad").stdout
    assert "last error call stack:" in text
    assert cli(env, "show", "nope").returncode == 2


def test_list_marks_a_rejected_file(env):
    env.job("a", f"object_id: {J}:ok\nrecurrence:\n  every: 1h\n")
    env.run()
    env.job("a", f"object_id: {J}:ok\nrecurrence:\n  every: often\n")
    env.run()
    (row,) = json.loads(cli(env, "list", "--json").stdout)
    assert row["rejected"].startswith("jobs.d/a.yaml:3: recurrence.every:")
    assert cli(env, "list").stdout.splitlines()[1].startswith("!")
    checked = cli(env, "validate")
    assert checked.returncode == 1
    assert (
        "note: jobs.d/a.yaml is rejected; entry 'a' keeps its last good definition"
        in checked.stderr
    )


def test_log_and_sessions(env):
    env.job("a", f"object_id: {J}:ok\n")
    env.job("b", f"object_id: {J}:fail\n")
    env.run()
    rows = json.loads("[" + ",".join(cli(env, "log", "--json").stdout.split("\n")[:-1]) + "]")
    assert [r["entry_no"] for r in rows] == sorted((r["entry_no"] for r in rows), reverse=True)
    assert {r["entry_id"] for r in rows} == {"a", "b"}
    assert all(r["duration_ms"] % 100 == 0 for r in rows)
    errors_only = cli(env, "log", "--status", "error", "--json").stdout.strip().splitlines()
    assert [json.loads(line)["entry_id"] for line in errors_only] == ["b"]
    assert len(cli(env, "log", "--limit", "1", "--json").stdout.strip().splitlines()) == 1
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert cli(env, "log", "--since", future, "--json").stdout == ""
    events = json.loads(cli(env, "sessions", "--json").stdout)
    assert sorted(e["event"] for e in events) == ["logoff", "logoff", "logon", "logon"]
    assert set(events[0]) == {
        "seq",
        "session_id",
        "event",
        "at",
        "user",
        "runner_id",
        "client_type",
        "entry_id",
        "pid",
        "comment",
    }


def test_duration_rounds_to_100_ms_like_bc():
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def row(ms):
        return model.LogEntry(
            entry_id="x", start_at=start, end_at=start + timedelta(milliseconds=ms)
        )

    assert shapes.duration(row(50)) == timedelta(milliseconds=100)
    assert shapes.duration(row(49)) == timedelta(0)
    assert shapes.duration(row(1249)) == timedelta(milliseconds=1200)


def test_log_follow_streams_new_entries(env):
    env.job("a", f"object_id: {J}:ok\n")
    env.run()
    follower = subprocess.Popen(
        env.command("log", "--follow", "--json"),
        cwd=env.root,
        env=env.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(follower.stdout.readline())
        assert first["entry_id"] == "a"
        env.job("b", f"object_id: {J}:ok\n")
        env.run()
        streamed = json.loads(follower.stdout.readline())
        assert (streamed["entry_id"], streamed["status"]) == ("b", "success")
    finally:
        follower.kill()
        follower.communicate()


def test_set_status_wakes_a_running_runner(env):
    env.job("j", f"object_id: {J}:flaky\nparameter_string: '1'\n")  # fails once, then works
    runner = env.start()
    try:
        env.wait_for_mark("j", "flaky")
        deadline = time.monotonic() + 10
        while env.entry("j").status is not S.ERROR:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        held = cli(env, "set-status", "j", "on_hold")
        assert held.returncode == 0
        assert "on hold" in held.stdout
        asked = time.monotonic()
        ready = cli(env, "set-status", "j", "ready", "--json")
        data = json.loads(ready.stdout)
        assert data["changed"] is True
        assert data["entry"]["attempts"] == 0
        assert data["entry"]["error_message"] == "connection reset"  # kept until the next run
        while len(env.marks_of("j")) < 2:
            assert time.monotonic() - asked < 5, "the runner did not wake"
            time.sleep(0.02)
        assert time.monotonic() - asked < 3  # within the 1 s enqueue margin, not a poll
    finally:
        runner.terminate()
        runner.communicate(timeout=20)
    assert env.entry("j").status is S.FINISHED


def test_set_status_ready_twice_and_file_on_hold_wins(env):
    env.job("r", f"object_id: {J}:ok\nrecurrence:\n  every: 1h\n")
    env.job("h", f"object_id: {J}:ok\nstatus: on_hold\n")
    env.run()
    version = env.entry("r").version
    again = cli(env, "set-status", "r", "ready")
    assert (again.returncode, again.stdout.strip()) == (0, "r is already ready; nothing changed")
    assert env.entry("r").version == version
    refused = cli(env, "set-status", "h", "ready")
    assert refused.returncode == 1
    assert "the file wins" in refused.stdout
    assert env.entry("h").status is S.ON_HOLD
    assert cli(env, "set-status", "nope", "ready").returncode == 2


def test_run_once_in_the_foreground(env):
    env.job("r", f"object_id: {J}:ok\nparameter_string: hi\nrecurrence:\n  every: 1h\n")
    env.run()
    before = env.entry("r")
    done = cli(env, "run-once", "r")
    assert done.returncode == 0
    assert "ok ran with parameter 'hi'" in done.stdout
    assert env.entry("r") == before  # the entry itself is untouched
    newest = env.log("r")[0]
    assert (newest.status, newest.client_type) == (L.SUCCESS, model.ClientType.FOREGROUND)
    db = env.store()
    kinds = {e.client_type for e in db.list_sessions() if e.session_id == newest.session_id}
    db.close()
    assert kinds == {model.ClientType.FOREGROUND}


def test_run_once_may_ask_and_reports_failure(env):
    env.job("ask", f"object_id: {J}:asks_confirm\n")
    env.job("bad", f"object_id: {J}:fail\n")
    env.run()
    asked = cli(env, "run-once", "ask", stdin="y\n")
    assert asked.returncode == 0, asked.stderr
    assert "Delete everything? [Y/n]" in asked.stdout
    failed = subprocess.run(  # not cli(): its call stack is printed, "Traceback" and all
        env.command("run-once", "bad"), cwd=env.root, env=env.env, capture_output=True, text=True
    )
    assert failed.returncode == 1
    assert "bad: error: boom:" in failed.stderr


def test_mark_error_only_for_in_process(env):
    env.job("a", f"object_id: {J}:ok\n")
    env.run()
    db = env.store()
    (stuck,) = db.commit(
        model.Transition(
            reason="t",
            log_insert=(
                model.LogEntry(entry_id="a", start_at=datetime.now(UTC), session_id="gone"),
            ),
        )
    )
    done = db.list_log(status=L.SUCCESS)[0].entry_no
    db.close()
    marked = cli(env, "mark-error", str(stuck))
    assert marked.returncode == 0
    user = pwd.getpwuid(os.getuid()).pw_name
    assert marked.stdout.strip() == f"Marked as an error by {user}."
    refused = cli(env, "mark-error", str(done))
    assert refused.returncode == 2
    assert "Only entries with the status In Progress can be marked as errors." in refused.stderr


def test_prune_log_never_removes_in_process(env):
    env.job("a", f"object_id: {J}:ok\n")
    env.run()
    db = env.store()
    db.commit(
        model.Transition(
            reason="t", log_insert=(model.LogEntry(entry_id="a", start_at=datetime.now(UTC)),)
        )
    )
    db.close()
    pruned = cli(env, "prune-log", "--older-than", "0")
    assert pruned.returncode == 0
    assert [row.status for row in env.log()] == [L.IN_PROCESS]


def test_permission_failure_at_run_time_and_in_validate(env):
    me = pwd.getpwuid(os.getuid()).pw_name
    env.configure(f"users:\n  {me}:\n    objects: ['{J}:ok']\n")
    env.job("allowed", f"object_id: {J}:ok\n")
    env.job("denied", "object_id: 50100\n")
    env.run()
    assert env.entry("allowed").status is S.FINISHED
    denied = env.entry("denied")
    assert denied.status is S.ERROR
    assert denied.error_message == f"User {me!r} has no permission to run codeunit 50100."
    env.job("named", f"object_id: 50100\nuser: {me}\n")
    checked = cli(env, "validate")
    assert checked.returncode == 1
    assert (
        f"jobs.d/named.yaml:1: object_id: User {me!r} has no permission to run codeunit 50100."
    ) in checked.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="the ownership rule applies when running as root")
def test_file_naming_another_user_must_be_owned_safely(env):
    env.job("writable", f"object_id: {J}:ok\nuser: nobody\n")
    os.chmod(env.jobs / "writable.yaml", 0o666)
    env.job("foreign", f"object_id: {J}:ok\nuser: nobody\n")
    os.chown(env.jobs / "foreign.yaml", pwd.getpwnam("daemon").pw_uid, -1)
    env.job("fine", f"object_id: {env.world_readable_job()}\nuser: nobody\n")
    os.chown(env.jobs / "fine.yaml", pwd.getpwnam("nobody").pw_uid, -1)
    checked = cli(env, "validate").stdout
    assert (
        "jobs.d/writable.yaml:2: user: the file jobs.d/writable.yaml is writable by "
        "group or others (chmod go-w jobs.d/writable.yaml)"
    ) in checked
    assert (
        "jobs.d/foreign.yaml:2: user: the file names user 'nobody' but the file "
        "jobs.d/foreign.yaml is owned by 'daemon'; only a file that root controls may name "
        "another user"
    ) in checked
    env.run()
    assert env.entry("writable") is None
    assert env.entry("foreign") is None
    assert env.entry("fine").status is S.FINISHED
