"""Several runners on one PostgreSQL store, each figure beside a floor measured in the
same run on the same server: `python -m bench.cluster [--entries N] [--cycles N]
[--samples N] [--rounds N] [--kills N] [--json FILE]`.

1. Durable completions per second: N one-off entries of a job that returns at once, run
   to the end by one and then by three `jobrunner run` processes (each its own folder),
   from the first run's start to the last run's end (their log entries), and the CPU
   per run of the runners and their fork servers (with the sessions they reaped)
   meanwhile. Floors: L, a bare loop on one connection that claims 32 rows (FOR UPDATE
   SKIP LOCKED, synchronous_commit off as a runner's starts), forks a no-op child for
   each and waits for it (a session per run), and completes them in one durable, fenced
   transaction (a runner groups its commits too); and the bare claim-and-complete loop,
   one row at a time, each statement its own durable transaction. Their CPU per run is
   this process's and its children's (as the runners', the server's is not counted).
2. Due to first instruction on an idle cluster of three runners, p50 and p99: an entry
   due, and a task asked for by another process (see bench.cluster_latency).
3. Failover over repeated kill -9s, p50 and max (see bench.cluster_failover).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import psycopg

from bench import cluster_failover, cluster_latency
from bench.cluster_nodes import SERVER, Nodes, schema, wait_for
from bench.figure import Figure, pct, render
from jobrunner.store.postgres import PostgresStore

FAILOVER_GOAL = 5.0  # seconds: the README's "recovered by another within 5 s"


GROUP = 32  # runs a grouped floor claims, and completes, per transaction


def floor(cycles: int, *, group: int = 0) -> tuple[float, float]:
    """(cycles per second, CPU seconds per cycle) of the bare loop: claim-and-complete
    one row at a time (`group` 0), or claim `group` rows, fork a no-op child for each
    and wait for it, and complete them (L)."""
    name = f"jr_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {name}")
        db.execute(f"SET search_path = {name}")
        db.execute("CREATE TABLE q (id INT PRIMARY KEY, state TEXT, fence INT, done BOOL)")
        db.execute(
            "INSERT INTO q SELECT g, 'ready', 0, false FROM generate_series(1, %s) g", (cycles,)
        )
        cpu, started = _cpu(), time.perf_counter()
        for _ in range(cycles // max(group, 1)):
            _cycle(db, group)
        elapsed, used = time.perf_counter() - started, _cpu() - cpu
        db.execute(f"DROP SCHEMA {name} CASCADE")
    done = cycles // max(group, 1) * max(group, 1)
    return done / elapsed, used / done


def _cycle(db: psycopg.Connection, group: int) -> None:
    with db.transaction():
        if group:  # a start need not be durable (its end's commit is)
            db.execute("SET LOCAL synchronous_commit = off")
        rows = db.execute(
            "UPDATE q SET state = 'running', fence = fence + 1 WHERE id IN (SELECT id "
            "FROM q WHERE state = 'ready' ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
            "RETURNING id, fence",
            (max(group, 1),),
        ).fetchall()
    assert rows
    for _ in rows if group else ():
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    with db.transaction():
        db.execute(
            "UPDATE q SET state = 'done', done = true FROM unnest(%s::int[], %s::int[]) "
            "AS d(id, fence) WHERE q.id = d.id AND q.fence = d.fence",
            ([r[0] for r in rows], [r[1] for r in rows]),
        )


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def cluster(entries: int, runners: int) -> tuple[float, float]:
    """(completions per second, runner CPU seconds per run) of `runners` runners, from
    the first run's start to the last run's end (their log entries), and the CPU the
    runners and their fork servers (with the sessions they reaped) used meanwhile."""
    with schema() as dsn:
        nodes = Nodes(dsn, runners)
        for i in range(entries):
            nodes.job(f"e{i:05d}", "object_id: bench.jobs:noop\n")
        nodes.start_all()
        try:
            wait_for(lambda: _exists(dsn), 60, "the schema")
            with psycopg.connect(dsn, autocommit=True) as db:
                wait_for(lambda: _count(db, "log_entries", "true"), 60, "a run", poll=0.02)
                cpu = _tree_cpu(nodes)
                done = "status = 'finished'"
                wait_for(lambda: _count(db, "entries", done) >= entries, 600, "the end", 0.02)
                used = _tree_cpu(nodes) - cpu
                first, last = db.execute(
                    "SELECT min(start_at), max(end_at) FROM log_entries"
                ).fetchone()
        finally:
            nodes.stop_all()
    return entries / ((last - first) / 1e6), used / entries


def _count(db: psycopg.Connection, table: str, where: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])


def _tree_cpu(nodes: Nodes) -> float:
    """CPU seconds of the runners and their children (the fork servers, and what
    those reaped: the sessions that ended)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in nodes.procs.values():
        pids = [proc.pid]
        with contextlib.suppress(OSError):
            pids += [
                int(p)
                for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            ]
        for pid in pids:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / ticks


