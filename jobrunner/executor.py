"""Starting sessions and noticing their start and end, in two modes:

* `fork` (default): a fork server forks each session from a small pre-imported parent;
* `spawn`: a child of the fork server executes a fresh interpreter (`python -I -S`,
  stdlib only before the job's own imports) for each session.

Either way `start()` does not wait: the runner gets a file descriptor to wait on (no
polling) and `collect()` returns what happened since, in order: `Started` (a session's
pid) and `Exited` (a pid's wait status). `outcome()` turns a session's result file,
output file and exit status into an Outcome; `read_result()` reads a result file left
by a session the runner did not see end (crash recovery).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from jobrunner import model, reports, retry, session
from jobrunner.session import frame

CLOSE_WAIT = 6.0  # seconds the fork server gets to end its sessions (see forkserver)
KILL_WAIT = 5.0  # seconds to see a killed session of the runner before go
FINISH_WAIT = 2.0  # seconds a session of the runner before may take to write its result


class SessionStartError(OSError):
    """A session could not be started (a retriable platform failure)."""


@dataclass(frozen=True, slots=True)
class Started:
    session_id: str
    pid: int


@dataclass(frozen=True, slots=True)
class Exited:
    pid: int
    status: int


Event = Started | Exited


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionRequest:
    """What a session is asked to run: the object's `ref` (or, with `refusal`, why it may
    not run: no session is asked for), what the job receives (`entry`, `parameter`,
    `attempt`, `error`), the account to become (`user`: None for the runner's own), the
    environment, where it writes its result and output, whether it runs in a pool, and
    (`report`: a report entry's run) the document it makes."""

    session_id: str
    ref: str = ""
    refusal: str = ""
    entry: dict[str, Any] = field(default_factory=dict)
    parameter: str = ""
    attempt: int = 1
    error: dict[str, Any] | None = None
    user: str | None = None
    keep: Sequence[str] = ()
    environment: dict[str, str] = field(default_factory=dict)
    result_path: str = ""
    output_path: str = ""
    report: reports.ReportRequest | None = None
    fence: int = 0
    """The version its entry (or task) was given by the run's start: a run started later
    of the same entry, by any runner, has a higher one (the job's idempotency key)."""
    pool: bool = False
    """Run in the account's session pool (session_mode pool) rather than a process of
    its own."""

    def wire(self) -> dict[str, Any]:
        """The request as the session reads it (marshalled to the fork server)."""
        return {
            "session_id": self.session_id,
            "fence": self.fence,
            "entry": self.entry,
            "parameter": self.parameter,
            "attempt": self.attempt,
            "error": self.error,
            "user": self.user,
            "keep": self.keep,
            "environment": self.environment,
            "result_path": self.result_path,
            "output_path": self.output_path,
            "ref": self.ref,
            "report": None if self.report is None else self.report.wire(),
        }


class Executor(Protocol):
    def start(self, request: SessionRequest) -> None:
        """Ask for a session for `request`; its pid comes as a `Started` event. Raises
        SessionStartError when it cannot be asked for."""
        ...

    def prepare(self, ref: str) -> None:
        """A session of `ref` is due soon: get ready for it (fork mode: import its module
        in the fork server now rather than in the session)."""
        ...

    def fds(self) -> list[int]:
        """File descriptors that become readable when a session may have started or ended."""
        ...

    def collect(self) -> list[Event]:
        """What happened since the last call, in order."""
        ...

    def alive(self) -> bool:
        """False when the executor itself died (its sessions died with it)."""
        ...

    def kill(self, pid: int, sig: signal.Signals) -> None:
        """Send `sig` to the process group of the session `pid` (gone: nothing)."""
        ...

    def identity(self, pid: int) -> int | None:
        """The start time of process `pid` (its identity with the pid), or None."""
        ...

    def end_leftover(self, pid: int, started: float | None) -> None:
        """End a session of the runner before that is still there, and see it go."""
        ...

    def close(self) -> None: ...


class ForkServerExecutor:
    def __init__(
        self,
        *,
        preload: bool = True,
        pool: int = 2,
        spawn: bool = False,
        max_runs: int = 0,
        pool_size: int = 0,
        prefork: bool = False,
    ) -> None:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobrunner.forkserver",
                str(os.getpid()),
                f"pool={pool}",
                f"spawn={int(spawn)}",
                f"preload={int(preload)}",
                *([f"max_runs={max_runs}"] if max_runs else []),
                *([f"pool_size={pool_size}"] if pool_size else []),
                *(["prefork=1"] if prefork else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
            start_new_session=True,  # the runner alone gets the terminal's Ctrl-C
        )
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._in, self._out = self._proc.stdin.fileno(), self._proc.stdout.fileno()
        os.set_blocking(self._out, False)
        self._buffer = b""
        self._alive = True
        self._pooled: set[str] = set()  # the pool sessions asked for, not ended yet
        self._pool_pids: dict[int, str] = {}  # pool process -> the session it runs

    def start(self, request: SessionRequest) -> None:
        if not self._alive:
            raise SessionStartError("The session could not start: the fork server is gone.")
        payload = marshal.dumps({**request.wire(), "parent_pid": self._proc.pid})
        message: tuple[Any, ...] = ("start", request.session_id, request.ref, payload)
        if request.pool:
            paths = request.output_path, request.result_path
            message = ("pool", request.session_id, request.ref, request.user or "", *paths, payload)
            self._pooled.add(request.session_id)
        try:
            self._send(message)
        except OSError as exc:
            raise SessionStartError(f"The session could not start: {exc}") from exc

    def prepare(self, ref: str) -> None:
        if self._alive:
            with contextlib.suppress(OSError):
                self._send(("preload", ref))

    def _send(self, message: tuple[Any, ...]) -> None:
        """One message to the fork server (see forkserver); an error means it is gone."""
        try:
            os.write(self._in, frame(marshal.dumps(message)))
        except OSError:
            self._alive = False
            raise

    def fds(self) -> list[int]:
        return [self._out] if self._alive else []

    def collect(self) -> list[Event]:
        events: list[Event] = []
        while self._alive:
            try:
                data = os.read(self._out, 1 << 16)
            except BlockingIOError:
                break
            if not data:
                self._alive = False
                break
            self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            kind, first, second = line.decode().split(" ")
            if kind == "exited":
                events.append(Exited(int(first), int(second)))
                self._pooled.discard(self._pool_pids.pop(int(first), ""))
            else:
                events.append(Started(first, int(second)))
                if first in self._pooled:
                    self._pool_pids[int(second)] = first
        return events

    def kill(self, pid: int, sig: signal.Signals) -> None:
        """Send `sig` to the process group of the session `pid`; a pool process only
        while it runs the session this executor last reported on it (the fork server
        checks: that session may have ended and the next begun meanwhile)."""
        session_id = self._pool_pids.get(pid)
        if session_id is None:
            kill_group(pid, sig)
            return
        try:
            self._send(("kill", pid, session_id, int(sig)))
        except OSError:  # the fork server is gone: so is its pool (death signal)
            kill_group(pid, sig)

    def alive(self) -> bool:
        return self._alive and self._proc.poll() is None

    def identity(self, pid: int) -> int | None:
        return process_start_ticks(pid)

    def end_leftover(self, pid: int, started: float | None) -> None:
        end_leftover(pid, started)

    def close(self) -> None:
        self._proc.terminate()  # it ends its sessions and what they left, then exits
        try:
            self._proc.wait(CLOSE_WAIT)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdin:
            self._proc.stdin.close()
        if self._proc.stdout:
            self._proc.stdout.close()


def make(
    mode: str,
    *,
    preload: bool = True,
    pool: int = 2,
    max_runs: int = 0,
    pool_size: int = 0,
    prefork: bool = False,
) -> Executor:
    """The executor of `mode`; a fork server keeps `pool` children forked ahead, and its
    session pools have up to `pool_size` processes per account, each running up to
    `max_runs` sessions (0: the defaults); with `prefork` the pool of the runner's own
    account is forked ahead too."""
    return ForkServerExecutor(
        preload=preload,
        pool=pool,
        spawn=mode == "spawn",
        max_runs=max_runs,
        pool_size=pool_size,
        prefork=prefork,
    )


def _stat(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        stat = os.read(fd, 4096)
    except OSError:  # it ended in between
        return None
    finally:
        os.close(fd)
    return stat.rsplit(b")", 1)[1].split()


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (its identity with the pid)."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def running(pid: int, started: float | None) -> bool:
    """Whether the process `pid` that started at `started` (ticks) is there, not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != b"Z" and int(fields[19]) == started


def kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def end_leftover(pid: int, started: float | None) -> None:
    """SIGKILL a session of the runner before that is still there (its pid and start
    time match) and see it go (within KILL_WAIT), so its result file is final; one
    whose job has returned first gets FINISH_WAIT to write its result and go."""
    finish_by = time.monotonic() + FINISH_WAIT
    while running(pid, started) and session.finishing(pid) and time.monotonic() < finish_by:
        time.sleep(0.005)
    deadline = time.monotonic() + KILL_WAIT
    while running(pid, started) and time.monotonic() < deadline:
        kill_group(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def read_output(path: Path, limit: int) -> str:
    """A session's captured stdout/stderr, cut to `limit` bytes (head and tail kept)."""
    try:
        size = path.stat().st_size
        if not size:  # (most jobs print nothing: no open for them)
            return ""
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


def read_result(path: Path) -> dict[str, Any] | None:
    """The result a session left in `path`, or None: none, or not whole (a session
    killed while writing it)."""
    try:
        data = session.read_result(path.read_bytes())
        result = marshal.loads(data) if data is not None else None
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return result if isinstance(result, dict) else None


def result_outcome(
    result: dict[str, Any], output: str, *, retriable: tuple[str, ...] = ()
) -> model.Outcome:
    """The Outcome a session's whole result file says."""
    items = bool(result.get("items"))
    if result.get("ok"):
        no_activity = bool(result.get("no_activity"))
        return model.Outcome(ok=True, no_activity=no_activity, output=output, items=items)
    names = tuple(result.get("exception", ()))
    message = result.get("message", "")
    return model.Outcome(
        ok=False,
        message=message,
        stack=result.get("stack", ""),
        exception=names,
        cause=model.Cause.EXCEPTION,
        output=output,
        retriable=retry.is_retriable(names, message, retriable),
        items=items,
    )


def outcome(
    result_path: Path,
    output: str,
    status: int,
    *,
    timed_out: str = "",
    retriable: tuple[str, ...] = (),
) -> model.Outcome:
    """How a session ended, from its result file and wait status."""
    if timed_out:
        return model.Outcome(ok=False, message=timed_out, cause=model.Cause.TIMEOUT, output=output)
    result = read_result(result_path)
    if result is not None:
        return result_outcome(result, output, retriable=retriable)
    if status == 0:  # the job ended the session itself (os._exit(0)): success
        return model.Outcome(ok=True, output=output)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return model.Outcome(
            ok=False,
            cause=model.Cause.SIGNAL,
            output=output,
            message=f"The session was ended by signal {name}.",
        )
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return model.Outcome(
        ok=False,
        cause=model.Cause.EXIT,
        output=output,
        message=f"The session exited with status {code} without a result.",
    )
