"""Starting sessions and noticing their end, in two modes:

* `fork` (default): a fork server forks each session from a small pre-imported parent;
* `spawn`: each session is a fresh interpreter (`python -m jobrunner.session`).

Either way the runner gets a file descriptor to wait on (no polling) and `collect()`
returns the sessions that ended. `outcome()` turns a session's result file, output file
and exit status into an Outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

from jobrunner import model, retry


class SessionStartError(OSError):
    """A session could not be started (a retriable platform failure)."""


class Executor(Protocol):
    def start(self, request: dict[str, Any]) -> int:
        """Start a session for `request`; its pid (also its process group)."""
        ...

    def fds(self) -> list[int]:
        """File descriptors that become readable when a session may have ended."""
        ...

    def collect(self) -> list[tuple[int, int]]:
        """(pid, wait status) of each session that ended since the last call."""
        ...

    def pending(self) -> bool:
        """Whether ended sessions are already buffered (so waiting on fds would hang)."""
        ...

    def alive(self) -> bool:
        """False when the executor itself died (its sessions died with it)."""
        ...

    def close(self) -> None: ...


class SpawnExecutor:
    def __init__(self) -> None:
        self._procs: dict[int, tuple[subprocess.Popen[bytes], int]] = {}

    def start(self, request: dict[str, Any]) -> int:
        path = Path(request["result_path"]).with_suffix(".request.json")
        path.write_text(json.dumps(dict(request, parent_pid=os.getpid())), encoding="utf-8")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jobrunner.session", str(path)],
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise SessionStartError(f"The session could not start: {exc}") from exc
        self._procs[proc.pid] = (proc, os.pidfd_open(proc.pid))
        return proc.pid

    def fds(self) -> list[int]:
        return [fd for _, fd in self._procs.values()]

    def pending(self) -> bool:
        return False

    def alive(self) -> bool:
        return True

    def collect(self) -> list[tuple[int, int]]:
        ended = []
        for pid, (proc, fd) in list(self._procs.items()):
            if proc.poll() is None:
                continue
            os.close(fd)
            del self._procs[pid]
            code = proc.returncode
            status = (-code) & 0x7F if code < 0 else (code & 0xFF) << 8
            ended.append((pid, status))
        return ended

    def close(self) -> None:
        for proc, fd in self._procs.values():
            proc.kill()
            proc.wait()
            os.close(fd)
        self._procs.clear()


class ForkServerExecutor:
    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "jobrunner.forkserver", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
        )
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._in, self._out = self._proc.stdin.fileno(), self._proc.stdout.fileno()
        self._buffer = b""
        self._exited: list[tuple[int, int]] = []
        self._started: dict[str, int] = {}
        self._alive = True

    def start(self, request: dict[str, Any]) -> int:
        if not self._alive:
            raise SessionStartError("The session could not start: the fork server is gone.")
        try:
            os.write(self._in, json.dumps(request).encode() + b"\n")
        except OSError as exc:
            self._alive = False
            raise SessionStartError(f"The session could not start: {exc}") from exc
        session_id = request["session_id"]
        while session_id not in self._started:
            # every line of a read counts: an exit may follow the start in one chunk
            for line in self._lines(block=True):
                self._take(line)
        return self._started.pop(session_id)

    def _take(self, line: str) -> None:
        kind, first, second = line.split(" ")
        if kind == "exited":
            self._exited.append((int(first), int(second)))
        else:
            self._started[first] = int(second)

    def _lines(self, *, block: bool) -> list[str]:
        os.set_blocking(self._out, block)
        try:
            data = os.read(self._out, 1 << 16)
        except BlockingIOError:
            return []
        if not data:
            self._alive = False
            if block:
                raise SessionStartError("The session could not start: the fork server is gone.")
            return []
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        return [line.decode() for line in lines]

    def fds(self) -> list[int]:
        return [self._out] if self._alive else []

    def collect(self) -> list[tuple[int, int]]:
        if self._alive:
            for line in self._lines(block=False):
                self._take(line)
        ended, self._exited = self._exited, []
        return ended

    def pending(self) -> bool:
        return bool(self._exited)

    def alive(self) -> bool:
        return self._alive and self._proc.poll() is None

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()
        if self._proc.stdin:
            self._proc.stdin.close()
        if self._proc.stdout:
            self._proc.stdout.close()


def make(mode: str) -> Executor:
    return ForkServerExecutor() if mode == "fork" else SpawnExecutor()


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (its identity with the pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def read_output(path: Path, limit: int) -> str:
    """A session's captured stdout/stderr, cut to `limit` bytes (head and tail kept)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            if size <= limit:
                data = f.read()
            else:
                head = f.read(limit // 2)
                f.seek(size - limit // 2)
                cut = size - 2 * (limit // 2)
                data = head + f"\n[... {cut} bytes cut ...]\n".encode() + f.read()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")


def outcome(
    result_path: Path,
    output: str,
    status: int,
    *,
    timed_out: str = "",
    retriable: tuple[str, ...] = (),
) -> model.Outcome:
    """How a session ended, from its result file and its wait status."""
    if timed_out:
        return model.Outcome(ok=False, message=timed_out, cause="timeout", output=output)
    try:
        result = json.loads(result_path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):  # a session killed while writing it
        result = None
    if result is not None:
        if result.get("ok"):
            return model.Outcome(
                ok=True, no_activity=bool(result.get("no_activity")), output=output
            )
        names = tuple(result.get("exception", ()))
        message = result.get("message", "")
        return model.Outcome(
            ok=False,
            message=message,
            stack=result.get("stack", ""),
            exception=names,
            cause="exception",
            output=output,
            retriable=retry.is_retriable(names, message, retriable),
        )
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return model.Outcome(
            ok=False,
            cause="signal",
            output=output,
            message=f"The session was ended by signal {name}.",
        )
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return model.Outcome(
        ok=False,
        cause="exit",
        output=output,
        message=f"The session exited with status {code} without a result.",
    )
