"""Session pools through the real `jobrunner run`: sessions share long-lived processes
and are still sessions of their own (ids, logons, output, outcome); a timeout ends its
process and the next session gets another; an entry may choose the pool or not."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from jobrunner import executor, model
from jobrunner.runner import sessions
from tests.e2e.runner_env import CONFIG, named

S = model.EntryStatus
L = model.LogStatus
J = "tests.entrypoints.jobs"
POOLED = "jobrunner-pool"  # what a pool process calls itself


def pids_of(marks: Path, entry_id: str) -> list[int]:
    lines = (marks / f"{entry_id}.marks").read_text().splitlines()
    return [int(line.split()[2]) for line in lines]


def logged_on(env) -> bool:
    db = env.store()
    try:
        return any(e.event == "logon" for e in db.list_sessions())
    finally:
        db.close()


def one_worker(env, extra: str = "") -> None:
    """One session at a time, so they run in the order of their earliest starts."""
    (env.root / "jobrunner.yaml").write_text(CONFIG.replace("workers: 2", "workers: 1") + extra)


def test_many_sessions_share_few_processes_and_stay_sessions(env):
    env.configure("session_mode: pool\n")
    for n in range(12):
        env.job(f"e{n:02d}", f"object_id: {J}:ok\nparameter_string: p{n}\n")
    code, found, _ = env.run()
    assert code == 0
    pids = [pid for n in range(12) for pid in pids_of(env.marks, f"e{n:02d}")]
    assert len(pids) == 12
    assert len(set(pids)) < 12  # processes ran several sessions
    for n in range(12):
        (log,) = env.log(f"e{n:02d}")
        assert log.status is L.SUCCESS
        assert log.output == f"ok ran with parameter 'p{n}'\n"  # its own output only
        assert env.entry(f"e{n:02d}").status is S.FINISHED
    db = env.store()
    sessions = db.list_sessions()
    db.close()
    logons = [e for e in sessions if e.event == "logon"]
    assert len({e.session_id for e in logons}) == 12
    assert {e.pid for e in logons if e.pid} <= set(pids)
    assert len(named(found, "run_finished")) == 12


def marks_of(marks: Path, entry_id: str) -> list[tuple[str, int]]:
    """(what, pid) of each mark the entry's sessions left."""
    lines = (marks / f"{entry_id}.marks").read_text().splitlines()
    return [(line.split()[0], int(line.split()[2])) for line in lines]


def test_a_timeout_ends_its_pool_process_and_the_next_session_gets_another(env):
    one_worker(env, "session_mode: pool\n")
    env.job("a", f"object_id: {J}:process_name\nearliest_start: '2000-01-01T00:00:00Z'\n")
    env.job("b", f"object_id: {J}:hang\ntimeout: 1s\nearliest_start: '2000-01-01T00:00:01Z'\n")
    env.job("c", f"object_id: {J}:process_name\nearliest_start: '2000-01-01T00:00:02Z'\n")
    env.run(timeout=30)
    timed_out = "The job ran longer than its timeout of 1s and was ended."
    assert env.entry("b").error_message == timed_out
    assert env.entry("c").status is S.FINISHED
    (a,), (b,), (c,) = (marks_of(env.marks, e) for e in "abc")
    assert a[0] == c[0] == POOLED
    assert c[1] != b[1]


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_an_entry_chooses_the_pool_or_a_process_of_its_own(env, mode):
    one_worker(env, f"session_mode: {mode}\n")
    for n, mode in enumerate(["pool", "fork", "pool"]):
        start = f"2000-01-01T00:00:0{n}Z"
        text = f"object_id: {J}:process_name\nsession_mode: {mode}\nearliest_start: '{start}'\n"
        env.job(f"e{n}", text)
    env.run()
    names = [marks_of(env.marks, f"e{n}")[0][0] for n in range(3)]
    assert names[0] == names[2] == POOLED != names[1]


def test_a_pool_session_that_ended_unseen_by_a_killed_runner_is_recovered(env):
    """The runner is stopped once it has committed the session's logon, the session ends
    (its result whole on disk, its process alive), the runner is killed: the next start
    ends the run as its result says, and does not run it again."""
    env.configure("session_mode: pool\n")
    env.job("j", f"object_id: {J}:ends_late\nparameter_string: '0.3 ok'\n")
    results = sessions.sessions_dir(env.root / ".jobrunner")
    proc = env.start()
    try:
        env.wait_for_mark("j", "late")
        deadline = time.monotonic() + 10
        while not logged_on(env):
            assert time.monotonic() < deadline, "the session's logon was never committed"
            time.sleep(0.005)
        proc.send_signal(signal.SIGSTOP)
        while not any(executor.read_result(p) for p in results.glob("*.result")):
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
    entry = env.entry("j")
    assert (entry.status, entry.last_result) == (S.FINISHED, "success")
    assert [log.status for log in env.log("j")] == [L.SUCCESS]