def _exists(dsn: str) -> bool:
    store = PostgresStore(dsn, create=False)
    try:
        return store.exists
    finally:
        store.close()


def throughput_figures(entries: int, cycles: int) -> list[Figure]:
    """Figure 1 and its floors: L (grouped, a child per run) and the bare loop."""
    bare, bare_cpu = floor(cycles)
    grouped, grouped_cpu = floor(cycles, group=GROUP)
    figures = []
    for runners in (1, 3):
        rate, cpu = cluster(entries, runners)
        figures += [
            Figure(
                f"completions/s, {runners} runner(s), {entries} runs",
                rate,
                grouped,
                "/s",
                "-",
                None,
                f"L; bare claim-and-complete {bare:.0f}/s, ratio {rate / bare:.2f}",
            ),
            Figure(
                f"CPU per run, {runners} runner(s)",
                cpu,
                grouped_cpu,
                "s",
                "-",
                None,
                f"L's per run; the bare loop's {bare_cpu * 1000:.2f} ms",
            ),
        ]
    return figures


def latency_figures(samples: int, rounds: int, gap: float = 0.5) -> list[Figure]:
    """Figure 2: due (or asked) to first instruction, the floors in alternated rounds."""
    with schema() as dsn:
        nodes = Nodes(dsn, 3)
        nodes.start_all()
        try:
            wait_for(lambda: nodes.alive() == 3, 60, "three runners", poll=0.2)
            offset = _offset(dsn)
            lat = cluster_latency
            found = lat.alternated(
                rounds,
                {
                    "entry due": (
                        lambda n: lat.due_latency(nodes, samples, gap, n),
                        lambda n: lat.due_floor(dsn, samples, gap),
                    ),
                    "task asked": (
                        lambda n: lat.request_latency(nodes, samples, gap, n),
                        lambda n: lat.request_floor(dsn, samples, gap),
                    ),
                },
            )
        finally:
            nodes.stop_all()
    figures = []
    for name in ("entry due", "task asked"):
        ours, bound = found[name], found[f"{name} floor"]
        for label, q in (("p50", 0.5), ("p99", 0.99)):
            figures.append(
                Figure(
                    f"{name} to first instruction {label}, 3 idle runners",
                    pct(ours, q),
                    pct(bound, q),
                    "s",
                    "-",
                    None,
                    f"{len(ours)} samples; server clock offset {offset * 1000:+.2f} ms",
                    samples={"ours": ours, "floor": bound},
                )
            )
    return figures


def _offset(dsn: str) -> float:
    """The server's clock minus this machine's (half the round trip on each side)."""
    store = PostgresStore(dsn, create=False)
    try:
        before = time.time()
        server = store.server_now().timestamp()
        return server - (before + time.time()) / 2
    finally:
        store.close()


def failover_figures(kills: int) -> list[Figure]:
    """Figure 3: failover over `kills` kill -9s, beside the killed runners' leases."""
    found = cluster_failover.failover(kills)
    recovered, retried, bound = found["recovered"], found["retried"], found["floor"]
    note = f"{kills} kills; the retry's first instruction p50 {statistics.median(retried):.2f} s"
    return [
        Figure(
            "failover p50 (kill -9 to run recovered)",
            statistics.median(recovered),
            statistics.median(bound),
            "s",
            "-",
            None,
            note + f", max {max(retried):.2f} s",
            samples={"ours": recovered, "floor": bound},
        ),
        Figure(
            "failover max",
            max(recovered),
            max(bound),
            "s",
            f"<= {FAILOVER_GOAL:g} s",
            max(recovered) <= FAILOVER_GOAL,
            "floor: the killed runner's lease lapsing (server clock)",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--entries", type=int, default=300, help="runs for figure 1")
    parser.add_argument("--cycles", type=int, default=2000, help="floor cycles for figure 1")
    parser.add_argument("--samples", type=int, default=30, help="per round, figure 2")
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds, figure 2")
    parser.add_argument("--kills", type=int, default=20, help="kill -9s, figure 3")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = throughput_figures(args.entries, args.cycles)
    figures += latency_figures(args.samples, args.rounds)
    figures += failover_figures(args.kills)
    print(render(figures))
    print(
        f"\n{len(figures)} figures in {time.perf_counter() - started:.0f} s on {os.cpu_count()} "
        f"cores (load average at the end: {os.getloadavg()[0]:.2f})"
    )
    if args.json:
        args.json.write_text(
            json.dumps([{**asdict(f), "ratio": f.ratio} for f in figures], indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
