"""Due to first instruction on an idle cluster: three runners on one store, each idle
and asleep, and the time from an entry's due instant, or from a task asked for by
another process, to the first instruction of its job; beside floors measured in the
same run, on the same server, while the same runners idle:

- due floor: a process sleeps until the due instant, commits its claim of a row
  (compare-and-set, synchronous_commit off, as a runner commits a start) and hands the
  run to a child forked ahead through a pipe; the child reads the clock. A runner must
  do at least that (its fork server keeps children forked ahead too, so a fork on the
  path would be a looser bound, not a lower one);
- request floor: the asking process commits a row and a NOTIFY (durable, as
  `jobrunner.tasks.create_task` commits a task); a bare listener on another connection
  wakes, claims the row and hands it to a child forked ahead, which reads the clock.

Everything runs on one machine: the job's clock, the asking process's and the database
server's are one clock (the runners' offset to the server's is shown in the note).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from bench.cluster_nodes import Nodes, sleep_until, wait_for

LEAD = 5.0  # seconds from writing a round's job files to its first due instant
FLOOR_CHANNEL = "bench_floor"  # (not the runners' channel: they are not woken)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _forked_ahead() -> tuple[int, int, int]:
    """A child blocked on a pipe: (pid, the pipe to hand it a run, the pipe it answers
    with the instant of its first instruction)."""
    go_r, go_w = os.pipe()
    back_r, back_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(back_r)
        os.read(go_r, 1)
        os.write(back_w, repr(time.time()).encode())
        os._exit(0)
    os.close(go_r)
    os.close(back_w)
    return pid, go_w, back_r


def _hand_over(child: tuple[int, int, int]) -> float:
    """Hand the run to the child; the instant of its first instruction."""
    pid, go_w, back_r = child
    os.write(go_w, b"!")
    first = float(os.read(back_r, 64))
    os.waitpid(pid, 0)
    os.close(go_w)
    os.close(back_r)
    return first


def _claim(db: psycopg.Connection, sql: str, params: tuple[object, ...]) -> object:
    with db.transaction():
        db.execute("SET LOCAL synchronous_commit = off")
        row = db.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def due_floor(dsn: str, samples: int, gap: float) -> list[float]:
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("CREATE TABLE bench_due (id INT PRIMARY KEY, fence INT NOT NULL)")
        db.execute("INSERT INTO bench_due SELECT g, 0 FROM generate_series(1, %s) g", (samples,))
        start, out = time.time() + 1.0, []
        for n in range(1, samples + 1):
            child = _forked_ahead()
            due = start + gap * n
            sleep_until(due)
            _claim(
                db,
                "UPDATE bench_due SET fence = fence + 1 WHERE id = %s AND fence = 0 RETURNING id",
                (n,),
            )
            out.append(_hand_over(child) - due)
        db.execute("DROP TABLE bench_due")
    return out


def request_floor(dsn: str, samples: int, gap: float) -> list[float]:
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("CREATE TABLE bench_asked (id SERIAL PRIMARY KEY, asked FLOAT8, taken BOOL)")
    ready_r, ready_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            _listen(dsn, samples, ready_w, out_w)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(out_w)
    os.read(ready_r, 1)
    with psycopg.connect(dsn, autocommit=True) as db:
        for _ in range(samples):
            time.sleep(gap)
            asked = time.time()
            with db.transaction():
                db.execute("INSERT INTO bench_asked (asked, taken) VALUES (%s, false)", (asked,))
                db.execute("SELECT pg_notify(%s, '')", (FLOOR_CHANNEL,))
        with os.fdopen(out_r) as answers:
            rows = [line.split(" ") for line in answers.read().splitlines()]
        os.waitpid(pid, 0)
        os.close(ready_r)
        db.execute("DROP TABLE bench_asked")
    return [float(first) - float(asked) for asked, first in rows]


def _listen(dsn: str, samples: int, ready_w: int, out_w: int) -> None:
    """The request floor's listener (a process of its own)."""
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(f"LISTEN {FLOOR_CHANNEL}")
        os.write(ready_w, b"!")
        for _ in range(samples):
            child = _forked_ahead()
            for _note in db.notifies():
                break
            asked = _claim(
                db,
                "UPDATE bench_asked SET taken = true WHERE id = (SELECT id FROM bench_asked "
                "WHERE NOT taken ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING asked",
                (),
            )
            first = _hand_over(child)
            os.write(out_w, f"{asked!r} {first!r}\n".encode())
    os.close(out_w)


def due_latency(nodes: Nodes, samples: int, gap: float, round_no: int) -> list[float]:
    """Entries due one after another, `gap` apart, on the idle cluster `nodes`."""
    start = time.time() + LEAD
    prefix = f"due{round_no}-"
    for n in range(samples):
        due = iso(start + gap * n)
        nodes.job(f"{prefix}{n:03d}", f"object_id: bench.jobs:stamp\nearliest_start: '{due}'\n")
    rows = _answers(nodes, prefix, samples, start + gap * samples)
    return [float(first) - _instant(due) for _, due, first in rows]


def request_latency(nodes: Nodes, samples: int, gap: float, round_no: int) -> list[float]:
    """Tasks asked for by this process (`jobrunner.tasks.create_task`, as a program
    on another machine would), `gap` apart, of the idle cluster `nodes`."""
    from jobrunner import tasks

    client = nodes.root / "client"
    client.mkdir(exist_ok=True)
    (client / "jobrunner.yaml").write_text(f"timezone: UTC\nstore: {nodes.dsn!r}\n")
    tasks.configure(client / "jobrunner.yaml")
    prefix = f"task{round_no}-"
    for n in range(samples):
        time.sleep(gap)
        asked = time.time()
        tasks.create_task("bench.jobs:stamp_request", parameter=f"{prefix}{n:03d} {asked!r}")
    rows = _answers(nodes, prefix, samples, time.time())
    return [float(first) - float(asked) for _, asked, first in rows]


def _answers(nodes: Nodes, prefix: str, samples: int, last: float) -> list[list[str]]:
    def found() -> list[list[str]]:
        return [r for r in nodes.lines() if r[0].startswith(prefix)] if nodes.out.exists() else []

    wait_for(lambda: len(found()) >= samples, max(0.0, last - time.time()) + 60, prefix)
    return found()


def _instant(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


Measure = Callable[[int], list[float]]


def alternated(rounds: int, pairs: dict[str, tuple[Measure, Measure]]) -> dict[str, list[float]]:
    """Each (ours, floor) pair of `pairs` measured in `rounds` alternated rounds: the
    samples of all rounds, by name (and name + ' floor')."""
    found: dict[str, list[float]] = {}
    for n in range(rounds):
        for name, (ours, floor) in pairs.items():
            found.setdefault(name, []).extend(ours(n))
            found.setdefault(f"{name} floor", []).extend(floor(n))
    return found
