"""The benchmark harness: each figure beside its floor or peer, measured in one run.

Medians of repetitions, pairs run alternately, ratios reported; this is not a test and
nothing fails CI on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import floors, large, peer
from bench.figure import Figure, pct, render

ROOT = Path(__file__).resolve().parent.parent


# --- a temporary installation ---------------------------------------------------------------


class Install:
    def __init__(self, folder: Path, config: str = "") -> None:
        self.root = folder
        (folder / "jobs.d").mkdir(parents=True, exist_ok=True)
        (folder / "jobrunner.yaml").write_text("timezone: UTC\n" + config)
        self.out = folder / "out.txt"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_OUT": str(self.out)}

    def write(self, name: str, text: str) -> None:
        (self.root / "jobs.d" / f"{name}.yaml").write_text(text)

    def cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "jobrunner", *args]

    def run_until_idle(self, horizon: str) -> list[dict[str, object]]:
        proc = subprocess.run(
            self.cmd("run", "--until-idle", "--horizon", horizon),
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
        return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]

    def stamps(self) -> list[tuple[str, float, float]]:
        rows = []
        for line in self.out.read_text().splitlines():
            entry_id, due, first = line.split(" ")
            due_at = datetime.fromisoformat(due.replace("Z", "+00:00")).timestamp()
            rows.append((entry_id, due_at, float(first)))
        return rows


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


# --- figures -----------------------------------------------------------------------------


def dispatch_latency(mode: str, samples: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        inst = Install(Path(folder), f"session_mode: {mode}\n")
        start = time.time() + 2.0
        for n in range(samples):
            inst.write(
                f"l{n:03d}",
                f"object_id: bench.jobs:stamp\nearliest_start: '{_iso(start + 0.25 * n)}'\n",
            )
        inst.run_until_idle("60s")
        return [first - due for _, due, first in inst.stamps()]


def burst(count: int) -> tuple[float, float, float]:
    """(first start after due, all started after due, completions per second)."""
    with tempfile.TemporaryDirectory() as folder:
        inst = Install(Path(folder))
        due = time.time() + 3.0
        for n in range(count):
            inst.write(f"b{n:04d}", f"object_id: bench.jobs:stamp\nearliest_start: '{_iso(due)}'\n")
        events = inst.run_until_idle("60s")
        firsts = [first for _, _, first in inst.stamps()]
        ends = [
            datetime.fromisoformat(str(e["timestamp"]).replace("Z", "+00:00")).timestamp()
            for e in events
            if e["event"] == "run_finished"
        ]
        return min(firsts) - due, max(firsts) - due, count / (max(ends) - due)


def cron_next_time(count: int) -> tuple[float, float]:
    from jobrunner import cron, recurrence, wallclock

    zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
    exprs = [
        (cron.parse(f"{n % 60} {n % 24} * * {n % 7}"), wallclock.zone(zones[n % 4]))
        for n in range(count)
    ]
    after = datetime(2026, 3, 28, 12, tzinfo=UTC)
    start = time.perf_counter()
    for expr, tz in exprs:
        recurrence.cron_next(expr, tz, after)
    ours = time.perf_counter() - start
    try:
        from croniter import croniter
    except ImportError:
        return ours, float("nan")
    start = time.perf_counter()
    for n in range(count):
        croniter(
            f"{n % 60} {n % 24} * * {n % 7}", after.astimezone(wallclock.zone(zones[n % 4]))
        ).get_next(datetime)
    return ours, time.perf_counter() - start


# --- the run -------------------------------------------------------------------------------


def measure(quick: bool, log: Callable[[str], None]) -> list[Figure]:
    figures = _Figures(log)
    _measure(quick, log, figures)
    return figures


class _Figures(list[Figure]):
    """Figures, each also shown as it is measured (so a late failure loses nothing)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        super().__init__()
        self._log = log

    def append(self, figure: Figure) -> None:
        super().append(figure)
        self._log(f"    {figure.name}: {figure.ours:.6g} (reference {figure.reference})")

    def __iadd__(self, figures: Any) -> _Figures:  # type: ignore[override]
        for figure in figures:
            self.append(figure)
        return self


def _measure(quick: bool, log: Callable[[str], None], figures: list[Figure]) -> None:
    n_lat = 12 if quick else 40
    n_burst = 300 if quick else 1000
    rounds = 2 if quick else 3
    latency, f = _latency(n_lat, rounds, log)
    figures += latency
    figures += _throughput(n_burst, rounds, f, log)
    figures += large.reconcile_figures(2 if quick else 5, log)
    figures += large.live_figures(quick, rounds, log)
    log("next run of 10,000 cron entries")
    ours_cron, croniter_cron = cron_next_time(10_000)
    figures.append(
        Figure(
            "9 next run, 10,000 cron entries",
            ours_cron,
            croniter_cron,
            "s",
            "<= 0.35 s",
            ours_cron <= 0.35,
            "reference: croniter",
        )
    )


