"""The benchmark harness: each figure beside its floor or peer, measured in one run.

Medians of repetitions, pairs run alternately, ratios reported; this is not a test and
nothing fails CI on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import floors, install, large, throughput, web
from bench.figure import Figure, pct, render

ROOT = Path(__file__).resolve().parent.parent


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
    figures += throughput.figures(n_burst, rounds, f, log)
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
    log("the dashboard: 10,000 entries, 100,000 log entries")
    figures += web.figures(quick, large.make_files, Figure)


def _latency(samples: int, rounds: int, log: Callable[[str], None]) -> tuple[list[Figure], float]:
    """Figure 1 (and F's median): the floors F and X and the runner's dispatch latency,
    in alternated rounds; each percentile is taken over the samples of all rounds."""
    f, ours, x, ours_spawn = [], [], [], []  # (seconds: F, ours in fork mode, X, spawn)
    for n in range(rounds):
        log(f"floors F and X, dispatch latency (fork, spawn): round {n + 1} of {rounds}")
        f += floors.fork_latency(samples)
        ours += install.dispatch_latency("fork", samples)
        x += floors.spawn_latency(samples)
        ours_spawn += install.dispatch_latency("spawn", samples)
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
            samples={"ours": ours, "F": f},
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
            samples={"ours": ours_spawn, "X": x},
        ),
    ], fp50


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced run, under 2 minutes")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results")
    parser.add_argument(
        "--plot", type=Path, metavar="FILE.png", help="also draw the latencies and ratios"
    )
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
    if args.plot:
        from bench import plot

        plot.write(figures, args.plot)
    return 0
