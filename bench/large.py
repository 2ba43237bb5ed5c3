"""Figures 5 to 8, on a folder of 10,000 job files: reconcile (cold, and a rescan with
nothing changed), start to ready, edit to rescheduled, idle CPU and wake-ups, memory;
each that has a floor is alternated with it in rounds."""

from __future__ import annotations

import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import floors
from bench.figure import Figure, paired, pct, rounds_note

ROOT = Path(__file__).resolve().parent.parent


def make_files(folder: Path, count: int) -> None:
    jobs = folder / "jobs.d"
    jobs.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        kind = n % 3
        if kind == 0:
            text = (
                "object_id: bench.jobs:noop\nrecurrence:\n  every: 5m\n  starting_time: "
                "'08:00'\n  ending_time: '18:00'\n  run_on: [mon, tue]\n"
                "earliest_start: '2030-01-01T00:00Z'\n"
            )
        elif kind == 1:
            text = f"object_id: bench.jobs:noop\nrecurrence:\n  cron: '{n % 60} {n % 24} 1 1 *'\n"
        else:
            text = "object_id: bench.jobs:noop\nearliest_start: '2031-01-01T00:00Z'\n"
        (jobs / f"job{n:05d}.yaml").write_text(text)


def reconcile_times(count: int, reps: int) -> dict[str, list[float]]:
    """Cold reconcile and no-change rescan, ours and the floors', each rep a fresh
    process for the floor and then one for ours, on the same files."""
    out: dict[str, list[float]] = {"cold": [], "rescan": [], "cold_floor": [], "rescan_floor": []}
    with tempfile.TemporaryDirectory() as folder:
        make_files(Path(folder), count)
        for _ in range(reps):
            for who, suffix in (("floor", "_floor"), ("ours", "")):
                subprocess.run(["rm", "-rf", str(Path(folder) / ".jobrunner")], check=True)
                proc = subprocess.run(
                    [sys.executable, "-m", "bench.reconcile_probe", who],
                    cwd=folder,
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
                cold, rescan = map(float, proc.stdout.split())
                out["cold" + suffix].append(cold)
                out["rescan" + suffix].append(rescan)
    return out


class LiveRunner:
    """A runner on `count` idle entries, with a notify socket to see READY=1."""

    def __init__(self, folder: Path, count: int, *, populate: bool = False) -> None:
        if populate:
            make_files(folder, count)
            (folder / "jobrunner.yaml").write_text("timezone: UTC\n")
        self.folder = folder
        sock_path = str(folder / "notify.sock")
        Path(sock_path).unlink(missing_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(sock_path)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": sock_path}
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobrunner", "run"],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.events: queue.Queue[dict[str, object]] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        self.sock.settimeout(300)
        while not self.sock.recv(4096).startswith(b"READY=1"):
            pass
        self.ready_after = time.perf_counter() - started

    def _read(self, stream: Any) -> None:
        for line in stream:
            if line.startswith("{"):
                self.events.put(json.loads(line))

    def wait_event(self, name: str, entry_id: str) -> dict[str, object]:
        while True:
            event = self.events.get(timeout=60)
            if event["event"] == name and event.get("entry_id") == entry_id:
                return event

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return [self.proc.pid, *map(int, children.split())]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)
        self.sock.close()


def cpu_and_wakeups(pids: list[int]) -> tuple[float, int]:
    ticks = os.sysconf("SC_CLK_TCK")
    cpu, switches = 0.0, 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu += (int(fields[11]) + int(fields[12])) / ticks
        for task in Path(f"/proc/{pid}/task").iterdir():
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
    return cpu, switches


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def edit_latencies(live: LiveRunner, edits: int, first: int = 0) -> list[float]:
    """Save to rescheduled (the runner's entry_changed) for `edits` saves, alternately
    in place and renamed (`first` continues the count of saves across rounds)."""
    out = []
    for n in range(first, first + edits):
        name = f"job{(n * 3 + 2) % 9999:05d}"
        text = (
            f"object_id: bench.jobs:noop\ndescription: edit {n}\n"
            "earliest_start: '2031-01-01T00:00Z'\n"
        )
        written = time.time()
        floors.save(live.folder / "jobs.d" / f"{name}.yaml", text, renamed=bool(n % 2))
        event = live.wait_event("entry_changed", name)
        at = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()
        out.append(at - written)
    return out


def reconcile_figures(reps: int, log: Callable[[str], None]) -> list[Figure]:
    """Figure 5's reconcile: cold and no-change rescan beside their floors; each ratio is
    the median of the reps' ratios (each rep's floor and ours ran back to back)."""
    log(f"reconcile of 10,000 files and its floors: {reps} alternated reps")
    t = reconcile_times(10_000, reps)
    cold, cold_ratios = paired(t["cold"], t["cold_floor"])
    rescan, rescan_ratios = paired(t["rescan"], t["rescan_floor"])
    return [
        Figure(
            "5 cold reconcile 10,000 files",
            statistics.median(t["cold"]),
            statistics.median(t["cold_floor"]),
            "s",
            "<= 1.3 x floor",
            cold <= 1.3,
            rounds_note(cold_ratios) + "; floor: read, parse, insert in one transaction",
            cold,
        ),
        Figure(
            "5 no-change rescan 10,000 files",
            statistics.median(t["rescan"]),
            statistics.median(t["rescan_floor"]),
            "s",
            "<= 1.5 x floor",
            rescan <= 1.5,
            rounds_note(rescan_ratios) + "; floor: scandir + stat",
            rescan,
        ),
    ]


def live_figures(quick: bool, rounds: int, log: Callable[[str], None]) -> list[Figure]:
    """Figures 5 (start to ready) to 8 on a live runner with 10,000 entries."""
    log("a live runner on 10,000 entries: start, edits beside W, idle, memory")
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as bare:
        cold = LiveRunner(Path(folder), 10_000, populate=True)
        cold.stop()
        make_files(Path(bare), 10_000)
        live = LiveRunner(Path(folder), 10_000)
        try:
            figures = [
                Figure(
                    "5 start to ready, 10,000 entries",
                    live.ready_after,
                    cold.ready_after,
                    "s",
                    "<= 2.5 s",
                    live.ready_after <= 2.5,
                    "a restart on a warm store; reference: the first, cold start",
                ),
                _edit_figure(live, Path(bare) / "jobs.d", (20 if quick else 100) // rounds, rounds),
            ]
            figures += _idle_figures(live, 10.0 if quick else 30.0)
        finally:
            live.stop()
    return figures


def _edit_figure(live: LiveRunner, bare: Path, per_round: int, rounds: int) -> Figure:
    """Figure 6: save to rescheduled beside W (a bare observer's event delivery for the
    same saves), in alternated rounds; each percentile over the samples of all rounds."""
    ours: list[float] = []
    w: list[float] = []
    for n in range(rounds):
        w += floors.watch_latency(bare, per_round, first=n * per_round)
        ours += edit_latencies(live, per_round, first=n * per_round)
    p99, w99 = pct(ours, 0.99), pct(w, 0.99)
    return Figure(
        "6 edit to rescheduled p99",
        p99,
        w99,
        "s",
        "<= 2 W p99 + 2 ms",
        p99 <= 2 * w99 + 0.002,
        f"p50 {statistics.median(ours) * 1000:.1f} ms, W p50 "
        f"{statistics.median(w) * 1000:.2f} ms, {len(ours)} saves",
        samples={"ours": ours, "W": w},
    )


def _idle_figures(live: LiveRunner, window: float) -> list[Figure]:
    cpu0, sw0 = cpu_and_wakeups(live.pids())
    time.sleep(window)
    cpu1, sw1 = cpu_and_wakeups(live.pids())
    scale = 30.0 / window
    return [
        Figure(
            "7 idle CPU per 30 s",
            (cpu1 - cpu0) * scale,
            None,
            "s",
            "<= 0.005 s",
            (cpu1 - cpu0) * scale <= 0.005,
            "runner + fork server, all threads",
        ),
        Figure(
            "7 idle wake-ups per 30 s",
            (sw1 - sw0) * scale,
            None,
            "",
            "<= 20",
            (sw1 - sw0) * scale <= 20,
        ),
        Figure(
            "8 runner RSS, 10,000 entries",
            rss_mib(live.proc.pid),
            None,
            "MiB",
            "<= 40 MiB",
            rss_mib(live.proc.pid) <= 40,
        ),
    ]
