"""The dashboard's figures: the entries page and /metrics of a `jobrunner web` process
on a store of 10,000 entries (made by the runner from 10,000 job files) and 100,000
log entries, server time (its Server-Timing header) p50 and p99, each beside a floor
measured in the same run: the store's read of every entry, built (`list_entries()`; the
page builds only the entries it shows, /metrics none), timed in this process on the same
store."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from jobrunner import config, model
from jobrunner.store import open as store_open

ROOT = Path(__file__).resolve().parent.parent
LOG_BATCH = 5000


def populate_log(folder: Path, count: int) -> None:
    """`count` ended log entries spread over the entries, written through the store."""
    cfg = config.load(folder / "jobrunner.yaml")
    db = store_open.open_existing(cfg)
    try:
        ids = [e.id for e in db.list_entries()]
        start = datetime.now(UTC) - timedelta(days=7)
        for first in range(0, count, LOG_BATCH):
            rows = []
            for n in range(first, min(count, first + LOG_BATCH)):
                at = start + timedelta(seconds=5 * n)
                failed = n % 10 == 0
                rows.append(
                    model.LogEntry(
                        entry_id=ids[n % len(ids)],
                        start_at=at,
                        end_at=at + timedelta(milliseconds=200 + n % 3000),
                        status=model.LogStatus.ERROR if failed else model.LogStatus.SUCCESS,
                        error_message="ConnectionError: reset by peer" if failed else "",
                        user="bench",
                        object_id="bench.jobs:noop",
                        attempt=1,
                        output=f"run {n}: 42 rows\n",
                    )
                )
            db.commit(model.Transition(reason="bench", log_insert=tuple(rows)))
    finally:
        db.close()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_s(client: httpx.Client, path: str) -> float:
    response = client.get(path)
    response.raise_for_status()
    return float(response.headers["server-timing"].split("dur=")[1]) / 1000


class _Store:
    """The bench's own view of the store: the floor, and a commit (a run that ended)
    that the web process sees as a change."""

    def __init__(self, folder: Path) -> None:
        self.db = store_open.open_for_reading(config.load(folder / "jobrunner.yaml"))
        self.entry_id = self.db.list_entries()[0].id

    def floor(self) -> float:
        started = time.perf_counter()
        self.db.list_entries()
        return time.perf_counter() - started

    def change(self) -> None:
        now = datetime.now(UTC)
        row = model.LogEntry(
            entry_id=self.entry_id,
            start_at=now,
            end_at=now,
            status=model.LogStatus.SUCCESS,
            user="bench",
            object_id="bench.jobs:noop",
            attempt=1,
        )
        self.db.commit(model.Transition(reason="bench", log_insert=(row,)))


Times = dict[str, list[float]]


def measure(folder: Path, reps: int) -> dict[str, Times]:
    """path -> {"changed": server times just after a commit, "same": with nothing
    changed since the last answer, "floor": list_entries() times}, taken in turn."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobrunner", "web", "--listen", f"127.0.0.1:{port}"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    bench_store = _Store(folder)
    out: dict[str, Times] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            _wait_up(client)
            for path in ("/", "/metrics"):
                _server_s(client, path)  # warm: the first scrape counts the whole log
                times: Times = {"changed": [], "same": [], "floor": []}
                for _ in range(reps):
                    bench_store.change()
                    time.sleep(0.1)  # the watcher's event reaches the web process
                    times["changed"].append(_server_s(client, path))
                    times["same"].append(_server_s(client, path))
                    times["floor"].append(bench_store.floor())
                out[path] = times
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def _wait_up(client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            client.get("/healthz")
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "jobrunner web did not start"
            time.sleep(0.05)


def figures(quick: bool, make_files: Callable[[Path, int], None], figure: type) -> list:
    """The figures, as the harness's `Figure`s (10,000 entries, 100,000 log entries)."""
    reps = 20 if quick else 60
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        make_files(root, 10_000)
        (root / "jobrunner.yaml").write_text("timezone: UTC\n")
        subprocess.run(
            [sys.executable, "-m", "jobrunner", "run", "--until-idle"],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            check=True,
            timeout=900,
        )
        populate_log(root, 100_000)
        found = measure(root, reps)
    out = []
    for path, what, goal in (("/", "entries page", 1.0), ("/metrics", "/metrics scrape", 1.0)):
        times = found[path]
        floor = statistics.median(times["floor"])
        for kind, when in (("changed", "after a change"), ("same", "nothing changed")):
            p50, p99 = statistics.median(times[kind]), _pct(times[kind], 0.99)
            out.append(
                figure(
                    f"10 {what}, 10,000 entries, {when}",
                    p50,
                    floor,
                    "s",
                    f"p99 <= {goal:g} s",
                    p99 <= goal,
                    f"server time p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; floor: "
                    f"list_entries() {floor * 1000:.0f} ms; 100,000 log entries",
                )
            )
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    """`python -m bench.web`: these figures alone."""
    from bench import large
    from bench.figure import Figure, render

    print(render(figures("--quick" in sys.argv, large.make_files, Figure)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
