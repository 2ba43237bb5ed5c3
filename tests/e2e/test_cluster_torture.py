"""kill -9 at random instants on the PostgreSQL store: two runners on one database, one
of them killed again and again (at a random instant, from its start-up on, or just after
one of its jobs completed) and started again in its folder, sometimes only once the
other recovered its runs; the other keeps running throughout. Then: no occurrence ran
twice (a start again is only the retry of an attempt whose runner was killed before its
end was committed), nothing committed was lost, the store is consistent (every run in
process is the survivor's once it recovered the killed runner's; nothing in process
after a clean stop) and the survivor never stopped.

$JOBRUNNER_PG_TORTURE_KILLS sets the number of kills (default 10, about 40 s on two
cores) and $JOBRUNNER_PG_TORTURE_SEED the seed (default: a new one, printed)."""

from __future__ import annotations

import collections
import itertools
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobrunner import lifecycle, model
from jobrunner.store.postgres import PostgresStore
from tests import pgdb
from tests.e2e.cluster_env import FAILOVER, LOADED, STARTUP, Cluster
from tests.e2e.runner_env import ROOT, written_lines

pytestmark = [pytest.mark.postgres, pytest.mark.alone]  # leases of 3 s: see tests/alone.py
JOB = "tests.entrypoints.cluster_jobs:torture"
KILLS = int(os.environ.get("JOBRUNNER_PG_TORTURE_KILLS", "10"))
ONE_OFFS = 3 * KILLS  # one-off entries, due one after another over the kills
SPAWNERS = KILLS // 2  # of them, those that also make two tasks each
RECURRING = 2  # entries every 1 s
SURVIVOR = "node0"  # never killed
VICTIM = "node1"
S = model.EntryStatus


@pytest.fixture
def schema():
    with pgdb.schema() as db:
        yield db


@dataclass(frozen=True)
class Mark:
    what: str  # start, done
    key: str  # a task id, or entry id @ due instant
    session: str
    fence: int
    runner: str  # a process: "a", or "b1", "b2", ... (each start of the victim)
    at: float


class Torture:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.procs: dict[str, subprocess.Popen[str]] = {}  # by label
        self.kills: dict[str, float] = {}  # label -> when it was killed

    def start(self, folder: str, label: str) -> subprocess.Popen[str]:
        """`jobrunner run` in `folder`, its output in a file (a pipe nobody reads
        would stop it), its jobs marking `label`."""
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "JOBRUNNER_TEST_MARKS": str(self.cluster.marks),
            "JOBRUNNER_TEST_RUNNER": label,
            "TZ": "UTC",
            "PYTHONWARNINGS": "error",
        }
        env.pop("JOBRUNNER_STORE", None)
        with (self.cluster.root / f"{label}.out").open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jobrunner", "run"],
                cwd=self.cluster.root / folder,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.procs[label] = proc
        return proc

    def kill(self, label: str) -> None:
        self.kills[label] = time.time()
        self.procs[label].send_signal(signal.SIGKILL)
        self.procs[label].wait(timeout=10)
        with (self.cluster.marks / "kills.log").open("a") as f:
            f.write(f"{label} {self.procs[label].pid} {self.kills[label]:.6f}\n")

    def recovered(self, db: PostgresStore, label: str) -> bool:
        """Whether the killed runner `label` was claimed by the survivor (or never
        entered) and no run in process is left to a runner not alive."""
        claimed = self.procs[label].pid not in {n.pid for n in db.nodes()}
        return claimed and not _orphaned(db)

    def ran(self, label: str, since: float = 0.0) -> bool:
        """Whether the runner `label` started a job (since then); an error when it
        stopped."""
        assert self.procs[label].poll() is None, self.output(label)
        return any(m.runner == label and m.at > since for m in self.marks())

    def output(self, label: str) -> str:
        return (self.cluster.root / f"{label}.out").read_text()

    def marks(self) -> list[Mark]:
        path = self.cluster.marks / "torture.log"
        lines = written_lines(path)
        return [
            Mark(w, k, s, int(f), r, float(t)) for w, k, s, f, r, t in (x.split() for x in lines)
        ]


def _jobs(cluster: Cluster) -> list[str]:
    start = datetime.now(UTC) + timedelta(seconds=3)
    spread = 2.5 * KILLS  # seconds: about the kills' time
    once = []
    for i in range(ONE_OFFS):
        at = (start + timedelta(seconds=spread * i / ONE_OFFS)).isoformat()
        parameter = "a,b" if i < SPAWNERS else ""
        cluster.job(
            f"once-{i}",
            f"object_id: {JOB}\nearliest_start: '{at}'\nparameter_string: '{parameter}'\n",
        )
        once.append(f"once-{i}")
    for i in range(RECURRING):
        cluster.job(f"every-{i}", f"object_id: {JOB}\nrecurrence:\n  every: 1s\n")
    return once


