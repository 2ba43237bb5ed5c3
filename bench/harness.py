"""The benchmark harness: each figure beside its floor or peer, measured in one run.

Medians of repetitions, pairs run alternately, ratios reported; this is not a test and
nothing fails CI on a slow machine.
"""

from __future__ import annotations

import argparse
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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import floors, web

ROOT = Path(__file__).resolve().parent.parent
PEER_ENV = ROOT / "bench" / ".venv-peer"


@dataclass
class Figure:
    name: str
    ours: float
    reference: float | None
    unit: str
    goal: str
    passed: bool | None
    note: str = ""
    paired: float | None = None  # median of the ratios of pairs run alternately

    @property
    def ratio(self) -> float | None:
        if self.paired is not None:
            return self.paired
        return None if not self.reference else self.ours / self.reference


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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


def peer_throughput(kind: str, count: int) -> float | None:
    python = PEER_ENV / "bin" / "python"
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(PEER_ENV)], check=False)
        ok = (
            made.returncode == 0
            and subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "apscheduler>=3.10,<4",
                    "sqlalchemy>=2",
                ],
                check=False,
            ).returncode
            == 0
        )
        if not ok:
            return None
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.run(
            [
                str(python),
                str(ROOT / "bench" / "peer_apscheduler.py"),
                kind,
                str(count),
                str(Path(folder) / "aps.sqlite"),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    return float(proc.stdout.strip()) if proc.returncode == 0 else None


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


def reconcile_times(count: int, reps: int) -> tuple[list[float], list[float]]:
    code = """
import sys, time, logging, structlog
from datetime import UTC, datetime
from pathlib import Path
from jobrunner import config
from jobrunner.reconciler import Reconciler
from jobrunner.store.sqlite import SqliteStore
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
cfg = config.load(cwd=Path.cwd())
db = SqliteStore(cfg.state_dir / "jobrunner.sqlite3")
rec = Reconciler(cfg, db, lambda: datetime.now(UTC))
t = time.perf_counter(); rec.full(); cold = time.perf_counter() - t
t = time.perf_counter(); rec.full(); noop = time.perf_counter() - t
print(cold, noop)
"""
    colds, noops = [], []
    with tempfile.TemporaryDirectory() as folder:
        make_files(Path(folder), count)
        for _ in range(reps):
            subprocess.run(["rm", "-rf", str(Path(folder) / ".jobrunner")], check=True)
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd=folder,
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            cold, noop = map(float, out.stdout.split())
            colds.append(cold)
            noops.append(noop)
    return colds, noops


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


def edit_latencies(live: LiveRunner, edits: int) -> list[float]:
    out = []
    for n in range(edits):
        name = f"job{(n * 3 + 2) % 9999:05d}"
        path = live.folder / "jobs.d" / f"{name}.yaml"
        text = (
            f"object_id: bench.jobs:noop\ndescription: edit {n}\n"
            "earliest_start: '2031-01-01T00:00Z'\n"
        )
        written = time.time()
        if n % 2:
            temp = path.with_name(f".{name}.tmp")
            temp.write_text(text)
            os.replace(temp, path)
        else:
            path.write_text(text)
        event = live.wait_event("entry_changed", name)
        at = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()
        out.append(at - written)
    return out


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
    log("reconcile of 10,000 files")
    colds, noops = reconcile_times(10_000, 2 if quick else 5)
    figures += [
        Figure(
            "5 cold reconcile 10,000 files",
            statistics.median(colds),
            None,
            "s",
            "<= 1.9 s",
            statistics.median(colds) <= 1.9,
        ),
        Figure(
            "5 no-change rescan 10,000 files",
            statistics.median(noops),
            None,
            "s",
            "<= 65 ms",
            statistics.median(noops) <= 0.065,
        ),
    ]
    log("a live runner on 10,000 entries: start, edits, idle, memory")
    with tempfile.TemporaryDirectory() as folder:
        cold = LiveRunner(Path(folder), 10_000, populate=True)
        cold.stop()
        live = LiveRunner(Path(folder), 10_000)
        try:
            figures.append(
                Figure(
                    "5 start to ready, 10,000 entries",
                    live.ready_after,
                    cold.ready_after,
                    "s",
                    "<= 2.5 s",
                    live.ready_after <= 2.5,
                    "a restart on a warm store; reference: the first, cold start",
                )
            )
            edits = edit_latencies(live, 20 if quick else 100)
            figures.append(
                Figure(
                    "6 edit to rescheduled p99",
                    pct(edits, 0.99),
                    None,
                    "s",
                    "<= 5 ms",
                    pct(edits, 0.99) <= 0.005,
                    f"p50 {statistics.median(edits) * 1000:.1f} ms",
                )
            )
            window = 10.0 if quick else 30.0
            cpu0, sw0 = cpu_and_wakeups(live.pids())
            time.sleep(window)
            cpu1, sw1 = cpu_and_wakeups(live.pids())
            scale = 30.0 / window
            figures += [
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
        finally:
            live.stop()
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
    figures += web.figures(quick, make_files, Figure)


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
        peer = peer_throughput("sqlite", count)
        if peer is not None:
            peers.append((bursts[-1][2], peer))
    aps_memory = peer_throughput("memory", count)
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
            + f"APScheduler memory store {aps_memory or float('nan'):.0f}/s",
            per_s_vs_peer,
        ),
    ]


def render(figures: list[Figure]) -> str:
    def fmt(value: float | None, unit: str) -> str:
        if value is None or value != value:
            return "-"
        if unit == "s":
            return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
        return f"{value:.1f}{unit}" if unit else f"{value:.0f}"

    rows = [("figure", "ours", "floor/peer", "ratio", "goal", "result")]
    for fig in figures:
        verdict = "-" if fig.passed is None else ("pass" if fig.passed else "FAIL")
        rows.append(
            (
                fig.name,
                fmt(fig.ours, fig.unit),
                fmt(fig.reference, fig.unit),
                "-" if fig.ratio is None else f"{fig.ratio:.2f}",
                fig.goal,
                verdict + (f"  ({fig.note})" if fig.note else ""),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[5] for r in rows
    )


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