def _latency(samples: int, rounds: int, log: Callable[[str], None]) -> tuple[list[Figure], float]:
    """Figure 1 (and F's median): the floors F and X and the runner's dispatch latency,
    in alternated rounds; each percentile is taken over the samples of all rounds."""
    f: list[float] = []
    ours: list[float] = []
    x: list[float] = []
    ours_spawn: list[float] = []
    for n in range(rounds):
        log(f"floors F and X, dispatch latency (fork, spawn): round {n + 1} of {rounds}")
        f += floors.fork_latency(samples)
        ours += dispatch_latency("fork", samples)
        x += floors.spawn_latency(samples)
        ours_spawn += dispatch_latency("spawn", samples)
    fp50, fp99 = statistics.median(f), pct(f, 0.99)
    return [
        Figure(
            "1 dispatch latency p50 (fork)",
            statistics.median(ours),
            fp50,
            "s",
            "<= 1.5 F",
            statistics.median(ours) <= 1.5 * fp50,
            f"{len(ours)} samples",
        ),
        Figure(
            "1 dispatch latency p99 (fork)",
            pct(ours, 0.99),
            fp50,
            "s",
            "<= 2 F",
            pct(ours, 0.99) <= 2 * fp50,
            f"F p99 {fp99 * 1000:.2f} ms",
        ),
        Figure(
            "1 dispatch latency p50 (spawn)",
            statistics.median(ours_spawn),
            statistics.median(x),
            "s",
            "<= 1.2 X",
            statistics.median(ours_spawn) <= 1.2 * statistics.median(x),
        ),
    ], fp50


def _throughput(count: int, rounds: int, f: float, log: Callable[[str], None]) -> list[Figure]:
    """Figures 3 and 4: a burst of `count` entries due at once beside L and APScheduler,
    in alternated rounds. Each figure shows the medians of its values, and its ratio is
    the median of the rounds' ratios (each round's pair ran back to back)."""
    loops: list[float] = []
    bursts: list[tuple[float, float, float]] = []
    peers: list[tuple[float, float]] = []  # (ours, APScheduler's) of the rounds it ran
    for n in range(rounds):
        log(f"burst of {count}, the floor L and APScheduler+SQLite: round {n + 1} of {rounds}")
        loops.append(floors.loop_throughput(count))
        bursts.append(burst(count))
        theirs = peer.throughput("sqlite", count)
        if theirs is not None:
            peers.append((bursts[-1][2], theirs))
    aps_memory = peer.throughput("memory", count)
    firsts = [b[0] for b in bursts]
    alls = [b[1] for b in bursts]
    per_s = [b[2] for b in bursts]
    l_times = [count / loop for loop in loops]
    all_vs_l = statistics.median(a / t for a, t in zip(alls, l_times, strict=True))
    per_s_vs_l = statistics.median(p / loop for p, loop in zip(per_s, loops, strict=True))
    vs_peer = [p / q for p, q in peers]
    per_s_vs_peer = statistics.median(vs_peer) if peers else None

    def each(values: list[float], fmt: str) -> str:
        return "rounds " + " ".join(fmt.format(v) for v in values)

    return [
        Figure(
            f"3 burst: first of {count} started",
            statistics.median(firsts),
            f,
            "s",
            "<= 2 F",
            statistics.median(firsts) <= 2 * f,
        ),
        Figure(
            f"3 burst: all {count} started",
            statistics.median(alls),
            statistics.median(l_times),
            "s",
            "<= 1.25 L",
            all_vs_l <= 1.25,
            each([a / t for a, t in zip(alls, l_times, strict=True)], "{:.2f}"),
            all_vs_l,
        ),
        Figure(
            "4 durable completions/s vs L",
            statistics.median(per_s),
            statistics.median(loops),
            "/s",
            ">= 0.85 L",
            per_s_vs_l >= 0.85,
            each([p / loop for p, loop in zip(per_s, loops, strict=True)], "{:.2f}"),
            per_s_vs_l,
        ),
        Figure(
            "4 durable completions/s vs APScheduler+SQLite",
            statistics.median(per_s),
            statistics.median(q for _, q in peers) if peers else None,
            "/s",
            ">= 1.5 x",
            None if per_s_vs_peer is None else per_s_vs_peer >= 1.5,
            (each(vs_peer, "{:.2f}") + "; " if peers else "not run; ")
            + f"APScheduler memory store {aps_memory or float('nan'):.0f}/s; "
            + f"both on Python {platform.python_version()}",
            per_s_vs_peer,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced run, under 2 minutes")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = measure(args.quick, lambda msg: print(f"... {msg}", file=sys.stderr, flush=True))
    print(render(figures))
    print(
        f"\n{len(figures)} figures in {time.perf_counter() - started:.0f} s on "
        f"{os.cpu_count()} cores",
        file=sys.stderr,
    )
    if args.json:
        args.json.write_text(
            json.dumps([{**asdict(f), "ratio": f.ratio} for f in figures], indent=2)
        )
    return 0
