"""What `jobrunner run` writes where a person reads it (a terminal: one readable line per
event, coloured unless NO_COLOR) and where a program does (a pipe, the journal,
`log_format: json`: the JSON lines), and what log_level and log_file change."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time

from tests.e2e.runner_env import Env, events

J = "tests.entrypoints.jobs"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _on_terminal(env: Env, **extra: str) -> tuple[int, str]:
    """`jobrunner run --until-idle` with stdout and stderr on a pseudo-terminal."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        env.command("run", "--until-idle"),
        cwd=env.root,
        env={**env.env, **extra},
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(primary)
    code = proc.wait(timeout=30)
    return code, out.decode().replace("\r\n", "\n")


def _jobs(env: Env) -> None:
    env.job("good", f"object_id: {J}:ok\n")
    env.job("bad", f"object_id: {J}:fail\nmax_retries: 0\n")


def test_a_terminal_gets_one_readable_coloured_line_per_event(env):
    _jobs(env)
    code, out = _on_terminal(env)
    assert code == 0, out
    assert "\x1b[" in out  # coloured
    lines = ANSI.sub("", out).splitlines()
    assert not [line for line in lines if line.startswith("{")]
    (failed,) = [line for line in lines if " run_failed_finally " in line]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[error\s*\] run_failed_finally", failed)
    assert "entry_id=bad" in failed
    assert "status=error" in failed
    assert "error='boom: '" in failed
    # the noise stays in the JSON lines: no ids of sessions, no call stacks
    assert "session_id" not in failed
    assert "Traceback" not in out
    assert max(len(line) for line in lines) < 200
    (finished,) = [line for line in lines if " run_finished " in line]
    assert "[info" in finished
    assert "entry_id=good" in finished
    # the file log keeps the JSON lines, every field
    logged = events((env.root / ".jobrunner" / "log" / "jobrunner.jsonl").read_text())
    assert [e["entry_id"] for e in logged if e["event"] == "run_failed_finally"] == ["bad"]
    assert all("session_id" in e for e in logged if e["event"] == "run_failed_finally")


def test_no_color_turns_the_colour_off(env):
    _jobs(env)
    code, out = _on_terminal(env, NO_COLOR="1")
    assert code == 0, out
    assert "\x1b[" not in out
    assert any(" run_finished " in line for line in out.splitlines())
    assert not [line for line in out.splitlines() if line.startswith("{")]


def test_a_pipe_gets_the_json_lines(env):
    _jobs(env)
    code, found, err = env.run()
    assert code == 0, err
    assert "run_failed_finally" in {e["event"] for e in found}


def test_log_format_json_on_a_terminal_gets_the_json_lines(env):
    _jobs(env)
    env.configure("log_format: json\n")
    code, out = _on_terminal(env)
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines
    assert all(line.startswith("{") for line in lines), lines[:3]
    assert "run_finished" in {json.loads(line)["event"] for line in lines}


def test_log_format_console_in_a_pipe_gets_readable_lines_without_colour(env):
    _jobs(env)
    env.configure("log_format: console\n")
    proc = subprocess.run(
        env.command("run", "--until-idle"),
        cwd=env.root,
        env=env.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout
    assert events(proc.stdout) == []
    assert any(" run_finished " in line for line in proc.stdout.splitlines())


def test_log_level_warning_drops_the_info_events(env):
    _jobs(env)
    env.configure("log_level: warning\n")
    code, found, err = env.run()
    assert code == 0, err
    assert {e["event"] for e in found} == {"run_failed", "run_failed_finally"}
    logged = events((env.root / ".jobrunner" / "log" / "jobrunner.jsonl").read_text())
    assert {e["level"] for e in logged} == {"warning", "error"}


def test_log_file_false_writes_no_file_log(env):
    _jobs(env)
    env.configure("log_file: false\n")
    code, found, err = env.run()
    assert code == 0, err
    assert "run_finished" in {e["event"] for e in found}
    log_dir = env.root / ".jobrunner" / "log"
    assert not log_dir.exists() or list(log_dir.iterdir()) == []
