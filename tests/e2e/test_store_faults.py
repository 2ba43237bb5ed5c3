"""The state store failing under a running runner: a full disk, a read-only file system,
the store file deleted or replaced."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobrunner import model
from jobrunner.store.sqlite import SqliteStore

J = "tests.entrypoints.jobs"
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a file system")


class Live:
    """A runner in the background, its events in a file, its notify messages on a socket."""

    def __init__(self, env, state: Path) -> None:
        self.env, self.state = env, state
        self.out_path = env.root / "runner.out"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(env.root / "notify.sock"))
        self.notify.setblocking(False)
        self.messages: list[str] = []
        with self.out_path.open("w") as out:
            self.proc = subprocess.Popen(
                env.command("run"),
                cwd=env.root,
                env={**env.env, "NOTIFY_SOCKET": str(env.root / "notify.sock")},
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
            )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        lines = self.out_path.read_text().splitlines()
        found = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in found if name is None or e["event"] == name]

    def status(self) -> list[str]:
        with contextlib.suppress(BlockingIOError):
            while True:
                self.messages.append(self.notify.recv(65536).decode())
        return [m for m in self.messages if "STATUS=" in m]

    def wait(self, done: Callable[[], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self.proc.poll() is not None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"runner exited {self.proc.returncode} ({what}): {err}")
            assert time.monotonic() < deadline, f"timed out: {what}"
            time.sleep(0.05)

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        self.notify.close()
        return self.proc.returncode, err


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError as exc:  # the file system is full
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def _ext4(path: Path, image: Path) -> Iterator[str]:
    """A 16 MB ext4 file system on a loop device that an error turns read-only."""
    path.mkdir()
    subprocess.run(["truncate", "-s", "16M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    loop = subprocess.run(
        ["losetup", "-f", "--show", str(image)], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        subprocess.run(["blockdev", "--setrw", loop], check=True)
        subprocess.run(["mount", "-o", "errors=remount-ro", loop, str(path)], check=True)
        try:
            yield os.path.basename(loop)
        finally:
            subprocess.run(["umount", "-l", str(path)], check=False)
    finally:
        subprocess.run(["losetup", "-d", loop], check=False)


def _closed_runs(state: Path) -> dict[str, model.LogEntry]:
    db = SqliteStore(state / "jobrunner.sqlite3")
    try:
        return {r.session_id: r for r in db.list_log()}
    finally:
        db.close()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def _jobs(env) -> None:
    env.job("tick", f"object_id: {J}:ok\nrecurrence:\n  every: 1s\n")
    env.job("long", f"object_id: {J}:slow\nparameter_string: '1.5'\nrecurrence:\n  every: 1s\n")


@root_only
def test_a_full_disk_holds_the_runner_until_space_returns_and_loses_nothing(env):
    env.configure("state_dir: state\n")
    _jobs(env)
    with _tmpfs(env.root / "state", "2m") as state:
        live = Live(env, state)
        try:
            live.wait(lambda: len(live.events("run_finished")) >= 3, 20, "runs before")
            live.wait(lambda: env.marks_of("long")[-1].startswith("slow "), 10, "long running")
            filler = _fill(state)
            live.wait(lambda: live.events("store_unwritable"), 20, "the failure reported")
            started = len(live.events("run_started"))
            ended_before = len(env.marks_of("long"))
            cpu = _cpu_s(live.proc.pid)
            time.sleep(3)
            assert live.proc.poll() is None  # up
            assert _cpu_s(live.proc.pid) - cpu < 0.5  # waiting, not spinning
            assert len(live.events("run_started")) == started  # starting nothing
            assert any("cannot be written" in m for m in live.status())
            assert len(env.marks_of("long")) > ended_before  # a run ended meanwhile
            filler.unlink()
            live.wait(lambda: live.events("store_writable"), 40, "carried on")
            after = len(live.events("run_finished"))
            live.wait(lambda: len(live.events("run_finished")) >= after + 2, 20, "runs after")
        finally:
            code, err = live.stop()
        assert code == 0, err
        assert "the state store cannot be written" in err
        closed = _closed_runs(state)
        for event in live.events("run_started"):  # every run recorded, and closed
            assert closed[event["session_id"]].end_at is not None
        assert _integrity(state / "jobrunner.sqlite3") == "ok"
        runs_of_long = [r for r in closed.values() if r.entry_id == "long"]
        done = sum(m.startswith("slow-done") for m in env.marks_of("long"))
        assert sum(r.status is model.LogStatus.SUCCESS for r in runs_of_long) == done, (
            [(r.status, r.error_message, r.session_id) for r in runs_of_long],
            env.marks_of("long"),
            err[-3000:],
        )


@root_only
def test_a_read_only_state_folder_holds_the_runner_and_it_starts_nothing(env):
    env.configure("state_dir: state\n")
    _jobs(env)
    with _ext4(env.root / "state", env.root / "state.img") as device:
        state = env.root / "state"
        live = Live(env, state)
        try:
            live.wait(lambda: len(live.events("run_finished")) >= 2, 20, "runs before")
            Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("test\n")
            live.wait(lambda: live.events("store_unwritable"), 20, "the failure reported")
            started = len(live.events("run_started"))
            time.sleep(2)
            assert live.proc.poll() is None
            assert len(live.events("run_started")) == started
            assert any("cannot be written" in m for m in live.status())
            retries = [e["retry_s"] for e in live.events("store_unwritable")]
            assert retries == sorted(retries)  # backing off
            assert retries[0] == 0.1
        finally:
            code, err = live.stop()
        assert code == 0, err
        assert "the state store cannot be written" in err


@pytest.mark.parametrize("how", ["delete", "replace"])
def test_a_store_deleted_or_replaced_stops_the_runner_before_another_start(env, how):
    env.job("tick", f"object_id: {J}:ok\nrecurrence:\n  every: 1s\n")
    state = env.root / ".jobrunner"
    live = Live(env, state)
    try:
        live.wait(lambda: len(live.events("run_finished")) >= 2, 20, "runs before")
        path = state / "jobrunner.sqlite3"
        if how == "delete":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink()
        else:
            other = state / "other.sqlite3"
            db = sqlite3.connect(other)
            db.execute("CREATE TABLE t (x)")
            db.commit()
            db.close()
            os.replace(other, path)
        started = len(live.events("run_started"))
        deadline = time.monotonic() + 10
        while live.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        code, err = live.stop()
    assert code == 3, err
    why = "deleted" if how == "delete" else "replaced (another file put in its place)"
    assert f"{path} was {why} while in use; stopped" in err
    assert [e["error"] for e in live.events("store_lost")] == [f"{path} was {why} while in use"]
    assert len(live.events("run_started")) == started
