"""The cluster benchmarks' parts: a schema of their own on the server, runner processes
(each its own folder, config and job files), and waits that poll with a deadline."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg

from jobrunner.store.postgres import PostgresStore

ROOT = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("JOBRUNNER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def schema_dsn(name: str) -> str:
    joiner = "&" if "?" in SERVER else "?"
    return f"{SERVER}{joiner}options={quote(f'-csearch_path={name}')}"


@contextlib.contextmanager
def schema() -> Iterator[str]:
    """A fresh schema's connection string; the schema goes afterwards."""
    name = f"jr_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {name}")
    try:
        yield schema_dsn(name)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {name} CASCADE")


class Nodes:
    """`size` runner folders on the store `dsn`; each runner's jobs write to `out`."""

    def __init__(self, dsn: str, size: int, config: str = "") -> None:
        self.dsn, self.root = dsn, Path(tempfile.mkdtemp(prefix="jobrunner-bench-"))
        self.out = self.root / "out.txt"
        self.names = [f"node{i}" for i in range(size)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for name in self.names:
            (self.root / name / "jobs.d").mkdir(parents=True)
            (self.root / name / "jobrunner.yaml").write_text(
                f"timezone: UTC\nworkers: 2\nlog_file: false\nstore: {dsn!r}\n{config}"
            )

    def job(self, name: str, text: str) -> None:
        """The same job file in every runner's folder (written beside, renamed in)."""
        for node in self.names:
            temp = self.root / node / f".{name}.yaml"
            temp.write_text(text)
            os.replace(temp, self.root / node / "jobs.d" / f"{name}.yaml")

    def start(self, name: str) -> None:
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "jobrunner", "run"],
            cwd=self.root / name,
            env={
                **{k: v for k, v in os.environ.items() if k != "JOBRUNNER_STORE"},
                "PYTHONPATH": str(ROOT),
                "BENCH_OUT": str(self.out),
                "BENCH_NODE": name,
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start_all(self) -> None:
        for name in self.names:
            self.start(name)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> float:
        """SIGTERM every runner and wait for them; their CPU seconds (with children)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        cpu = 0.0
        for proc in self.procs.values():
            if proc.returncode is None:
                _, _, usage = os.wait4(proc.pid, 0)
                proc.returncode = 0
                cpu += usage.ru_utime + usage.ru_stime
        return cpu

    def alive(self) -> int:
        """How many runners the store counts as alive (entered, lease held)."""
        store = PostgresStore(self.dsn, create=False)
        try:
            return sum(1 for n in store.nodes() if n.alive) if store.exists else 0
        finally:
            store.close()

    def lines(self) -> list[list[str]]:
        return [line.split(" ") for line in self.out.read_text().splitlines()]


def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, poll: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(poll)


def sleep_until(t: float) -> None:
    """Sleep until the wall-clock instant `t` (a wait ends late by the timer's slack:
    the last millisecond is slept in small steps)."""
    while (left := t - time.time()) > 0:
        time.sleep(left - 0.001 if left > 0.002 else left / 2)
