"""Figures 3 and 4: a burst of entries due at once, in fork mode and in pool mode, beside
the floor L and APScheduler 3.x with its SQLite store, in alternated rounds.

Each round runs L, the fork-mode burst, APScheduler with a pool of 2 processes, the
pool-mode burst and APScheduler with its default pool of 10 threads, back to back. Each
figure shows the medians of its values; its ratio is the median of the rounds' ratios
(each shown in the note).
"""

from __future__ import annotations

import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import floors, install, peer
from bench.figure import Figure, paired, rounds_note

Burst = tuple[float, float, float]  # first started, all started (after due), per second


@dataclass
class Rounds:
    count: int
    loops: list[float] = field(default_factory=list)
    bursts: dict[str, list[Burst]] = field(default_factory=lambda: {"fork": [], "pool": []})
    # (ours, APScheduler's) of the rounds it ran, by our mode
    peers: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: {"fork": [], "pool": []}
    )
    aps_memory: float | None = None

    @property
    def l_times(self) -> list[float]:
        return [self.count / loop for loop in self.loops]


PEER_POOL = {"fork": "process", "pool": "thread"}  # APScheduler's executor beside each


def figures(count: int, rounds: int, f: float, log: Callable[[str], None]) -> list[Figure]:
    r = Rounds(count)
    for n in range(rounds):
        log(f"burst of {count} (fork, pool), L and APScheduler+SQLite: round {n + 1} of {rounds}")
        r.loops.append(floors.loop_throughput(count))
        for mode in ("fork", "pool"):
            r.bursts[mode].append(install.burst(count, mode))
            theirs = peer.throughput("sqlite", count, PEER_POOL[mode])
            if theirs is not None:
                r.peers[mode].append((r.bursts[mode][-1][2], theirs))
    r.aps_memory = peer.throughput("memory", count)
    return _fork(r, f) + _pool(r)


def _fork(r: Rounds, f: float) -> list[Figure]:
    firsts = [b[0] for b in r.bursts["fork"]]
    return [
        Figure(
            f"3 burst: first of {r.count} started",
            statistics.median(firsts),
            f,
            "s",
            "<= 2 F",
            statistics.median(firsts) <= 2 * f,
        ),
        _all_started(r, "fork", 1.25),
        _vs_l(r, "fork", 0.85),
        _vs_peer(r, "fork"),
    ]


def _pool(r: Rounds) -> list[Figure]:
    return [_all_started(r, "pool", 1.0), _vs_l(r, "pool", 1.0), _vs_peer(r, "pool")]


def _label(mode: str) -> str:
    return "" if mode == "fork" else " (pool)"


def _all_started(r: Rounds, mode: str, goal: float) -> Figure:
    alls = [b[1] for b in r.bursts[mode]]
    ratio, ratios = paired(alls, r.l_times)
    return Figure(
        f"3 burst{_label(mode)}: all {r.count} started",
        statistics.median(alls),
        statistics.median(r.l_times),
        "s",
        f"<= {goal:g} L",
        ratio <= goal,
        rounds_note(ratios),
        ratio,
    )


def _vs_l(r: Rounds, mode: str, goal: float) -> Figure:
    per_s = [b[2] for b in r.bursts[mode]]
    ratio, ratios = paired(per_s, r.loops)
    return Figure(
        f"4 durable completions/s{_label(mode)} vs L",
        statistics.median(per_s),
        statistics.median(r.loops),
        "/s",
        f">= {goal:g} L",
        ratio >= goal,
        rounds_note(ratios),
        ratio,
    )


def _vs_peer(r: Rounds, mode: str) -> Figure:
    pairs = r.peers[mode]
    ratio, ratios = paired([p for p, _ in pairs], [q for _, q in pairs]) if pairs else (None, [])
    executor = "2 processes" if PEER_POOL[mode] == "process" else "10 threads"
    note = (rounds_note(ratios) + "; " if pairs else "not run; ") + f"APScheduler on {executor}"
    if mode == "fork":
        note += f", its memory store {r.aps_memory or float('nan'):.0f}/s"
    return Figure(
        f"4 durable completions/s{_label(mode)} vs APScheduler+SQLite",
        statistics.median(b[2] for b in r.bursts[mode]),
        statistics.median(q for _, q in pairs) if pairs else None,
        "/s",
        ">= 1.5 x",
        None if ratio is None else ratio >= 1.5,
        note + f"; both on Python {platform.python_version()}",
        ratio,
    )
