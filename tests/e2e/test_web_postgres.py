"""The dashboard on a store shared by several runners (PostgreSQL): a change made from
another machine's folder reaches the API and the open pages through the store's own
channel (no file in the web host's state folder changes), and the runner banner counts
the runners whose leases hold, not a lock file on this host."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import pgdb
from tests.e2e.web_site import ROOT, Site, config_text

pytestmark = pytest.mark.postgres


def _folder(root: Path, dsn: str) -> Path:
    """An installation that shares the store: its own jobs.d, config and state_dir."""
    root.mkdir()
    shutil.copytree(ROOT / "jobs.d", root / "jobs.d")
    (root / "jobrunner.yaml").write_text(config_text() + f"store: {dsn!r}\n")
    return root


def _until(check, seconds: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_web_on_postgresql_hears_other_hosts_commits_and_counts_runners(tmp_path):
    with pgdb.schema() as db:
        web_host = _folder(tmp_path / "web", db.dsn)
        other = _folder(tmp_path / "other", db.dsn)
        site = Site(web_host, copy=False)
        site.cli("run", "--until-idle")
        site.start()
        runner = None
        try:
            client = site.client()
            before = client.get("/api/status").json()["runner"]
            assert (before["up"], before["runners"]) == (False, 0)
            shown = {e["id"]: e["status"] for e in client.get("/api/entries").json()}
            assert shown["report-rotation"] == "ready"

            with client.stream("GET", "/events", timeout=20) as stream:
                lines = stream.iter_lines()
                assert next(lines).startswith("retry:")
                assert next(lines) == "event: hello"
                done = site.cli("set-status", "report-rotation", "on_hold", check=False)
                hold = ["set-status", "nightly-customer-sync", "on_hold"]
                subprocess.run(  # from the other folder, as another host would
                    [sys.executable, "-m", "jobrunner", *hold],
                    cwd=other,
                    env=site.env,
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
                assert done.returncode == 0, done.stderr
                _until(lambda: next(lines) == "event: change", 10, "a change event")

            def held() -> bool:
                now = {e["id"]: e["status"] for e in client.get("/api/entries").json()}
                return now["report-rotation"] == now["nightly-customer-sync"] == "on_hold"

            _until(held, 10, "the other host's set-status on the API")

            runner = subprocess.Popen(
                [sys.executable, "-m", "jobrunner", "run"],
                cwd=other,
                env=site.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )

            def counted() -> dict | None:
                state = client.get("/api/status").json()["runner"]
                return state if state["up"] else None

            state = _until(counted, 20, "the runner on the dashboard")
            assert state["runners"] == 1
            assert state["pid"] == runner.pid
            assert state["host"]
            page = client.get("/").text
            assert f"1 runner up (the first pid {runner.pid} on {state['host']}" in page
            scrape = client.get("/metrics").text
            assert "jobrunner_runner_up 1.0" in scrape
            assert "jobrunner_runners_up 1.0" in scrape
            (node,) = client.get("/api/nodes").json()
            assert (node["pid"], node["alive"], node["host"]) == (runner.pid, True, state["host"])
            assert node["state_dir"] == str(other / ".jobrunner")
            listed = client.get("/runners").text
            assert f'<td data-label="PID">{runner.pid}</td>' in listed
            assert 'href="/runners"' in page
        finally:
            if runner is not None:
                runner.send_signal(signal.SIGTERM)
                runner.communicate(timeout=30)
            site.stop()
