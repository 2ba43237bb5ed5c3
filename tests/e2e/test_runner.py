"""BC's outcome table (§2.8) and the failure path, through the real `jobrunner run`."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobrunner import model
from tests.e2e.runner_env import events, named

S = model.EntryStatus
L = model.LogStatus
J = "tests.entrypoints.jobs"


@pytest.mark.parametrize("mode", ["fork", "spawn", "pool"])
def test_success_one_off_is_finished_with_a_success_log(env, mode):
    env.configure(f"session_mode: {mode}\n")
    env.job("one", f"object_id: {J}:ok\nparameter_string: hello\ndescription: Say hello\n")
    code, found, _ = env.run()
    assert code == 0
    entry = env.entry("one")
    assert (entry.status, entry.earliest_start, entry.last_result) == (S.FINISHED, None, "success")
    (log,) = env.log("one")
    assert (log.status, log.description, log.parameter_string, log.attempt) == (
        L.SUCCESS,
        "Say hello",
        "hello",
        1,
    )
    assert "ok ran with parameter 'hello'" in log.output
    assert log.end_at >= log.start_at
    started, finished = named(found, "run_started", "one"), named(found, "run_finished", "one")
    assert started[0]["bc_event"] == "AL0000E25"
    assert finished[0]["bc_event"] == "AL0000E26"
    assert finished[0]["execution_time_ms"] >= 0
    db = env.store()
    events = [(e.event, e.client_type) for e in reversed(db.list_sessions())]
    db.close()
    assert events == [
        ("logon", model.ClientType.BACKGROUND),
        ("logoff", model.ClientType.BACKGROUND),
    ]


def test_success_recurring_gets_its_next_run(env):
    env.job("rec", f"object_id: {J}:ok\nrecurrence:\n  every: 1h\n")
    env.run()
    entry = env.entry("rec")
    assert (entry.status, entry.attempts) == (S.READY, 0)
    assert entry.earliest_start - entry.last_run_at > timedelta(minutes=59)
    assert [row.status for row in env.log("rec")] == [L.SUCCESS]


def test_failure_with_retries_then_error(env):
    env.job("bad", f"object_id: {J}:fail\nparameter_string: x\nmax_retries: 2\n")
    code, found, _ = env.run("--horizon", "5s")
    assert code == 0
    entry = env.entry("bad")
    assert (entry.status, entry.attempts) == (S.ERROR, 2)
    assert entry.error_message == "boom: x"  # the first line only
    assert "ValueError: boom: x" in entry.error_call_stack
    logs = env.log("bad")
    assert [row.status for row in logs] == [L.ERROR] * 3
    assert [row.attempt for row in reversed(logs)] == [1, 2, 3]
    assert "second line of the message" in logs[0].error_call_stack
    assert len(named(found, "run_failed", "bad")) == 3
    assert named(found, "run_failed", "bad")[0]["bc_event"] == "AL0000HE7"
    final = named(found, "run_failed_finally", "bad")
    assert len(final) == 1
    assert final[0]["bc_event"] == "AL0000JRG"
    assert [e["attempt"] for e in named(found, "retry_scheduled", "bad")] == [1, 2]


def test_recurring_entry_that_exhausts_retries_stays_in_error(env):
    env.job("rec", f"object_id: {J}:fail\nrecurrence:\n  every: 1h\n")
    env.run()
    entry = env.entry("rec")
    assert (entry.status, entry.earliest_start) == (S.ERROR, None)


def test_on_final_failure_next_recurrence_keeps_the_schedule(env):
    env.job(
        "rec", f"object_id: {J}:fail\non_final_failure: next_recurrence\nrecurrence:\n  every: 1h\n"
    )
    env.run()
    entry = env.entry("rec")
    assert entry.status is S.READY
    assert entry.error_message.startswith("boom")
    assert entry.earliest_start > datetime.now(UTC) + timedelta(minutes=50)


def test_failure_handler_runs_with_the_error_and_last_attempt(env):
    env.job("bad", f"object_id: {J}:fail\nmax_retries: 1\nfailure_handler: {J}:handler\n")
    code, found, _ = env.run("--horizon", "5s")
    assert code == 0
    handled = [m for m in env.marks_of("bad") if m.startswith("handler")]
    assert len(handled) == 2  # two failures -> two handler runs
    assert sorted(h.split(" ")[1] for h in handled) == ["False", "True"]
    assert all("'boom: '" in h for h in handled)
    assert len(named(found, "task_finished")) == 2
    db = env.store()
    assert db.list_tasks() == []
    db.close()


def test_failing_failure_handler_is_retried_on_the_platform_profile(env):
    env.job("bad", f"object_id: {J}:fail\nfailure_handler: {J}:fail\n")
    _, found, _ = env.run("--horizon", "5s")
    assert len(named(found, "task_retry_scheduled")) == 2  # retry_profile: [1s, 1s]
    assert len(named(found, "task_failed")) == 1


def test_retriable_exception_uses_the_platform_profile_first(env):
    env.configure("retriable_exceptions: 'ConnectionError:reset'\n")
    env.job("flaky", f"object_id: {J}:flaky\nparameter_string: '2'\n")
    _, found, _ = env.run("--horizon", "5s")
    entry = env.entry("flaky")
    assert (entry.status, entry.attempts) == (S.FINISHED, 0)
    assert [row.status for row in reversed(env.log("flaky"))] == [L.ERROR, L.ERROR, L.SUCCESS]
    assert [e["kind"] for e in named(found, "retry_scheduled", "flaky")] == ["platform"] * 2
    assert named(found, "run_failed", "flaky") == []


def test_expired_entry_is_finished_without_a_log(env):
    env.job("old", f"object_id: {J}:ok\nexpiration: 2020-01-01T00:00Z\n")
    _, found, _ = env.run()
    assert env.entry("old").status is S.FINISHED
    assert env.log("old") == []
    assert named(found, "entry_expired", "old")[0]["bc_event"] == "AL0000P9E"


def test_outside_the_window_is_rescheduled_without_a_log(env):
    now = datetime.now(UTC)
    start = (now + timedelta(hours=2)).strftime("%H:%M")
    end = (now + timedelta(hours=3)).strftime("%H:%M")
    # an earliest start inside no window: the dispatcher moves it to the window's start
    env.job(
        "win",
        f"object_id: {J}:ok\nrecurrence:\n  every: 5m\n  starting_time: '{start}'\n"
        f"  ending_time: '{end}'\n",
    )
    db = env.store()
    db.close()
    env.run()
    entry = env.entry("win")
    assert entry.status is S.READY
    assert entry.earliest_start.strftime("%H:%M") == start
    assert env.log("win") == []


def test_same_category_waits_and_is_activated(env):
    env.job("a", f"object_id: {J}:slow\nparameter_string: '0.3'\ncategory: ONE\n")
    env.job("b", f"object_id: {J}:slow\nparameter_string: '0.1'\ncategory: ONE\n")
    env.job("c", f"object_id: {J}:slow\nparameter_string: '0.1'\ncategory: ONE\npriority: high\n")
    env.job("other", f"object_id: {J}:ok\ncategory: TWO\n")
    _, found, _ = env.run("--horizon", "3s")
    # all due at once: high priority first, the others wait and run FIFO
    assert [e["entry_id"] for e in named(found, "entry_waiting")] == ["a", "b"]
    assert named(found, "entry_waiting")[0]["bc_event"] == "AL0000P9F"
    assert [e["entry_id"] for e in named(found, "waiting_activated")] == ["a", "b"]
    starts = [e["entry_id"] for e in named(found, "run_started") if e["entry_id"] != "other"]
    assert starts == ["c", "a", "b"]
    spans = {e["entry_id"]: [e["timestamp"]] for e in named(found, "session_logon")}
    for e in named(found, "session_logoff"):
        spans[e["entry_id"]].append(e["timestamp"])
    assert spans["c"][1] <= spans["a"][0]  # one at a time
    assert spans["a"][1] <= spans["b"][0]
    assert all(env.entry(i).status is S.FINISHED for i in ("a", "b", "c", "other"))
    assert all(env.entry(i).status is S.FINISHED for i in "abc")


def test_inactive_recurring_job_is_held_and_rerun_after_the_timeout(env):
    env.job("idle", f"object_id: {J}:inactive\ninactivity_timeout: 30m\nrecurrence:\n  every: 1m\n")
    env.job(
        "dormant", f"object_id: {J}:inactive\ninactivity_timeout: 0\nrecurrence:\n  every: 1m\n"
    )
    env.job("once", f"object_id: {J}:inactive\n")
    env.run()
    idle = env.entry("idle")
    assert idle.status is S.ON_HOLD_INACTIVITY
    assert idle.earliest_start - idle.last_run_at > timedelta(minutes=29)
    dormant = env.entry("dormant")
    assert (dormant.status, dormant.earliest_start) == (S.ON_HOLD_INACTIVITY, None)
    assert env.entry("once").status is S.FINISHED


@pytest.mark.parametrize("mode", ["fork", "pool"])
def test_timeout_ends_the_process_group(env, mode):
    env.configure(f"session_mode: {mode}\n")
    env.job("hang", f"object_id: {J}:hang\ntimeout: 1s\n")
    started = time.monotonic()
    env.run(timeout=30)
    assert time.monotonic() - started < 15
    entry = env.entry("hang")
    assert entry.status is S.ERROR
    assert entry.error_message == "The job ran longer than its timeout of 1s and was ended."
    (log,) = env.log("hang")
    assert log.status is L.ERROR


@pytest.mark.parametrize(
    ("job", "message"),
    [
        pytest.param("crash", "The session exited with status 3 without a result.", id="exit"),
        pytest.param("killed", "The session was ended by signal SIGKILL.", id="signal"),
        pytest.param(
            "asks",
            "Callback functions are not allowed. The job called input('Proceed? ')",
            id="input",
        ),
        pytest.param(
            "asks_confirm",
            "Callback functions are not allowed. The job asked to confirm: 'Delete everything?'",
            id="confirm",
        ),
    ],
)
@pytest.mark.parametrize("mode", ["fork", "pool"])
def test_session_failures_name_their_cause(env, job, message, mode):
    env.configure(f"session_mode: {mode}\n")
    env.job("j", f"object_id: {J}:{job}\n")
    env.run()
    entry = env.entry("j")
    assert (entry.status, entry.error_message) == (S.ERROR, message)


def test_guarded_confirm_succeeds_in_the_background(env):
    env.job("j", f"object_id: {J}:guarded_confirm\n")
    env.run()
    assert env.entry("j").status is S.FINISHED


def test_output_is_captured_and_capped(env):
    env.configure("output_limit: 1000\n")
    env.job("j", f"object_id: {J}:chatty\n")
    env.run()
    (log,) = env.log("j")
    assert "bytes cut" in log.output
    assert len(log.output) < 1100
    assert '"event": "job_said_hello"' in log.output


def test_unregistered_object_fails_the_run(env):
    env.job("j", "object_id: 99999\n")
    env.run()
    entry = env.entry("j")
    assert entry.status is S.ERROR
    assert entry.error_message.startswith("codeunit 99999 is not registered")


def test_user_switch_as_root_or_permission_error_otherwise(env):
    import os
    import pwd

    env.job("j", f"object_id: {env.world_readable_job()}\nuser: nobody\n")
    env.run()
    entry = env.entry("j")
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        assert entry.status is S.FINISHED, entry.error_message
        assert f"uid={nobody.pw_uid} gid={nobody.pw_gid} home={nobody.pw_dir}" in (
            env.log("j")[0].output
        )
    else:
        assert entry.status is S.ERROR
        assert "Cannot run as user 'nobody': the runner runs as" in entry.error_message


@pytest.mark.parametrize("mode", ["fork", "spawn", "pool"])
def test_session_imports_nothing_heavy_before_the_job(env, mode):
    env.configure(f"session_mode: {mode}\n")
    env.job("j", f"object_id: {J}:imports\n")
    env.run()
    assert "heavy modules: []" in env.log("j")[0].output


def test_a_spawned_session_imports_only_os_before_the_job(env):
    env.configure("session_mode: spawn\n")
    env.job("j", "object_id: tests.entrypoints.bare:imports\n")
    env.run()
    assert "stdlib modules: []" in env.log("j")[0].output


def test_entry_deleted_during_the_run_logs_an_error(env):
    env.job("j", f"object_id: {J}:slow\nparameter_string: '1'\n")
    proc = env.start("--until-idle")
    try:
        env.wait_for_mark("j", "slow")
        db = env.store()
        entry = db.get_entry("j")
        db.commit(model.Transition(reason="test", delete=(("j", entry.version),)))
        db.close()
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.communicate()
    (log,) = env.log("j")
    assert (log.status, log.error_message) == (L.ERROR, "The job queue entry has been deleted.")


def test_on_hold_during_the_run_stays_on_hold_with_a_success_log(env):
    env.job("j", f"object_id: {J}:slow\nparameter_string: '1'\nrecurrence:\n  every: 1m\n")
    proc = env.start("--until-idle")
    try:
        env.wait_for_mark("j", "slow")
        db = env.store()
        entry = db.get_entry("j")
        import dataclasses

        db.commit(
            model.Transition(reason="test", put=(dataclasses.replace(entry, status=S.ON_HOLD),))
        )
        db.close()
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.communicate()
    assert env.entry("j").status is S.ON_HOLD
    assert [row.status for row in env.log("j")] == [L.SUCCESS]


def test_not_runnable_entry_is_left_alone(env):
    env.job("j", f"object_id: {J}:ok\nstatus: on_hold\n")
    _, found, _ = env.run()
    assert env.entry("j").status is S.ON_HOLD
    assert env.log("j") == []
    assert named(found, "run_started") == []


def test_sigkill_of_the_runner_mid_run_is_recovered_exactly_once(env):
    env.job("j", f"object_id: {J}:slow\nparameter_string: '30'\n")
    proc = env.start()
    try:
        env.wait_for_mark("j", "slow")
        pid = int(env.marks_of("j")[0].split(" ")[2])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
    deadline = time.monotonic() + 10  # the session dies with the runner
    while _alive(pid):
        assert time.monotonic() < deadline, "the session outlived its runner"
        time.sleep(0.05)
    assert env.entry("j").status is S.IN_PROCESS
    sessions = env.root / ".jobrunner" / "sessions"
    assert [p.suffix for p in sessions.iterdir()] == [".out"]  # the killed session's
    env.job("j", f"object_id: {J}:ok\n")  # the retry runs quickly
    _, found, _ = env.run("--horizon", "5s")
    recovered = named(found, "run_recovered", "j")
    assert len(recovered) == 1
    logs = list(reversed(env.log("j")))
    assert [(row.status, row.error_message) for row in logs] == [
        (L.ERROR, "The runner stopped while the job was running."),
        (L.SUCCESS, ""),
    ]
    assert logs[0].output == "sleeping 30 s\n"  # what it wrote before the runner died
    assert list(sessions.iterdir()) == []
    assert env.entry("j").status is S.FINISHED
    _, again, _ = env.run()
    assert named(again, "run_recovered") == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_drains_then_interrupts(env):
    env.job("j", f"object_id: {J}:slow\nparameter_string: '30'\n")
    proc = env.start()
    try:
        env.wait_for_mark("j", "slow")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0
    entry = env.entry("j")
    assert (entry.status, entry.session_retries) == (S.READY, 1)
    (log,) = env.log("j")
    assert log.error_message == "The runner stopped while the job was running."
    assert log.output == "sleeping 30 s\n"
    assert '"event": "runner_draining"' in out
    assert list((env.root / ".jobrunner" / "sessions").iterdir()) == []


def test_second_runner_is_refused(env):
    env.job("j", f"object_id: {J}:slow\nparameter_string: '30'\n")
    first = env.start()
    try:
        env.wait_for_mark("j", "slow")
        code, _, err = env.run(timeout=20)
        assert code == 2
        assert f"another runner (pid {first.pid}) is already running" in err
    finally:
        first.kill()
        first.communicate()


def test_misfire_beyond_grace_skips_to_the_next_run(env):
    env.job("m", f"object_id: {J}:ok\nrecurrence:\n  every: 10m\n  misfire_grace: 1m\n")
    env.run()  # first run now; the next is in 10 minutes
    db = env.store()
    entry = db.get_entry("m")
    late = entry.earliest_start - timedelta(hours=1)  # as if the runner was down an hour
    import dataclasses

    db.commit(
        model.Transition(reason="test", put=(dataclasses.replace(entry, earliest_start=late),))
    )
    db.close()
    _, found, _ = env.run()
    (misfire,) = named(found, "misfire", "m")
    assert misfire["skipped"] >= 6
    assert len(env.log("m")) == 1  # the missed runs did not run
    assert env.entry("m").earliest_start > datetime.now(UTC)


def test_events_go_to_the_json_lines_file_too(env):
    env.job("j", f"object_id: {J}:ok\n")
    _, found, _ = env.run()
    lines = (env.root / ".jobrunner" / "log" / "jobrunner.jsonl").read_text().splitlines()
    import json

    names = [json.loads(line)["event"] for line in lines]
    assert names == [e["event"] for e in found]
    assert {"entry_added", "entry_enqueued", "run_started", "run_finished"} <= set(names)
    enqueued = named(found, "entry_enqueued", "j")[0]
    assert enqueued["bc_event"] == "AL0000E24"


def test_old_log_entries_are_pruned_but_never_in_process(env):
    env.configure("log_retention: 1d\n")
    env.job("j", f"object_id: {J}:ok\n")
    db = env.store()
    old = datetime.now(UTC) - timedelta(days=3)
    db.commit(
        model.Transition(
            reason="test",
            log_insert=(
                model.LogEntry(entry_id="gone", start_at=old, end_at=old, status=L.SUCCESS),
                model.LogEntry(entry_id="stuck", start_at=old),
            ),
        )
    )
    db.close()
    env.run()
    ids = sorted(row.entry_id for row in env.log())
    assert ids == ["j", "stuck"]


def test_sighup_rereads_the_config(env):
    env.job("j", f"object_id: {J}:slow\nparameter_string: '30'\n")
    proc = env.start()
    try:
        env.wait_for_mark("j", "slow")
        env.configure("workers: 3\n")  # workers twice: rejected, the runner goes on
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        env.configure("log_retention: 2d\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    names = [e["event"] for e in events(out)]
    assert names.index("config_rejected") < names.index("config_reloaded")
    assert "duplicate key 'workers'" in named(events(out), "config_rejected")[0]["problems"][0]


def test_sighup_keeps_the_jobs_folder_it_watches(env):
    """A reload naming a jobs folder that is not there, or another one, is rejected: a
    full reconcile of a missing folder would remove every entry."""
    env.job("j", f"object_id: {J}:slow\nparameter_string: '30'\n")
    proc = env.start()
    try:
        env.wait_for_mark("j", "slow")
        env.configure("jobs_dir: nowhere\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        (env.root / "other").mkdir()
        env.configure("jobs_dir: other\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    rejected = named(events(out), "config_rejected")
    assert [len(e["problems"]) for e in rejected] == [1, 1]
    assert "jobs folder" in rejected[0]["problems"][0]
    assert "does not exist" in rejected[0]["problems"][0]
    assert "restart" in rejected[1]["problems"][0]
    assert not named(events(out), "entry_removed")
    assert env.entry("j") is not None


def test_a_dead_fork_server_interrupts_its_runs_and_is_replaced(env):
    env.job("j", f"object_id: {J}:slow\nparameter_string: '30'\n")
    proc = env.start()
    try:
        env.wait_for_mark("j", "slow")
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        (server,) = [int(c) for c in children]
        os.kill(server, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while env.entry("j").status is S.IN_PROCESS:
            assert time.monotonic() < deadline, "the run was never closed"
            time.sleep(0.05)
        entry = env.entry("j")
        assert (entry.status, entry.session_retries) == (S.READY, 1)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert named(events(out), "executor_lost")
    (log,) = [row for row in env.log("j") if row.status is L.ERROR]
    assert log.error_message == "The runner stopped while the job was running."
    assert log.output == "sleeping 30 s\n"
