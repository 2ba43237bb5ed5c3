"""Several runners on one PostgreSQL store, beside a floor measured in the same run on the
same server: `python -m bench.cluster [--entries N] [--server DSN]`.

- floor: a bare loop of claim-and-complete statements on one connection (a claim with
  FOR UPDATE SKIP LOCKED, a fenced completion, each its own durable transaction);
- jobrunner: N one-off entries of a job that returns at once, run to the end by one and
  then by three `jobrunner run` processes (each its own folder): completions per second
  from the first start to the last end, and the runners' CPU seconds per run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from jobrunner.store.postgres import PostgresStore

ROOT = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("JOBRUNNER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _schema_dsn(name: str) -> str:
    joiner = "&" if "?" in SERVER else "?"
    return f"{SERVER}{joiner}options=-csearch_path%3D{name}"


def floor(cycles: int) -> float:
    """Claim-and-complete cycles per second of a bare loop on one connection."""
    name = f"jr_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {name}")
        db.execute(f"SET search_path = {name}")
        db.execute("CREATE TABLE q (id INT PRIMARY KEY, state TEXT, fence INT, done BOOL)")
        db.execute(
            "INSERT INTO q SELECT g, 'ready', 0, false FROM generate_series(1, %s) g", (cycles,)
        )
        started = time.perf_counter()
        for _ in range(cycles):
            with db.transaction():
                row = db.execute(
                    "UPDATE q SET state = 'running', fence = fence + 1 WHERE id = (SELECT id "
                    "FROM q WHERE state = 'ready' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    "RETURNING id, fence"
                ).fetchone()
            assert row is not None
            with db.transaction():
                db.execute(
                    "UPDATE q SET state = 'done', done = true WHERE id = %s AND fence = %s", row
                )
        elapsed = time.perf_counter() - started
        db.execute(f"DROP SCHEMA {name} CASCADE")
    return cycles / elapsed


def cluster(entries: int, runners: int) -> tuple[float, float]:
    """(completions per second, runner CPU seconds per run) of `runners` runners."""
    name = f"jr_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {name}")
    dsn = _schema_dsn(name)
    root = Path(tempfile.mkdtemp(prefix="jobrunner-bench-"))
    try:
        procs = [_start(root / f"node{i}", dsn, entries) for i in range(runners)]
        started = time.perf_counter()
        store = PostgresStore(dsn)
        try:
            while True:
                finished = [e for e in store.list_entries() if e.status.value == "finished"]
                if len(finished) >= entries:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            store.close()
        cpu = 0.0
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            _, _, usage = os.wait4(proc.pid, 0)
            cpu += usage.ru_utime + usage.ru_stime
        return entries / elapsed, cpu / entries
    finally:
        with psycopg.connect(SERVER, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {name} CASCADE")


def _start(folder: Path, dsn: str, entries: int) -> subprocess.Popen[bytes]:
    jobs = folder / "jobs.d"
    jobs.mkdir(parents=True)
    for i in range(entries):
        (jobs / f"e{i:05d}.yaml").write_text("object_id: bench.jobs:noop\n")
    (folder / "jobrunner.yaml").write_text(
        f"timezone: UTC\nworkers: 2\nlog_file: false\nstore: {dsn!r}\n"
    )
    return subprocess.Popen(
        [sys.executable, "-m", "jobrunner", "run"],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster")
    parser.add_argument("--entries", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=2000)
    args = parser.parse_args()
    print(f"floor: {floor(args.cycles):.0f} claim-and-complete cycles/s (one connection)")
    for runners in (1, 3):
        rate, cpu = cluster(args.entries, runners)
        print(
            f"{runners} runner(s): {rate:.1f} completions/s over {args.entries} entries, "
            f"{cpu * 1000:.1f} ms runner CPU per run"
        )
    print(f"(load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