def _kill_when(t: Torture, rng: random.Random, label: str) -> None:
    """Wait for a moment to kill the victim: a random instant of its start-up, a random
    instant once it is in its loop, or as soon as one of its jobs recorded its end."""
    moment = rng.choices(["starting", "running", "after an end"], [2, 5, 3])[0]
    if moment == "starting":
        time.sleep(rng.uniform(0.05, 1.5))
        return
    deadline = time.monotonic() + STARTUP
    while '"runner_started"' not in t.output(label) and time.monotonic() < deadline:
        time.sleep(0.01)
    if moment == "running":
        time.sleep(rng.uniform(0.0, 1.5))
        return
    done = len([m for m in t.marks() if m.what == "done" and m.runner == label])
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if len([m for m in t.marks() if m.what == "done" and m.runner == label]) > done:
            return
        time.sleep(0.001)


def _orphaned(db: PostgresStore) -> list[str]:
    """The entries in process and the sessions open of a runner that is not alive
    (none: every run in process is a live runner's)."""
    alive = {n.runner_id for n in db.nodes() if n.alive}
    entries = db.list_entries(status=S.IN_PROCESS)
    events = db.list_sessions()
    off = {e.session_id for e in events if e.event == "logoff"}
    found = [e.id for e in entries if e.runner_id not in alive]
    return found + [
        e.session_id
        for e in events
        if e.event == "logon" and e.session_id not in off and e.runner_id not in alive
    ]


def _pending(db: PostgresStore, once: list[str]) -> list[str]:
    """The one-offs not run to their end yet, and the tasks."""
    done = (S.FINISHED, S.ERROR)
    pending = [
        f"{e.id} {e.status.value}"
        for e in db.list_entries()
        if e.id in once and e.status not in done
    ]
    return pending + [
        f"task {k.id} {k.session_id}" for k in db.list_tasks() if k.object != lifecycle.DISPATCH
    ]


