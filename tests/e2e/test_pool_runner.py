"""Session pools through the real `jobrunner run`: sessions share long-lived processes
and are still sessions of their own (ids, logons, output, outcome); a timeout ends its
process and the next session gets another; an entry may choose the pool or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobrunner import model
from tests.e2e.runner_env import CONFIG, named

S = model.EntryStatus
L = model.LogStatus
J = "tests.entrypoints.jobs"
POOLED = "jobrunner-pool"  # what a pool process calls itself


def pids_of(marks: Path, entry_id: str) -> list[int]:
    lines = (marks / f"{entry_id}.marks").read_text().splitlines()
    return [int(line.split()[2]) for line in lines]


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
