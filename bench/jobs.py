"""Jobs the benchmarks run: as little as possible, and a first instruction to time."""

from __future__ import annotations

import os
import time


def stamp(ctx) -> None:
    """Writes the instant of its first instruction next to the entry's due time."""
    now = time.time()
    with open(os.environ["BENCH_OUT"], "a") as f:
        f.write(f"{ctx.entry['id']} {ctx.entry['earliest_start']} {now!r}\n")


def noop(ctx) -> None:
    pass


def stamp_request(ctx) -> None:
    """Writes the instant of its first instruction next to its parameter (the instant
    its run was asked for, as the asking process wrote it)."""
    now = time.time()
    with open(os.environ["BENCH_OUT"], "a") as f:
        f.write(f"{ctx.parameter} {now!r}\n")


def hold(ctx) -> None:
    """Writes the instant of its first instruction with its session and runner, then
    works for a minute (until its runner is killed)."""
    now = time.time()
    with open(os.environ["BENCH_OUT"], "a") as f:
        f.write(f"{ctx.session_id} {os.environ.get('BENCH_NODE', '-')} {now!r}\n")
    time.sleep(60)
