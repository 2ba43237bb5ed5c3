"""Several real runners (`jobrunner run` processes) on one PostgreSQL store, each with its
own folder (config, job files, state_dir), and the record of every start and end their
jobs wrote (tests/entrypoints/cluster_jobs.py)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jobrunner import cluster
from jobrunner.store.postgres import PostgresStore
from tests import pgdb
from tests.e2e.runner_env import ROOT, events, written_lines

JOB = "tests.entrypoints.cluster_jobs:occurrence"
RETRY_DELAY = 1.0  # seconds: each step of the platform retry profile the runners get
FAILOVER = cluster.LEASE.total_seconds() + cluster.SWEEP
"""The bound on a dead (or frozen) runner's runs being recovered by another: its lease
lapses, then the next sweep of a runner claims it."""
LOADED = 10.0
"""Seconds added to a bound for a loaded 2-core machine (CI's, with other tests)."""
STARTUP = 30.0  # seconds for runners to start and run a first job on such a machine


@dataclass(frozen=True)
class Run:
    entry_id: str
    occurrence: str
    attempt: int
    runner: str
    start: float
    end: float | None
    fence: int = 0


class Cluster:
    def __init__(
        self, root: Path, db: pgdb.Schema, size: int, *, retries: int = 2, config: str = ""
    ) -> None:
        """`retries`: the platform retry profile's length (RETRY_DELAY each)."""
        self.root, self.db = root, db
        self.marks = root / "marks"
        self.marks.mkdir()
        self.names = [f"node{i}" for i in range(size)]
        step = f"{RETRY_DELAY:g}s"
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.outputs: dict[str, str] = {}
        for name in self.names:
            folder = root / name
            (folder / "jobs.d").mkdir(parents=True)
            (folder / "jobrunner.yaml").write_text(
                f"timezone: UTC\nworkers: 2\nretry_profile: [{', '.join([step] * retries)}]\n"
                "kill_grace: 1s\n"
                f"shutdown_grace: 1s\nstore: {db.dsn!r}\n{config}"
            )

    def job(self, name: str, text: str) -> None:
        """The same job file in every runner's checkout."""
        for node in self.names:
            (self.root / node / "jobs.d" / f"{name}.yaml").write_text(text)

    def start(self, name: str) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "JOBRUNNER_TEST_MARKS": str(self.marks),
            "JOBRUNNER_TEST_RUNNER": name,
            "TZ": "UTC",
            "PYTHONWARNINGS": "error",
        }
        env.pop("JOBRUNNER_STORE", None)
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "jobrunner", "run"],
            cwd=self.root / name,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def start_all(self) -> None:
        for name in self.names:
            self.start(name)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
        self.outputs[name] = out + err

    def stop_all(self) -> dict[str, int]:
        """SIGTERM every runner still there; their exit statuses."""
        codes: dict[str, int] = {}
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            self.outputs.setdefault(name, out + err)
            codes[name] = proc.returncode
        return codes

    def events(self, name: str) -> list[dict]:
        return events(self.outputs.get(name, ""))

    def store(self) -> PostgresStore:
        return PostgresStore(self.db.dsn, create=False)

    def runs(self) -> list[Run]:
        """Every run recorded so far, by start."""
        path = self.marks / "runs.log"
        lines = written_lines(path)
        started: dict[tuple[str, str, str, str], Run] = {}
        ended: dict[tuple[str, str, str, str], float] = {}
        for line in lines:
            what, entry_id, occurrence, attempt, runner, at, fence = line.split(" ")
            key = (entry_id, occurrence, attempt, runner)
            if what == "start":
                started[key] = Run(
                    entry_id, occurrence, int(attempt), runner, float(at), None, int(fence)
                )
            else:
                ended[key] = float(at)
        found = [dataclasses.replace(r, end=ended.get(key)) for key, r in started.items()]
        return sorted(found, key=lambda r: r.start)

    def wait_for(self, predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                runs = [(r.entry_id, r.runner, r.attempt, r.end is not None) for r in self.runs()]
                raise AssertionError(
                    f"timed out waiting for {what}; runs so far (entry, runner, attempt, "
                    f"ended): {runs}"
                )
            time.sleep(0.02)
