"""kill -9 of `jobrunner run` at random instants and just after a job's end: a finished
run is never run again, nothing stays in process, every session is closed."""

from __future__ import annotations

import collections
import random
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

from jobrunner import lifecycle, model
from tests.e2e.runner_env import CONFIG, Env

J = "tests.entrypoints.jobs"
ONE_OFFS = 60  # one-off entries, due one after another over SPREAD
SPAWNERS = 12  # one-offs among them that also create two tasks each
RECURRING = 3  # entries every 1 s
SPREAD = 18.0  # seconds
RANDOM_KILLS = 40
KILLS_AFTER_END = 20
TORTURE = CONFIG.replace("workers: 2", "workers: 3").replace(
    "retry_profile: [1s, 1s]", "retry_profile: [0s, 0s, 0s, 0s, 0s, 0s, 0s, 0s, 0s, 0s]"
)


def _jobs(env: Env) -> list[str]:
    start = datetime.now(UTC) + timedelta(seconds=1)
    once = []
    for i in range(ONE_OFFS):
        at = (start + timedelta(seconds=SPREAD * i / ONE_OFFS)).isoformat()
        parameter = "a,b" if i < SPAWNERS else ""
        env.job(
            f"once-{i}",
            f"object_id: {J}:completes\nearliest_start: '{at}'\n"
            f"parameter_string: '{parameter}'\nmax_retries: 10\n",
        )
        once.append(f"once-{i}")
    for i in range(RECURRING):
        env.job(f"every-{i}", f"object_id: {J}:completes\nrecurrence:\n  every: 1s\n")
    return once


def _completions(env: Env) -> list[tuple[str, str]]:
    path = env.marks / "completions"
    if not path.exists():
        return []
    return [tuple(line.split(" ")[:2]) for line in path.read_text().splitlines()]  # type: ignore[misc]


def _start(env: Env, n: int) -> subprocess.Popen[str]:
    """`jobrunner run`, its output in a file (a pipe nobody reads would stop it)."""
    with (env.root / f"run-{n}.out").open("w") as out:
        return subprocess.Popen(
            env.command("run"),
            cwd=env.root,
            env=env.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _kill_cycle(env: Env, rng: random.Random, n: int, *, after_end: bool) -> None:
    """Start the runner, SIGKILL it at a random instant or as soon as a job has recorded
    its completion, and see it gone."""
    proc = _start(env, n)
    try:
        if after_end:
            path = env.marks / "completions"
            size = path.stat().st_size if path.exists() else 0
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and (
                not path.exists() or path.stat().st_size == size
            ):
                time.sleep(0.001)
        else:
            time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        with (env.root / "kills").open("a") as f:
            f.write(f"{n} {time.time():.6f} {after_end}\n")
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.wait()


def _settle(env: Env, once: list[str]) -> None:
    """The final start: run until every one-off and task is done, then stop (SIGTERM)."""
    proc = _start(env, 0)
    try:
        deadline = time.monotonic() + 30
        # started (its recovery done, its signals handled) before anything is judged
        while '"event": "runner_started"' not in (env.root / "run-0.out").read_text():
            assert proc.poll() is None, "the final runner ended before it started"
            assert time.monotonic() < deadline, "the final runner never started"
            time.sleep(0.02)
        while time.monotonic() < deadline:
            db = env.store()
            try:
                pending = [
                    e.id
                    for e in db.list_entries()
                    if e.id in once
                    and e.status not in (model.EntryStatus.FINISHED, model.EntryStatus.ERROR)
                ]
                pending += [t.id for t in db.list_tasks() if t.object != lifecycle.DISPATCH]
            finally:
                db.close()
            if not pending:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    out = (env.root / "run-0.out").read_text()
    assert "Traceback" not in out, out
    assert '"event": "runner_stopped"' in out


def test_kill_9_never_runs_a_finished_run_again(tmp_path):
    env = Env(tmp_path, TORTURE)
    once = _jobs(env)
    rng = random.Random(20261201)
    cycles = [False] * RANDOM_KILLS + [True] * KILLS_AFTER_END
    rng.shuffle(cycles)
    started = time.monotonic()
    for n, after_end in enumerate(cycles, 1):
        _kill_cycle(env, rng, n, after_end=after_end)
    _settle(env, once)
    took = time.monotonic() - started

    completions = _completions(env)
    db = env.store()
    try:
        logs = db.list_log()
        entries = db.list_entries()
        events = db.list_sessions()
    finally:
        db.close()
    by_session = {log.session_id: log for log in logs}
    per_work = collections.Counter(done for done, _ in completions)
    recurring = {f"every-{i}" for i in range(RECURRING)}
    doubled = sorted(w for w, n in per_work.items() if n > 1 and w not in recurring)
    # a completed execution is recorded as the success it was, never as interrupted
    misrecorded = sorted(
        f"{done} {log.status.value}: {log.error_message}" if log else f"{done}: no log entry"
        for done, s in completions
        for log in [by_session.get(s)]
        if log is None or log.status is not model.LogStatus.SUCCESS
    )
    stuck = [e.id for e in entries if e.status is model.EntryStatus.IN_PROCESS]
    open_logs = [log.entry_no for log in logs if log.end_at is None]
    logged_off = {e.session_id for e in events if e.event == "logoff"}
    no_logoff = [
        e.session_id for e in events if e.event == "logon" and e.session_id not in logged_off
    ]
    tasks_done = sum(1 for done, _ in completions if done not in once and done not in recurring)
    print(
        f"{len(cycles)} kills in {took:.1f} s: {len(completions)} completions "
        f"({tasks_done} of tasks), {len(logs)} log entries; doubled {len(doubled)}, "
        f"misrecorded {len(misrecorded)}, stuck {len(stuck)}, open logs {len(open_logs)}, "
        f"logons without logoff {len(no_logoff)}"
    )
    assert (doubled, misrecorded) == ([], [])
    assert (stuck, open_logs, no_logoff) == ([], [], [])
    assert len({w for w in per_work if w in once}) >= ONE_OFFS // 2  # it did run
    assert tasks_done > 0