def test_kill_9_at_random_instants_on_the_postgresql_store(tmp_path, schema):
    seed = int(os.environ.get("JOBRUNNER_PG_TORTURE_SEED") or random.randrange(2**32))
    print(f"seed {seed} (JOBRUNNER_PG_TORTURE_SEED), {KILLS} kills")
    rng = random.Random(seed)
    cluster = Cluster(tmp_path, schema, 2, retries=10)
    once = _jobs(cluster)
    t = Torture(cluster)
    survivor = t.start(SURVIVOR, "a")
    started = time.monotonic()
    db = None
    try:
        t.start(VICTIM, "b1")
        cluster.wait_for(lambda: t.ran("a"), STARTUP, "the survivor's runs")
        db = cluster.store()
        waits = set(rng.sample(range(KILLS), KILLS // 4))  # kills the survivor recovers
        for n in range(1, KILLS + 1):
            label = f"b{n}"
            _kill_when(t, rng, label)
            t.kill(label)
            if n - 1 in waits or n == KILLS:  # its runs: the survivor's sweep recovers them
                wait = FAILOVER + LOADED
                cluster.wait_for(lambda k=label: t.recovered(db, k), wait, "the recovery")
            assert survivor.poll() is None, t.output("a")
            if n < KILLS:
                t.start(VICTIM, f"b{n + 1}")
        try:
            cluster.wait_for(lambda: not _pending(db, once), STARTUP, "the one-offs and tasks")
        except AssertionError:
            raise AssertionError(f"not run to their end: {_pending(db, once)}") from None
        last_kill = max(t.kills.values())
        # the survivor runs on (its entries every 1 s)
        cluster.wait_for(lambda: t.ran("a", since=last_kill), 1 + LOADED, "runs after the kills")
    finally:
        if db is not None:
            db.close()
        for proc in t.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {label: proc.wait(timeout=30) for label, proc in t.procs.items()}
    took = time.monotonic() - started
    _check(t, cluster, once)
    assert codes["a"] == 0, t.output("a")
    print(f"seed {seed}: {KILLS} kills in {took:.1f} s, {len(t.marks())} marks")


def _check(t: Torture, cluster: Cluster, once: list[str]) -> None:
    marks = t.marks()
    db = cluster.store()
    try:
        logs = {g.session_id: g for g in db.list_log()}
        entries = db.list_entries()
        events = db.list_sessions()
        tasks = [k for k in db.list_tasks() if k.session_id is not None]
        nodes = db.nodes()
    finally:
        db.close()
    starts = [m for m in marks if m.what == "start"]
    dones = {m.session: m for m in marks if m.what == "done"}
    # a claim is started once: two runners never ran one version of an entry or task
    claims = collections.Counter((m.key.split("@")[0], m.fence) for m in starts)
    assert [c for c, k in claims.items() if k > 1] == []
    assert _ran_twice(starts, dones, logs, t.kills) == []
    # every start was committed before the job's first instruction, and stays
    assert [m.session for m in starts if m.session not in logs] == []
    # a success is what a job completed; one whose runner lived on is recorded a success
    success = model.LogStatus.SUCCESS
    assert [s for s, g in logs.items() if g.status is success and s not in dones] == []
    lived = [m for m in dones.values() if m.runner not in t.kills]
    assert [m.session for m in lived if logs[m.session].status is not success] == []
    # after a clean stop nothing is in process, every session is closed
    assert [e.id for e in entries if e.status is S.IN_PROCESS] == []
    assert [g.entry_no for g in logs.values() if g.end_at is None] == []
    off = {e.session_id for e in events if e.event == "logoff"}
    assert [e.session_id for e in events if e.event == "logon" and e.session_id not in off] == []
    assert tasks == []
    killed = {t.procs[label].pid for label in t.kills}  # (a lease lapses by itself)
    assert [n.pid for n in nodes if n.pid not in killed] == []  # the survivor left
    assert {e.id: e.status for e in entries if e.id in once} == dict.fromkeys(once, S.FINISHED)
    assert "Traceback" not in t.output("a")  # the survivor never failed


def _ran_twice(
    starts: list[Mark],
    dones: dict[str, Mark],
    logs: dict[str, model.LogEntry],
    kills: dict[str, float],
) -> list[str]:
    """The occurrences started again other than as the retry of an attempt whose
    runner was killed before it (its session ends with it: it may still have begun
    its job after the kill), whose end was not committed (it was closed, as
    interrupted, only after that kill) and which did not run on beside the retry."""
    found = []
    by_key: dict[str, list[Mark]] = collections.defaultdict(list)
    for m in starts:  # a one-off is one occurrence (a retry is due at another instant)
        by_key[m.key.split("@")[0] if m.key.startswith("once-") else m.key].append(m)
    for key, runs in by_key.items():
        runs.sort(key=lambda m: m.at)
        for before, after in itertools.pairwise(runs):
            killed = kills.get(before.runner)
            retried = killed is not None and killed < after.at
            recorded = logs.get(before.session)
            closed = recorded.end_at.timestamp() if recorded and recorded.end_at else 0.0
            ended = recorded is not None and recorded.status is model.LogStatus.SUCCESS
            ended = ended or (killed is not None and closed < killed)
            done = dones.get(before.session)
            beside = done is not None and done.at > after.at
            if not retried or ended or beside:
                state = "completed" if done else "not completed"
                found.append(f"{key}: {before.runner} ({state}) then {after.runner}")
    return found


def test_a_task_started_by_a_runner_killed_before_its_logon_runs_again(tmp_path, schema):
    """The instant between a task's start (committed) and its session's logon: the
    runner's fork server is stopped, so the logon never comes, and the runner is
    killed. The runner started again in its folder finds the task by its runner (no
    logon names it) and runs it again; its log entry is closed."""
    cluster = Cluster(tmp_path, schema, 1)
    cluster.job("first", f"object_id: {JOB}\n")
    cluster.start("node0")
    runner = cluster.procs["node0"]
    try:
        cluster.wait_for(lambda: _marked(cluster, "done"), STARTUP, "a first run")
        (fork_server,) = _children(runner.pid)
        os.kill(fork_server, signal.SIGSTOP)
        made = subprocess.run(
            [sys.executable, "-m", "jobrunner", "task", "create", JOB],
            cwd=cluster.root / "node0",
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        db = cluster.store()
        try:
            cluster.wait_for(lambda: _claimed(db), LOADED, "the task's start")
            runner.send_signal(signal.SIGKILL)
            runner.wait(timeout=10)
            os.kill(fork_server, signal.SIGKILL)
            runner.communicate(timeout=10)
            assert [e.session_id for e in db.list_sessions() if e.session_id == _claimed(db)] == []
            cluster.start("node0")
            cluster.wait_for(lambda: _marked(cluster, "done", made.stdout.strip()), STARTUP, "run")
            cluster.wait_for(lambda: not _claimed(db) and not _open_logs(db), LOADED, "its end")
        finally:
            db.close()
    finally:
        cluster.stop_all()


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _marked(cluster: Cluster, what: str, key: str = "") -> bool:
    path = cluster.marks / "torture.log"
    lines = written_lines(path)
    return any(line.startswith(f"{what} {key}") for line in lines)


def _claimed(db: PostgresStore) -> str | None:
    """The session of the task made by the test, while it has one."""
    found = [k.session_id for k in db.list_tasks() if k.object == JOB and k.session_id]
    return found[0] if found else None


def _open_logs(db: PostgresStore) -> list[int]:
    return [g.entry_no for g in db.list_log(status=model.LogStatus.IN_PROCESS)]
