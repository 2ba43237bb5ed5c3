"""A temporary installation with a real state made by the real CLI and runner, and a
real `jobrunner web` process serving it (one per test module)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from jobrunner import permissions
from jobrunner.web import auth

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ops-token-0123456789abcdef"  # the test's own; only its hash is in the config
CAROL_TOKEN = "carol-token-0123456789abcdef"
PASSWORD = "alice-password"
ME = permissions.current_user()


def config_text() -> str:
    """Alice (password) may steer the CRM jobs; carol (token) only the customer sync;
    ops (token) everything, tasks too. The runner's own account may run everything."""
    return f"""\
timezone: Europe/Berlin
workers: 2
retry_profile: [1s]
kill_grace: 1s
shutdown_grace: 1s
users:
  {ME}: {{objects: ["*"], create_tasks: true}}
  ops: {{objects: ["*"], create_tasks: true}}
  alice: {{objects: [50100, 50110, "tests.entrypoints.*"]}}
  carol: {{objects: [50100]}}
web:
  users:
    alice: "{auth.hash_password(PASSWORD)}"
  tokens:
    ops: "{auth.hash_token(TOKEN)}"
    carol: "{auth.hash_token(CAROL_TOKEN)}"
"""


LOUD = """\
description: Prints markup and fails
object_id: tests.entrypoints.web:shout
parameter_string: "<b>not bold</b>"
category: CRM
max_retries: 0
"""
STUCK = """\
description: Hangs in the foreground
object_id: tests.entrypoints.jobs:hang
status: on_hold
"""
LATER_BAD = "description: Valid at first\nobject_id: 50130\nstatus: on_hold\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Site:
    def __init__(self, root: Path, *, config: str | None = None, copy: bool = True) -> None:
        """`copy`: a new installation (the examples and the config) in `root`; else
        another server on the installation there."""
        self.root = root
        if copy:
            shutil.copytree(ROOT / "jobs.d", root / "jobs.d")
            (root / "jobrunner.yaml").write_text(config or config_text())
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"}
        self.env.pop("JOBRUNNER_CONFIG", None)
        self.proc: subprocess.Popen[str] | None = None
        self.clients: list[httpx.Client] = []  # closed with the server
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, timeout: float = 60, check: bool = True) -> Any:
        proc = subprocess.run(
            [sys.executable, "-m", "jobrunner", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert proc.returncode in (0, 1, 2), proc.stderr
            assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def json_lines(self, *args: str) -> list[Any]:
        return [json.loads(line) for line in self.cli(*args, "--json").stdout.splitlines()]

    def make_state(self) -> None:
        """The examples run; an entry that failed with markup in its output and error;
        a file rejected after its entry was made; a pending task; a foreground log entry
        left in process (its run-once killed)."""
        (self.root / "jobs.d" / "loud.yaml").write_text(LOUD)
        (self.root / "jobs.d" / "later-bad.yaml").write_text(LATER_BAD)
        (self.root / "jobs.d" / "stuck.yaml").write_text(STUCK)
        self.cli("run", "--until-idle")
        (self.root / "jobs.d" / "later-bad.yaml").write_text(LATER_BAD + "colour: blue\n")
        self.cli("run", "--until-idle")
        self.cli("task", "create", "tests.entrypoints.jobs:ok", "--not-ready")
        self.stuck_log_entry()

    def stuck_log_entry(self) -> int:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobrunner", "run-once", "stuck"],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                rows = self.json_lines("log", "stuck")
                if rows and rows[0]["status"] == "in_process":
                    return int(rows[0]["entry_no"])
                time.sleep(0.1)
            raise AssertionError("run-once never wrote its log entry")
        finally:
            proc.kill()
            proc.wait()

    def start(self, *args: str) -> None:
        """`args`: the command line's options (default: --listen 127.0.0.1:PORT)."""
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobrunner",
                "web",
                *(args or ("--listen", f"127.0.0.1:{self.port}")),
            ],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"jobrunner web exited: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            try:
                httpx.get(f"{self.url}/healthz?check=store", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("jobrunner web did not answer")

    def stop(self) -> str:
        """Stop the server (SIGTERM, as systemd does); its stdout."""
        for c in self.clients:
            c.close()
        self.clients.clear()
        if self.proc is None:
            return ""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=15)
        assert "Traceback" not in err, err
        self.proc = None
        return out

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        made = httpx.Client(base_url=self.url, headers=headers, timeout=10)
        self.clients.append(made)
        return made
