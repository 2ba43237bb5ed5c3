"""A run whose session ended while the runner was not looking (stopped, then killed)
ends at the next start as its session said, exactly as if the runner had seen it end."""

from __future__ import annotations

import signal
import time

import pytest

from jobrunner import model
from tests.e2e.runner_env import Env, named

J = "tests.entrypoints.jobs"
S = model.EntryStatus
L = model.LogStatus


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _logged_on(env: Env) -> bool:
    db = env.store()
    try:
        return any(e.event == "logon" for e in db.list_sessions())
    finally:
        db.close()


def _end_unseen(env: Env, how: str, recurring: bool = False) -> tuple[list[dict], str]:
    """Run `ends_late` until its session has ended with the runner stopped (SIGSTOP),
    kill the runner (SIGKILL), and start again; the events of that start and the
    comment of the session's logoff."""
    every = "recurrence:\n  every: 1h\n" if recurring else ""
    env.job("j", f"object_id: {J}:ends_late\nparameter_string: '0.3 {how}'\n{every}")
    proc = env.start()
    try:
        env.wait_for_mark("j", "late")
        session = int(env.marks_of("j")[0].split(" ")[2])
        deadline = time.monotonic() + 10
        while not _logged_on(env):  # the runner has seen the start, not the end
            assert time.monotonic() < deadline, "the session's logon was never committed"
            time.sleep(0.005)
        proc.send_signal(signal.SIGSTOP)  # it sees nothing from now on
        deadline = time.monotonic() + 10
        while not _gone(session):
            assert time.monotonic() < deadline, "the session did not end"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
    assert env.entry("j").status is S.IN_PROCESS
    _, found, _ = env.run()
    assert named(found, "run_recovered") == []
    assert len(env.marks_of("j")) == 1  # never run again
    db = env.store()
    try:
        events = [(e.event, e.comment) for e in reversed(db.list_sessions())]
    finally:
        db.close()
    assert [name for name, _ in events] == ["logon", "logoff"]
    return found, events[1][1]


def test_a_success_the_runner_did_not_see_is_a_success(env):
    found, logoff = _end_unseen(env, "ok")
    entry = env.entry("j")
    assert (entry.status, entry.last_result) == (S.FINISHED, "success")
    assert [log.status for log in env.log("j")] == [L.SUCCESS]
    assert named(found, "run_finished", "j")
    assert logoff == "success"


def test_a_failure_the_runner_did_not_see_keeps_its_message_and_stack(env):
    _, logoff = _end_unseen(env, "fail")
    entry = env.entry("j")
    assert (entry.status, entry.error_message) == (S.ERROR, "late failure")
    (log,) = env.log("j")
    assert (log.status, log.error_message) == (L.ERROR, "late failure")
    assert "ValueError: late failure" in log.error_call_stack
    assert logoff == "exception: late failure"


@pytest.mark.parametrize(
    ("recurring", "status"),
    [
        pytest.param(False, S.FINISHED, id="one-off"),
        pytest.param(True, S.ON_HOLD_INACTIVITY, id="recurring"),
    ],
)
def test_no_activity_the_runner_did_not_see_holds_the_entry(env, recurring, status):
    _end_unseen(env, "inactive", recurring)
    assert env.entry("j").status is status
