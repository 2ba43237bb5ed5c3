"""Work items: staged and processed per second, durable, beside a floor measured in the
same run on the same state file.

    .venv/bin/python -m bench.items [--quick] [--json FILE]

jobrunner: `Queue.add` per item (one durable transaction each), then `claim(limit=100)`
and `with item:` for every item (its start, not durable by itself; its done, durable).
Floor: the same statements in the same transactions, with the same synchronous modes,
in a bare loop over one sqlite3 connection to the same file (no jobrunner code): what
SQLite and the disk allow for this work. Rounds alternate the two; each ratio is
jobrunner / floor, and the figure is the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from jobrunner.items import job, model
from jobrunner.items.sqlite import SqliteItems
from jobrunner.store.sqlite import SqliteStore

CHUNK = 100
_EPOCH_US = 1_000_000


def run_jobrunner(path: Path, n: int, tag: str) -> tuple[float, float]:
    """Seconds to stage n items and to process them, through the job's API."""
    items = SqliteItems(path)
    queue = job.Queue(items, model.Queue(entry_id=f"bench-{tag}", name="q"), f"s-{tag}")
    t0 = time.perf_counter()
    for k in range(n):
        queue.add(f"k{k}", {"n": k})
    t1 = time.perf_counter()
    while found := queue.claim(limit=CHUNK):
        for item in found:
            with item:
                pass
    t2 = time.perf_counter()
    items.close()
    return t1 - t0, t2 - t1


def run_floor(path: Path, n: int, tag: str) -> tuple[float, float]:
    """The same inserts and updates in a bare loop."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = FULL")
    entry, session = f"floor-{tag}", f"f-{tag}"
    db.execute("INSERT INTO item_queues VALUES (?, 'q', 3, ?)", (entry, 30 * 86400 * _EPOCH_US))
    db.execute("INSERT INTO item_runs VALUES (?, ?, 'q', 0, 0, NULL, NULL)", (session, entry))
    t0 = time.perf_counter()
    _floor_stage(db, entry, n)
    t1 = time.perf_counter()
    while numbers := _floor_claim(db, entry, session):
        for x in numbers:
            _floor_item(db, session, x)
    t2 = time.perf_counter()
    db.close()
    return t1 - t0, t2 - t1


def _now_us() -> int:
    return int(time.time() * _EPOCH_US)


def _floor_stage(db: sqlite3.Connection, entry: str, n: int) -> None:
    for k in range(n):
        now = _now_us()
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "SELECT * FROM items WHERE entry_id = ? AND queue = 'q' AND key = ?", (entry, f"k{k}")
        )
        db.execute(
            "INSERT INTO items (entry_id, queue, key, status, payload, notes, attempts, "
            "started, created_at, updated_at, claimed_at, done_at, session_id, last_session, "
            "error_message, error_stack, discarded_by) VALUES "
            "(?, 'q', ?, 'pending', ?, '{}', 0, 0, ?, ?, NULL, NULL, NULL, NULL, '', '', '')",
            (entry, f"k{k}", json.dumps({"n": k}), now, now),
        )
        db.execute("COMMIT")


def _floor_claim(db: sqlite3.Connection, entry: str, session: str) -> list[int]:
    db.execute("BEGIN IMMEDIATE")
    rows = db.execute(
        "SELECT * FROM items WHERE entry_id = ? AND queue = 'q' AND status = 'pending' "
        "ORDER BY number LIMIT ?",
        (entry, CHUNK),
    ).fetchall()
    db.executemany(
        "UPDATE items SET status = 'in_process', session_id = ?, last_session = ?, "
        "claimed_at = ? WHERE number = ?",
        [(session, session, _now_us(), r[0]) for r in rows],
    )
    db.execute("COMMIT")
    return [r[0] for r in rows]


def _floor_item(db: sqlite3.Connection, session: str, number: int) -> None:
    db.execute("PRAGMA synchronous = NORMAL")  # the start, as `with item:` begins
    db.execute("BEGIN IMMEDIATE")
    db.execute("SELECT * FROM items WHERE number = ?", (number,)).fetchone()
    db.execute("UPDATE items SET started = 1, attempts = attempts + 1 WHERE number = ?", (number,))
    db.execute("COMMIT")
    db.execute("PRAGMA synchronous = FULL")  # the done mark, durable
    db.execute("BEGIN IMMEDIATE")
    db.execute("SELECT * FROM items WHERE number = ?", (number,)).fetchone()
    db.execute(
        "UPDATE items SET status = 'done', session_id = NULL, done_at = ? WHERE number = ?",
        (_now_us(), number),
    )
    db.execute("SELECT * FROM item_runs WHERE session_id = ?", (session,)).fetchone()
    db.execute("UPDATE item_runs SET done = done + 1 WHERE session_id = ?", (session,))
    db.execute("COMMIT")


def measure(n: int, rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="jobrunner-bench-items-") as tmp:
        path = Path(tmp) / "jobrunner.sqlite3"
        SqliteStore(path).close()
        stage, process, floor_stage, floor_process = [], [], [], []
        for r in range(rounds):
            s, p = run_jobrunner(path, n, str(r))
            fs, fp = run_floor(path, n, str(r))
            stage.append(n / s)
            process.append(n / p)
            floor_stage.append(n / fs)
            floor_process.append(n / fp)
    return {
        "items": n,
        "rounds": rounds,
        "staged_per_s": statistics.median(stage),
        "staged_floor_per_s": statistics.median(floor_stage),
        "staged_ratio": statistics.median(a / b for a, b in zip(stage, floor_stage, strict=True)),
        "processed_per_s": statistics.median(process),
        "processed_floor_per_s": statistics.median(floor_process),
        "processed_ratio": statistics.median(
            a / b for a, b in zip(process, floor_process, strict=True)
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.items")
    parser.add_argument("--quick", action="store_true", help="fewer items and rounds")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    found = measure(300 if args.quick else 1000, 2 if args.quick else 3)
    for what in ("staged", "processed"):
        print(
            f"items {what:9}  {found[f'{what}_per_s']:8.0f}/s   floor "
            f"{found[f'{what}_floor_per_s']:8.0f}/s   ratio {found[f'{what}_ratio']:.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(found, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
