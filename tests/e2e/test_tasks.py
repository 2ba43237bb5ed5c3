"""The Task Scheduler API and CLI against a real runner and store."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from datetime import UTC, datetime, timedelta

from jobrunner import model
from tests.e2e.runner_env import named

J = "tests.entrypoints.jobs"
L = model.LogStatus


def cli(env, *args):
    proc = subprocess.run(
        env.command(*args), cwd=env.root, env=env.env, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def ready_state(env):
    """A store exists once a runner has run (the task commands need one)."""
    env.run()


def test_can_create_task_without_a_users_section(env):
    env.job("asks", f"object_id: {J}:may_create\n")
    env.run()
    assert env.marks_of("asks")[0].startswith("may_create True")


def test_a_job_splits_its_work_into_tasks(env):
    env.job("split", f"object_id: {J}:makes_task\nparameter_string: a,b,c\n")
    _, found, _ = env.run("--horizon", "3s")
    parts = sorted(m.split(" ")[1] for m in env.marks_of("split") if m.startswith("part"))
    assert parts == ["a", "b", "c"]
    assert len(named(found, "task_finished")) == 3
    rows = env.log("split")
    assert (
        sorted(r.description for r in rows if r.description.startswith("task"))
        == [f"task {J}:part (main)"] * 3
    )
    db = env.store()
    assert db.list_tasks() == []
    logons = [e for e in db.list_sessions() if e.event == "logon"]
    db.close()
    assert len(logons) == 4  # the job and its three tasks, each a session


def test_start_session_runs_now_in_the_background(env):
    env.job("s", f"object_id: {J}:starts_session\n")
    env.run("--horizon", "3s")
    assert [
        m.split(" ")[1] for m in env.marks_of("None") + env.marks_of("s") if m.startswith("part")
    ] == ["session"]


def test_failure_object_runs_with_the_error(env):
    ready_state(env)
    created = cli(
        env,
        "task",
        "create",
        f"{J}:fail",
        "--failure",
        f"{J}:handler",
        "--parameter",
        "x",
        "--record",
        "rec",
    )
    assert created.returncode == 0
    task_id = created.stdout.strip()
    listed = json.loads(cli(env, "task", "list", "--json").stdout)
    assert [(t["id"], t["phase"], t["failure_object"]) for t in listed] == [
        (task_id, "main", f"{J}:handler")
    ]
    _, found, _ = env.run("--horizon", "3s")
    (handled,) = [m for m in env.marks_of("rec") if m.startswith("handler")]
    assert "True 'boom: x'" in handled
    assert [e["event"] for e in found if e["event"].startswith("task_")] == [
        "task_started",
        "task_failure_object_scheduled",
        "task_started",
        "task_finished",
    ]
    assert [r.status for r in reversed(env.log("rec"))] == [L.ERROR, L.SUCCESS]
    assert cli(env, "task", "exists", task_id).returncode == 1


def test_a_task_without_failure_object_fails_and_is_recorded(env):
    ready_state(env)
    task_id = cli(env, "task", "create", f"{J}:fail", "--parameter", "y").stdout.strip()
    _, found, _ = env.run("--horizon", "3s")
    assert named(found, "task_failed")[0]["error"] == "boom: y"
    (row,) = env.log(f"task:{task_id}")
    assert (row.status, row.error_message) == (L.ERROR, "boom: y")


def test_cancelled_pending_task_never_runs(env):
    ready_state(env)
    later = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    task_id = cli(
        env, "task", "create", f"{J}:part", "--not-before", later, "--record", "c"
    ).stdout.strip()
    assert cli(env, "task", "exists", task_id).returncode == 0
    cancelled = cli(env, "task", "cancel", task_id)
    assert (cancelled.returncode, cancelled.stdout.strip()) == (0, f"task {task_id} cancelled")
    env.run("--horizon", "5s")
    assert env.marks_of("c") == []
    assert cli(env, "task", "exists", task_id).returncode == 1
    assert cli(env, "task", "cancel", task_id).returncode == 1


def test_a_dormant_task_runs_once_made_ready(env):
    ready_state(env)
    task_id = cli(
        env, "task", "create", f"{J}:part", "--not-ready", "--record", "d", "--parameter", "late"
    ).stdout.strip()
    env.run("--horizon", "2s")
    assert env.marks_of("d") == []
    assert cli(env, "task", "ready", task_id).returncode == 0
    env.run("--horizon", "2s")
    assert [m.split(" ")[1] for m in env.marks_of("d")] == ["late"]


def test_permission_refusal(env):
    me = pwd.getpwuid(os.getuid()).pw_name
    env.configure(f"users:\n  {me}:\n    objects: ['{J}:*']\n    create_tasks: false\n")
    env.job("split", f"object_id: {J}:makes_task\nparameter_string: a\n")
    env.job("asks", f"object_id: {J}:may_create\n")
    env.run()
    assert env.marks_of("asks")[0].startswith("may_create False")
    entry = env.entry("split")
    assert entry.error_message == f"User {me!r} has no permission to create tasks."
    refused = cli(env, "task", "create", f"{J}:part")
    assert refused.returncode == 2
    assert f"User {me!r} has no permission to create tasks." in refused.stderr


def test_each_scheduled_entry_runs_as_a_task(env):
    env.job("rec", f"object_id: {J}:ok\nrecurrence:\n  every: 1h\n")
    env.run()
    shown = json.loads(cli(env, "show", "rec", "--json").stdout)
    task_id = shown["system_task_id"]
    assert task_id
    assert env.log("rec")[0].system_task_id == task_id
    assert json.loads(cli(env, "task", "list", "--json").stdout) == []
    (backing,) = json.loads(cli(env, "task", "list", "--all", "--json").stdout)
    assert (backing["id"], backing["object"], backing["record"], backing["ready"]) == (
        task_id,
        "jobrunner:dispatch",
        "rec",
        True,
    )
    assert backing["not_before"] == shown["next_run"]
    assert cli(env, "task", "exists", task_id).returncode == 0
    refused = cli(env, "task", "cancel", task_id)
    assert refused.returncode == 1
    assert "backs job queue entry 'rec'; use jobrunner set-status rec on_hold" in refused.stderr
    cli(env, "set-status", "rec", "on_hold")
    assert cli(env, "task", "exists", task_id).returncode == 1
    assert json.loads(cli(env, "show", "rec", "--json").stdout)["system_task_id"] is None
