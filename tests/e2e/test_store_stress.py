"""The store under attack: a runner doing large commits while CLI readers and writers
work on the same store, over and over."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
import time

J = "tests.entrypoints.jobs"
ENTRIES = 8
OUTPUT = 1_500_000  # bytes each run writes and its log entry keeps: ~370 pages a run
STRESS_S = 12.0
CONFIG = (
    "timezone: UTC\nworkers: 4\nretry_profile: [1s]\nshutdown_grace: 1s\nkill_grace: 1s\n"
    f"output_limit: {OUTPUT}\n"
)


def _cli(env, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            env.command(*args),
            cwd=env.root,
            env=env.env,
            capture_output=True,
            text=True,
            timeout=15,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, "", "timed out after 15 s")


class Crowd:
    """CLI readers (`list`, `log`, `task list`) and a writer (`task create`, `set-status`)
    in a loop, each in threads of their own, until stopped; and a quicker reader (SQLite
    in this process: a connection opened, read from and closed, over and over)."""

    def __init__(self, env, state) -> None:
        self.state = state
        self.env = env
        self.created: list[str] = []
        self.faults: list[str] = []
        self.stop = threading.Event()
        readers = [("list",), ("list",), ("log", "--limit", "5"), ("task", "list")]
        self.threads = [threading.Thread(target=self._reads, args=a) for a in readers]
        self.threads.append(threading.Thread(target=self._creates))
        self.threads.append(threading.Thread(target=self._sets))
        self.threads.append(threading.Thread(target=self._connects))

    def _check(self, args: tuple[str, ...], proc: subprocess.CompletedProcess[str]) -> bool:
        if proc.returncode != 0 or "Traceback" in proc.stderr:
            self.faults.append(f"{args}: {proc.returncode} {proc.stderr[-300:]}")
            return False
        return True

    def _reads(self, *args: str) -> None:
        while not self.stop.is_set():
            self._check(args, _cli(self.env, *args))

    def _connects(self) -> None:
        while not self.stop.is_set():
            db = sqlite3.connect(self.state, timeout=10)
            try:
                db.execute("SELECT COUNT(*) FROM log_entries").fetchone()
            except sqlite3.Error as exc:
                self.faults.append(f"sqlite: {exc}")
            finally:
                db.close()
            time.sleep(0.002)

    def _creates(self) -> None:
        n = 0
        while not self.stop.is_set():
            create = ("task", "create", f"{J}:tally", "--parameter", f"t{n}")
            if self._check(create, _cli(self.env, *create)):
                self.created.append(f"t{n}")
            n += 1

    def _sets(self) -> None:
        n = 0
        while not self.stop.is_set():
            _cli(self.env, "set-status", f"loud{n % ENTRIES}", "on_hold" if n % 2 else "ready")
            n += 1

    def __enter__(self) -> Crowd:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def _wait(runner: subprocess.Popen[str], done, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while runner.poll() is None and not done() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_cli_readers_and_writers_never_take_the_runner_down(env):
    (env.root / "jobrunner.yaml").write_text(CONFIG)
    for n in range(ENTRIES):
        env.job(
            f"loud{n}",
            f"object_id: {J}:loud\nparameter_string: '{OUTPUT}'\nrecurrence:\n  every: 1s\n",
        )
    state = env.root / ".jobrunner" / "jobrunner.sqlite3"
    with (env.root / "runner.out").open("w") as out:  # not a pipe: it would fill up
        runner = subprocess.Popen(
            env.command("run"), cwd=env.root, env=env.env, stdout=out, stderr=subprocess.PIPE
        )
        try:
            _wait(runner, lambda: "runner_started" in (env.root / "runner.out").read_text(), 20)
            with Crowd(env, state) as crowd:
                _wait(runner, lambda: False, STRESS_S)
            for n in range(ENTRIES):
                _cli(env, "set-status", f"loud{n}", "on_hold")
            _wait(runner, lambda: len(env.marks_of("tally")) >= len(crowd.created), 20)
            alive = runner.poll() is None
        finally:
            if runner.poll() is None:
                runner.send_signal(signal.SIGTERM)
            _, err = runner.communicate(timeout=30)
    assert alive, f"the runner died: status {runner.returncode}: {err[-2000:]!r}"
    assert runner.returncode == 0, err[-2000:]
    assert crowd.faults == []
    assert len(crowd.created) >= 2  # (a CLI command takes a second or more here)
    assert sorted(m.split(" ")[0] for m in env.marks_of("tally")) == sorted(crowd.created)
    db = sqlite3.connect(state)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
