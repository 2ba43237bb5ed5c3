"""systemd's notify protocol against a real datagram socket."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from jobrunner.notify import Notifier


def listen(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    return sock


def test_ready_status_stopping_to_a_path_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    with listen(path) as sock:
        notifier = Notifier({"NOTIFY_SOCKET": path})
        assert notifier.send("READY=1", "STATUS=2 running")
        assert sock.recv(4096) == b"READY=1\nSTATUS=2 running"
        assert notifier.send("STOPPING=1")
        assert sock.recv(4096) == b"STOPPING=1"


def test_abstract_namespace_socket():
    name = f"jobrunner-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).send("WATCHDOG=1")
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_without_socket_nothing_is_sent():
    assert Notifier({}).send("READY=1") is False


def test_watchdog_interval_is_half_of_watchdog_usec():
    assert Notifier({"WATCHDOG_USEC": "20000000"}).watchdog == timedelta(seconds=10)
    assert Notifier({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}).watchdog is None
    assert Notifier({}).watchdog is None


def test_runner_sends_ready_and_stopping(tmp_path):
    import subprocess
    import sys

    from tests.e2e.runner_env import Env

    env = Env(tmp_path)
    env.job("j", "object_id: tests.entrypoints.jobs:ok\n")
    path = str(tmp_path / "notify.sock")
    with listen(path) as sock:
        proc = subprocess.run(
            env.command("run", "--until-idle"),
            cwd=tmp_path,
            env={**env.env, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0, proc.stderr
        messages = []
        sock.settimeout(0.5)
        try:
            while True:
                messages.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
    assert messages[0].startswith("READY=1\nSTATUS=")
    assert any(m.startswith("WATCHDOG=1") for m in messages)
    assert messages[-1] == "STOPPING=1"
    del sys
