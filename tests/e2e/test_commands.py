"""The command line as Unix tools behave: a reader that goes away, a missing jobs folder,
trying a job before any runner has run, unknown ids."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading

import pytest

from jobrunner import model
from tests.e2e.runner_env import Env

J = "tests.entrypoints.jobs"


def run(env: Env, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        env.command(*args),
        cwd=env.root,
        env=env.env,
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """An installation whose runner has run a few entries."""
    env = Env(tmp_path_factory.mktemp("ran"))
    for n in range(30):
        env.job(f"job-{n:02}", f"object_id: {J}:ok\n")
    env.job("customer-sync", f"object_id: {J}:ok\n")
    env.job("bad", f"object_id: {J}:fail\nmax_retries: 0\nfailure_handler: {J}:handler\n")
    code, _, err = env.run()
    assert code == 0, err
    return env


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("log", "--json"), id="log-json"),
        pytest.param(("log",), id="log"),
        pytest.param(("log", "--follow", "--json"), id="log-follow"),
        pytest.param(("sessions", "--json"), id="sessions-json"),
        pytest.param(("list",), id="list"),
        pytest.param(("list", "--json"), id="list-json"),
        pytest.param(("show", "bad"), id="show"),
    ],
)
def test_a_reader_that_goes_away_ends_the_command_quietly(ran, args):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first write, as `| head -0` leaves it
    try:
        proc = subprocess.run(
            ran.command(*args),
            cwd=ran.root,
            env=ran.env,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (141, "")


def test_a_reader_that_reads_one_line_sees_no_error(ran):
    pipeline = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{' '.join(ran.command('log', '--json'))} | head -1"],
        cwd=ran.root,
        env=ran.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pipeline.stderr == ""
    assert json.loads(pipeline.stdout)["entry_id"]
    assert pipeline.returncode in (0, 141)  # 0 when every line fitted the pipe's buffer


@pytest.mark.parametrize("until_idle", [True, False], ids=["until-idle", "service"])
def test_run_without_the_jobs_folder_says_so(tmp_path, until_idle):
    env = Env(tmp_path)
    env.configure("jobs_dir: missing.d\n")
    proc = run(env, "run", *(["--until-idle"] if until_idle else []))
    assert proc.returncode == 2
    assert f"the jobs folder {tmp_path / 'missing.d'} does not exist" in proc.stderr
    assert not (tmp_path / "missing.d").exists()
    assert "Traceback" not in proc.stderr


def test_run_once_works_before_any_runner_has_run(tmp_path):
    env = Env(tmp_path)
    env.job("r", f"object_id: {J}:ok\nparameter_string: hi\n")
    done = run(env, "run-once", "r")
    assert (done.returncode, done.stderr.strip()) == (0, "r: success")
    assert "ok ran with parameter 'hi'" in done.stdout
    (row,) = env.log("r")
    assert (row.status, row.client_type) == (model.LogStatus.SUCCESS, model.ClientType.FOREGROUND)
    assert env.entry("r") is None  # a try, not a reconcile


def test_run_once_runs_a_file_that_no_store_holds(tmp_path):
    env = Env(tmp_path)
    env.job("old", f"object_id: {J}:ok\n")
    assert env.run()[0] == 0
    (env.jobs / "new.yaml").write_text(f"object_id: {J}:ok\nparameter_string: fresh\n")
    done = run(env, "run-once", "jobs.d/new.yaml")
    assert done.returncode == 0, done.stderr
    assert "ok ran with parameter 'fresh'" in done.stdout
    assert [r.client_type for r in env.log("new")] == [model.ClientType.FOREGROUND]
    assert env.entry("new") is None


def test_run_once_sets_the_entrys_environment(tmp_path):
    env = Env(tmp_path)
    env.env.update(JR_INHERITED="kept", JR_OVERRIDDEN="terminal's")
    env.job(
        "r",
        "object_id: tests.entrypoints.whoami:environment\n"
        "environment:\n  APP_MODE: nightly\n  JR_OVERRIDDEN: the entry's\n",
    )
    done = run(env, "run-once", "r")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert {"APP_MODE=nightly", "JR_INHERITED=kept", "JR_OVERRIDDEN=the entry's"} <= set(lines)


def test_run_once_failure_prints_the_error_and_its_call_stack(tmp_path):
    env = Env(tmp_path)
    env.job("customer-sync", f"object_id: {J}:ok\n")
    env.job("bad", f"object_id: {J}:fail\n")
    failed = run(env, "run-once", "bad")
    assert failed.returncode == 1
    lines = failed.stderr.splitlines()
    assert lines[0] == "bad: error: boom: "
    assert "Traceback (most recent call last):" in lines
    assert 'jobs.py", line' in failed.stderr
    assert lines[-1].startswith("ValueError: boom:") or "second line" in lines[-1]


def test_run_once_of_an_invalid_file_prints_its_problems(tmp_path):
    env = Env(tmp_path)
    env.job("broken", f"object_id: {J}:ok\nrecurrence:\n  every: 5 min\n")
    for target in ("jobs.d/broken.yaml", "broken"):
        proc = run(env, "run-once", target)
        assert proc.returncode == 2
        assert proc.stderr.splitlines() == [
            "jobs.d/broken.yaml:3: recurrence.every: '5 min' is not a duration "
            "(examples: 30s, 5m, 1h30m)"
        ]
    missing = run(env, "run-once", "jobs.d/nope.yaml")
    assert missing.returncode == 2
    assert "jobs.d/nope.yaml:1:" in missing.stderr
    assert "cannot read" in missing.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("show", "customer-snyc"), id="show"),
        pytest.param(("log", "customer-snyc"), id="log"),
        pytest.param(("next", "customer-snyc"), id="next"),
        pytest.param(("set-status", "customer-snyc", "on_hold"), id="set-status"),
        pytest.param(("run-once", "customer-snyc"), id="run-once"),
    ],
)
def test_an_unknown_id_says_so_and_names_the_nearest(ran, args):
    proc = run(ran, *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(
        "jobrunner: no job queue entry with id 'customer-snyc'; did you mean "
    )
    assert "'customer-sync'" in proc.stderr


def test_an_unknown_id_with_nothing_near_says_so(ran):
    proc = run(ran, "log", "zzzzzz")
    assert (proc.returncode, proc.stderr) == (
        2,
        "jobrunner: no job queue entry with id 'zzzzzz'\n",
    )


def test_log_marks_the_failure_handler_runs(ran):
    rows = [json.loads(line) for line in run(ran, "log", "bad", "--json").stdout.splitlines()]
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("failure_handler", "success"),
        ("job", "error"),
    ]
    table = run(ran, "log", "bad").stdout.splitlines()
    assert table[0].split()[:4] == ["NO", "ENTRY", "STATUS", "KIND"]
    assert "failure handler" in table[1]
    assert table[2].split()[3] == "job"


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stdout lines as they come (a read that never ends cannot hang the
    test: it waits on the queue with a timeout)."""
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in proc.stdout or ():
            found.put(line)

    threading.Thread(target=read, daemon=True).start()
    return found


