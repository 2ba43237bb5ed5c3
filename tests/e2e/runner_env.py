"""A temporary jobrunner installation for end-to-end runner tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jobrunner import model
from jobrunner.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
timezone: UTC
workers: 2
retry_profile: [1s, 1s]
kill_grace: 1s
shutdown_grace: 1s
"""


class Env:
    def __init__(self, root: Path, config: str = CONFIG) -> None:
        self.root = root
        self.jobs = root / "jobs.d"
        self.jobs.mkdir(exist_ok=True)
        self.marks = root / "marks"
        self.marks.mkdir(exist_ok=True)
        (root / "jobrunner.yaml").write_text(config)
        self.cleanup: list[Path] = []
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "JOBRUNNER_TEST_MARKS": str(self.marks),
            "TZ": "UTC",
            "PYTHONWARNINGS": "error",
        }

    def world_readable_job(self) -> str:
        """The whoami job in a folder any user can read (a session that switches user
        cannot import from a checkout in a private folder); returns its object ref."""
        folder = Path(tempfile.mkdtemp(prefix="jobrunner-any-user-", dir="/tmp"))
        self.cleanup.append(folder)
        folder.chmod(0o755)
        module = folder / f"{folder.name.replace('-', '_')}.py"
        module.write_text((ROOT / "tests" / "entrypoints" / "whoami.py").read_text())
        module.chmod(0o644)
        self.env["PYTHONPATH"] = f"{folder}{os.pathsep}{self.env['PYTHONPATH']}"
        return f"{module.stem}:whoami"

    def job(self, name: str, text: str) -> None:
        (self.jobs / f"{name}.yaml").write_text(text)

    def configure(self, extra: str) -> None:
        (self.root / "jobrunner.yaml").write_text(CONFIG + extra)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "jobrunner", *args]

    def run(self, *args: str, timeout: float = 60) -> tuple[int, list[dict[str, Any]], str]:
        proc = subprocess.run(
            self.command("run", "--until-idle", *args),
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.returncode, events(proc.stdout), proc.stderr

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command("run", *args),
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def store(self) -> SqliteStore:
        return SqliteStore(self.root / ".jobrunner" / "jobrunner.sqlite3")

    def entry(self, entry_id: str) -> model.Entry | None:
        db = self.store()
        try:
            return db.get_entry(entry_id)
        finally:
            db.close()

    def log(self, entry_id: str | None = None) -> list[model.LogEntry]:
        db = self.store()
        try:
            return db.list_log(entry_id=entry_id)
        finally:
            db.close()

    def marks_of(self, entry_id: str) -> list[str]:
        return written_lines(self.marks / f"{entry_id}.marks")

    def wait_for_mark(self, entry_id: str, prefix: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not any(m.startswith(prefix) for m in self.marks_of(entry_id)):
            assert time.monotonic() < deadline, f"no {prefix!r} mark from {entry_id}"
            time.sleep(0.02)


def written_lines(path: Path) -> list[str]:
    """The lines appended to `path` so far; a last one still being written (a job
    appends while the test reads) is left for the next read."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return text.split("\n")[:-1]


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def named(
    found: list[dict[str, Any]], name: str, entry_id: str | None = None
) -> list[dict[str, Any]]:
    return [
        e
        for e in found
        if e["event"] == name and (entry_id is None or e.get("entry_id") == entry_id)
    ]
