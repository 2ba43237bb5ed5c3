"""A temporary installation of jobrunner for a figure, and the figures that run one:
dispatch latency (figure 1) and a burst of entries due at once (figures 3 and 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def burst(count: int, mode: str = "fork") -> tuple[float, float, float]:
    """(first start after due, all started after due, completions per second) of
    `count` entries due at once, in session_mode `mode`."""
    with tempfile.TemporaryDirectory() as folder:
        inst = Install(Path(folder), f"session_mode: {mode}\n")
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