def test_log_follow_prints_history_and_new_rows_in_one_order_and_alignment(tmp_path):
    env = Env(tmp_path)
    env.job("a", f"object_id: {J}:ok\n")
    env.job("b", f"object_id: {J}:ok\n")
    assert env.run()[0] == 0
    follower = subprocess.Popen(
        env.command("log", "--follow"), cwd=env.root, env=env.env, stdout=subprocess.PIPE, text=True
    )
    out = _lines(follower)
    try:
        lines = [out.get(timeout=15) for _ in range(3)]
        env.job("c", f"object_id: {J}:fail\nmax_retries: 0\n")
        env.run()
        lines.append(out.get(timeout=15))
        env.job("a-much-longer-entry-id", f"object_id: {J}:ok\n")
        env.run()
        lines += [out.get(timeout=15), out.get(timeout=15)]
    finally:
        follower.kill()
        follower.communicate()
    lines = [line.rstrip("\n") for line in lines]
    assert [line.split()[0] for line in lines] == ["NO", "1", "2", "3", "NO", "4"]
    assert [line.split()[1] for line in lines[3:]] == ["c", "ENTRY", "a-much-longer-entry-id"]
    for header, rows in ((lines[0], lines[1:4]), (lines[4], lines[5:])):
        for column in ("ENTRY", "STATUS", "KIND", "START", "DURATION", "ATTEMPT"):
            at = header.index(column)
            assert {row[at - 1] for row in rows} == {" "}, (column, rows)
            assert all(row[at] != " " for row in rows), (column, rows)
