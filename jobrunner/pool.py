"""The session pools of the fork server (`session_mode: pool`): one pool of long-lived
processes (see poolsession) per account, each running sessions one after the other.

`Pools` keeps the fork server's books on them: which are idle, which session each runs,
how many it ran, which job code each imported and whether that code changed on disk
since (then every process that imported it goes before the next session of it), and the
sessions waiting for a process. `Serving` is the fork server's part: it forks the
processes and hands them sessions from its loop.

A process is handed a session with its output and result files opened here (see
poolsession). It is idle again once that session's result is on disk; meanwhile its
end is already reported, like a session's exit (`exited PID WAIT_STATUS`), and the
next session goes to another process, or a new one while the account's pool has fewer
than `pool_size`, or waits for the first that is idle again. The runner's own account's
pool can be kept full ahead of its sessions (`prefork`, in session_mode pool): forked
while the fork server has nothing else to do.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import select
import socket

from jobrunner import poolsession
from jobrunner.session import frame, unframe

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a smaller process)

if TYPE_CHECKING:
    from typing import Any

MAX_RUNS = 1000  # default sessions per pool process (`max_runs_per_process`)
SIZE = 4  # default processes per account's pool
_OUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_RESULT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC

# session id, request, output + result fds, the message that asked for it
_Session = tuple[str, bytes, tuple[int, int], bytes]


class Process:
    """A pool process as the fork server knows it."""

    def __init__(self, pid: int, sock: socket.socket, user: str) -> None:
        self.pid, self.sock, self.user = pid, sock, user
        self.session_id = ""  # the session it runs ("": none)
        self.runs = 0
        self.ready = True  # idle, its last result on disk
        self.retiring = False  # goes once its session is over
        self.buffer = b""


class Pools:
    def __init__(self, max_runs: int = MAX_RUNS, size: int = SIZE) -> None:
        self.max_runs, self.size = max(1, max_runs), max(1, size)
        self.by_fd: dict[int, Process] = {}
        self.by_pid: dict[int, Process] = {}
        self.queued: dict[str, list[_Session]] = {}  # account -> sessions waiting
        self.known: dict[str, poolsession.Stamps] = {}  # job module -> its files' stamps
        self.holders: dict[str, set[int]] = {}  # job module -> pids that imported it

    def add(self, process: Process) -> None:
        self.by_fd[process.sock.fileno()] = process
        self.by_pid[process.pid] = process

    def idle(self, user: str) -> Process | None:
        """An idle process of `user`'s pool (the oldest: its caches are the warmest), or
        None."""
        for process in self.by_pid.values():
            if process.user == user and process.ready and not process.retiring:
                return process
        return None

    def room(self, user: str) -> bool:
        """Whether `user`'s pool may have one process more."""
        return sum(1 for p in self.by_pid.values() if p.user == user) < self.size

    def fds(self) -> list[int]:
        return list(self.by_fd)

    def pids(self) -> set[int]:
        return set(self.by_pid)

    def drop_stale(self, ref: str) -> list[int]:
        """Retire every process that imported `ref`'s module when a file of its package
        changed since; the fds closed now (idle processes) for the loop to forget."""
        module = ref.partition(":")[0]
        stamps = self.known.get(module)
        if stamps is None or all(poolsession.stamp(p) == s for p, s in stamps.items()):
            return []
        del self.known[module]
        closed = []
        for pid in self.holders.pop(module, set()):
            process = self.by_pid.get(pid)
            if process is not None:
                process.retiring = True
                if process.ready:
                    closed.append(self._close(process))
        return closed

    def hand(self, process: Process, queued: _Session) -> bool:
        """Give `process` the session; False when the process is gone."""
        session_id, request, files, _ = queued
        data = frame(request)
        try:
            sent = socket.send_fds(process.sock, [data], list(files))
            if sent < len(data):  # (a large request goes in parts)
                process.sock.sendall(data[sent:])
        except OSError:
            return False
        process.session_id, process.ready = session_id, False
        process.runs += 1
        return True

    def readable(self, fd: int) -> tuple[list[tuple[int, int]], bool]:
        """What the process on `fd` said: the sessions it ended (pid, wait status), and
        whether it is gone from the books (end of file: its exit is reaped)."""
        process = self.by_fd[fd]
        try:
            data = process.sock.recv(1 << 16, socket.MSG_DONTWAIT)
        except BlockingIOError:  # (a number polled for a socket closed since, and reused)
            return [], False
        except OSError:
            data = b""
        if not data:
            self._close(process)
            return [], True
        process.buffer += data
        ended = []
        while (body := unframe(process.buffer)[0]) is not None:
            process.buffer = unframe(process.buffer)[1]
            message = marshal.loads(body)
            if message[0] == "done":
                ended.append((process.pid, self._done(process, message[1], message[2])))
            elif self._ready(process, message[1]):
                return ended, True
        return ended, False

    def _done(self, process: Process, status: int, imported: Any) -> int:
        process.session_id = ""
        if imported:
            module, stamps = imported
            self.known.setdefault(module, dict(stamps))
            self.holders.setdefault(module, set()).add(process.pid)
        return int(status)

    def _ready(self, process: Process, last: bool) -> bool:
        """The process's last result is on disk; True when it goes (closed here)."""
        process.ready = True
        if last or process.retiring or process.runs >= self.max_runs:
            self._close(process)
            return True
        return False

    def reaped(self, pid: int) -> int | None:
        """A pool process ended (the fork server reaped it): forget it; its fd, when it
        was still on the books."""
        process = self.by_pid.get(pid)
        return self._close(process) if process is not None else None

    def kill(self, pid: int, session_id: str, sig: int) -> None:
        """Signal the process group of `pid` if it still runs `session_id` (its session
        may have ended and the next one begun before the runner knew)."""
        process = self.by_pid.get(pid)
        if process is not None and process.session_id == session_id:
            with contextlib.suppress(OSError):
                os.killpg(pid, sig)

    def _close(self, process: Process) -> int:
        fd = process.sock.fileno()
        self.by_fd.pop(fd, None)
        self.by_pid.pop(process.pid, None)
        for holders in self.holders.values():
            holders.discard(process.pid)
        process.sock.close()  # a process waiting for a session sees the end and exits
        return fd


def open_files(output: str, result: str) -> tuple[int, int]:
    """A session's output and result files, opened as this process's account (a pool
    process may be another): /dev/null for one that cannot be opened (the session's
    exit status still tells its end)."""
    return _open(output, _OUT_FLAGS), _open(result, _RESULT_FLAGS)


def _open(path: str, flags: int) -> int:
    try:
        return os.open(path or os.devnull, flags, 0o600)
    except OSError:
        return os.open(os.devnull, os.O_WRONLY)


class Serving:
    """The fork server's part in the pools (mixed into forkserver.Server, whose loop
    calls `_serve_pooled` for the pool's messages, `_pooled_said` when a pool process's
    socket is readable and `_prefork` when it has nothing else to do)."""

    pools: Pools
    poll: select.poll
    sessions: set[int]
    preloader: Any
    me: int
    prefork: bool  # keep the runner's own account's pool full ahead of its sessions
    tell: Any  # forkserver.Tell: the lines for the runner

    def _restart(self, rest: bytes) -> None: ...
    def _preload(self, ref: str, rest: bytes) -> None: ...
    def _leave_server(self, *, fresh: bool) -> None: ...

    def _serve_pooled(self, kind: str, args: list[Any], body: bytes, rest: bytes) -> None:
        """`("pool", SESSION_ID, REF, USER, OUTPUT, RESULT, REQUEST)`: a session for
        USER's pool, after the processes holding stale code of REF went; `("kill", PID,
        SESSION_ID, SIGNAL)`: signal that process's group if it still runs that
        session."""
        if kind == "kill":
            self.pools.kill(*args)
            return
        session_id, ref, user, output, result, request = args
        if self.preloader is not None and self.preloader.stale(ref):
            self._restart(frame(body) + rest)
        for fd in self.pools.drop_stale(ref):
            self._forget(fd)
        queued = (session_id, request, open_files(output, result), body)
        self.pools.queued.setdefault(user, []).append(queued)
        self._hand_queued(user)
        self._preload(ref, rest)  # for the processes forked from now on

    def _hand_queued(self, user: str) -> None:
        """Hand `user`'s waiting sessions to idle processes (or new ones, room given)."""
        queue = self.pools.queued.get(user, [])
        while queue:
            process = self.pools.idle(user)
            if process is None:
                if not self.pools.room(user):
                    return
                process = self._fork_pooled(user)
            if not self.pools.hand(process, queue[0]):
                self._forget(self.pools.reaped(process.pid))  # gone (killed from outside)
                continue
            session_id, _, files, _ = queue.pop(0)
            for fd in files:
                os.close(fd)
            self.sessions.add(process.pid)
            self.tell.started(session_id, process.pid)

    def _prefork(self) -> None:
        """Fork the processes of the runner's own account's pool ahead (as many as the
        pool holds), yielding to incoming requests: the first sessions of a burst wait
        for no fork, nor does the next one after a process retired. A fork that fails
        ends this until the next start (the sessions fork their processes then)."""
        while self.prefork and self.pools.room("") and not self.poll.poll(0):
            gc.freeze()  # (as the fork server does before its waiting children)
            try:
                self._fork_pooled("")
            except OSError:
                self.prefork = False

    def _fork_pooled(self, user: str) -> Process:
        self.tell.flush()  # (a fork takes a while)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            ours.close()
            self._leave_server(fresh=False)
            known = self.preloader.files if self.preloader is not None else {}
            poolsession.serve(theirs, self.me, known)
        theirs.close()
        process = Process(pid, ours, user)
        self.pools.add(process)
        self.poll.register(ours.fileno(), select.POLLIN)
        return process

    def _pooled_said(self, fd: int) -> None:
        """A pool process ended a session (reported as its exit), is idle again (its
        account's next waiting session goes to it) or is gone."""
        user = self.pools.by_fd[fd].user
        ended, gone = self.pools.readable(fd)
        for pid, status in ended:
            self.sessions.discard(pid)
            self.tell.exited(pid, status)
        if gone:
            self._forget(fd)
        self._hand_queued(user)

    def _pool_reaped(self, pid: int) -> None:
        """A pool process was reaped: off the books; its account's waiting sessions may
        now get a new one."""
        process = self.pools.by_pid.get(pid)
        if process is not None:
            self._forget(self.pools.reaped(pid))
            self._hand_queued(process.user)

    def _unqueue(self) -> bytes:
        """The messages of the sessions still waiting for a process, framed, their files
        closed (the fork server starting afresh reads them again)."""
        messages = b""
        for queue in self.pools.queued.values():
            for _, _, files, body in queue:
                for fd in files:
                    os.close(fd)
                messages += frame(body)
        self.pools.queued.clear()
        return messages

    def _forget(self, fd: int | None) -> None:
        """Stop polling a pool process's closed socket (its number may come again)."""
        if fd is not None:
            with contextlib.suppress(KeyError):
                self.poll.unregister(fd)
