"""The fork server: a small single-threaded process that has imported only the session
code (and, once used, each job's own module) and forks one child per session.

Each session is a fresh child process, used once. To take the cost of a fork off the
path from "due" to the job's first instruction, the fork server keeps a few children
forked ahead ("waiting children"): each has already detached, armed its death signal,
pointed stdin at /dev/null and left UI mode, and blocks reading its own pipe. A request
goes to a waiting child, which starts the job at once; a fresh one is forked after.

In spawn mode each waiting child executes a fresh `python -I -S` at once (no site, the
fork server's import path given explicitly), which imports the session code and waits
for its request: every session still gets an interpreter of its own, started ahead of
time. Its death signal and process group survive the exec.

Protocol with the runner (its parent): on stdin, messages framed as their length in
decimal, a newline and the message marshalled (the runner and this process run the same
interpreter): `("start", SESSION_ID, REF, REQUEST)`, where REQUEST is the session's
request already marshalled, handed to its child as it is (framed the same way), and
`("preload", REF)`. On stdout `started SESSION_ID PID` when a child takes a request and
`exited PID WAITSTATUS` when it ends (a `started` line waits up to HOLD for its session's
`exited`, so that a short session's two lines wake the runner once). Neither this
process nor a session imports json.

Nothing a job starts outlives its session. A session is the subreaper of its job's
processes and ends them before it exits; this process is the subreaper of the sessions,
so what a session that was killed (a timeout, a stop) left behind becomes its child:
after a session ends other than through its own end, it ends every child it did not
fork. It runs in a session of its own
(no SIGINT from the runner's terminal) and gets SIGTERM when the runner dies
(parent-death signal): then it SIGKILLs its sessions and everything below them, reaps
them all, and exits; a session gets SIGKILL when this process goes.

Job modules are imported here when the runner says a session of theirs is due soon
(`preload`), or else after their first session, so sessions inherit them.
Before each session the files of the job's own top-level package are checked: when one
changed, the fork server replaces itself (exec: same pid, so its
sessions stay its children) with a fresh one, so a session never runs stale job code.
A module that starts threads when imported is never preloaded (forking a threaded
process is unsafe): the fork server replaces itself without it.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import math
import os
import select
import signal
import sys
import time

from jobrunner import pool, session
from jobrunner.session import frame, unframe

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a smaller process)

if TYPE_CHECKING:
    from typing import Any

_Stamp = tuple[int, int, int]


class Preloader:
    """Job modules imported in the fork server, with the stamps of their package's files."""

    def __init__(self, skip: set[str]) -> None:
        self.skip = skip
        self.files: dict[str, dict[str, _Stamp | None]] = {}

    def stale(self, ref: str) -> bool:
        """Whether a file of the preloaded package of `ref` changed since its import."""
        for path, stamp in self.files.get(_module(ref), {}).items():
            if _stamp(path) != stamp:
                return True
        return False

    def wanted(self, ref: str) -> bool:
        module = _module(ref)
        return bool(module) and module not in self.skip and module not in sys.modules

    def load(self, ref: str) -> bool:
        """Import the module of `ref` here. False when that left this process unfit to
        fork sessions from: it started threads, opened files or sockets (every session
        would share them), or took longer than PRELOAD_TIMEOUT; the fork server then
        starts afresh without it and its sessions import it themselves."""
        module = _module(ref)
        before, fds = set(sys.modules), _fds()
        previous = signal.signal(signal.SIGALRM, _too_slow)
        signal.setitimer(signal.ITIMER_REAL, PRELOAD_TIMEOUT)
        try:
            __import__(module)
        except _TooSlow:
            self.skip.add(module)
            return False
        except BaseException:  # its sessions import it themselves and report the error
            self.skip.add(module)
            return True
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        if _threads() > 1 or _fds() - fds:
            self.skip.add(module)
            return False
        top = module.split(".")[0]
        self.files[module] = {
            path: _stamp(path)
            for name in set(sys.modules) - before | {module}
            if name == top or name.startswith(top + ".")
            for path in [getattr(sys.modules.get(name), "__file__", None)]
            if path
        }
        return True


PRELOAD_TIMEOUT = 2.0  # seconds a job module's import may take in the fork server
# A waiting child rehearses (see session.rehearsal) only when its request has not come
# within this many seconds: under load requests come sooner, and a rehearsal would cost
# more than it saves.
REHEARSE_AFTER = 0.02
END_WITHIN = 5.0  # seconds this process spends ending its sessions when the runner dies
FINISH_WITHIN = 2.0  # of which a session writing its result may take this many
# and a session still in its job this many to return first (a job that has done its last
# instruction is not killed between it and its result: that run is finished, not lost)
RETURN_WITHIN = 0.05


class _TooSlow(BaseException):
    pass


def _too_slow(*_: object) -> None:
    raise _TooSlow


def _fds() -> set[str]:
    try:
        return set(os.listdir("/proc/self/fd"))
    except OSError:  # pragma: no cover - not Linux
        return set()


def _module(ref: str) -> str:
    return ref.partition(":")[0]


def _stamp(path: str) -> _Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _kill(pid: int, *, group: bool = False) -> bool:
    """SIGKILL `pid` (or its process group); False when there was nothing to kill."""
    try:
        (os.killpg if group else os.kill)(pid, signal.SIGKILL)
    except OSError:
        return False
    return True


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # pragma: no cover - not Linux
        return 1


# A session's `started` line is held this long (seconds) for its `exited` line to go with
# it: a short session's start and end then reach the runner in one write, which wakes it
# for one pass rather than two. Any other line, and anything the fork server does that
# takes time (a fork, a restart, a look for strays), sends what is held at once.
HOLD = 0.002


class Tell:
    """The lines for the runner (on `fd`: stdout), in order; a `started` line may wait
    HOLD."""

    def __init__(self, fd: int = 1) -> None:
        self.fd = fd
        self.held: list[bytes] = []
        self.since = 0.0
        self.ending = False  # an `exited` line is held

    def started(self, session_id: str, pid: int) -> None:
        if not self.held:
            self.since = time.monotonic()
        self.held.append(b"started %s %d\n" % (session_id.encode(), pid))

    def exited(self, pid: int, status: int) -> None:
        """Held to the end of the loop's round (`ended_round`): the ends that one poll
        found reach the runner in one write, which wakes it once."""
        self.held.append(b"exited %d %d\n" % (pid, status))
        self.ending = True

    def ended_round(self) -> None:
        if self.ending:
            self.flush()
        else:
            self.due()

    def wait_ms(self) -> int:
        """How long the fork server may wait for something to do (-1: no limit)."""
        if not self.held:
            return -1
        return max(0, math.ceil((self.since + HOLD - time.monotonic()) * 1000))

    def due(self) -> None:
        if self.held and time.monotonic() >= self.since + HOLD:
            self.flush()

    def flush(self) -> None:
        if self.held:
            os.write(self.fd, b"".join(self.held))  # (a pipe: short, so written whole)
            self.held.clear()
        self.ending = False


_BOOT = (
    "import sys; sys.path[:0] = sys.argv[2].split(':'); "
    "from jobrunner.session import wait_for_request; wait_for_request(int(sys.argv[1]))"
)


class Server(pool.Serving):
    def __init__(self, parent: int, state: dict[str, Any]) -> None:
        self.parent = parent
        self.pool = max(1, int(state.get("pool", 2)))
        self.spawn = bool(state.get("spawn", False))
        self.preloader = (
            Preloader(set(state.get("skip", ())))
            if state.get("preload", True) and not self.spawn
            else None
        )
        self.sessions: set[int] = set(state.get("sessions", ()))  # pids given a request
        self.waiting: list[tuple[int, int]] = []  # (pid, write end of its request pipe)
        self.pending: bytes = state.get("pending", b"")
        self.pools = pool.Pools(
            int(state.get("max_runs", pool.MAX_RUNS)), int(state.get("pool_size", pool.SIZE))
        )
        self.prefork = bool(state.get("prefork", False))
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.poll = select.poll()
        self.me = os.getpid()
        self.strays = True  # a session ended: look for what it left behind
        self.ending = False
        self.tell = Tell()

    # --- waiting children ---------------------------------------------------------------

    def _fork(self) -> tuple[int, int]:
        self.tell.flush()  # (a fork takes a while)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(w)
            self._become_session(r)
        os.close(r)
        return pid, w

    def _become_session(self, r: int) -> None:
        """In the child: get ready, wait for the request, run it; never returns."""
        self._leave_server(fresh=self.spawn)
        session.prepare(self.me)
        if self.spawn:
            os.set_inheritable(r, True)
            path = ":".join(p for p in sys.path if p)
            try:
                os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", _BOOT, str(r), path])
            except OSError:
                os._exit(127)
        if not select.select([r], [], [], REHEARSE_AFTER)[0]:
            session.rehearsal()  # time to spare: not when its request comes at once
        session.wait_for_request(r)  # end of file: retired unused (or the fork server is gone)

    def _leave_server(self, *, fresh: bool) -> None:
        """In a child forked to run sessions (`fresh`: it executes a new interpreter):
        none of this process's signal handling, pipes or standard output; a session
        (process group) of its own."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # a job gets Python's usual SIGINT (KeyboardInterrupt); a fresh interpreter sets
        # that up itself unless it starts with SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL if fresh else signal.default_int_handler)
        for fd in (self.wake_r, self.wake_w):
            os.close(fd)
        null = os.open(os.devnull, os.O_WRONLY)  # not the runner's pipe; the session
        os.dup2(null, 1)  # points it at its output file
        os.close(null)
        for _, w in self.waiting:
            os.close(w)
        for fd in self.pools.fds():
            os.close(fd)
        os.setsid()

    def _fill(self) -> None:
        """Fork waiting children up to the pool size, yielding to incoming requests."""
        if len(self.waiting) < self.pool:
            # what exists now lives as long as this process: keep the collector off it, so
            # neither this process nor its children write to those shared pages for it
            gc.freeze()
        while len(self.waiting) < self.pool and not self.poll.poll(0):
            self.waiting.append(self._fork())

    def _retire(self) -> None:
        """Let the waiting children go (they exit on end of file, unreported)."""
        for _, w in self.waiting:
            os.close(w)
        self.waiting.clear()

    # --- serving ---------------------------------------------------------------------------

    def _reap(self) -> None:
        """Reap the children that ended and report the sessions among them. One that did
        not end through the session's own end (see session.mark_finishing: it had ended
        what its job started) may have left processes behind: look for them."""
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None:
                return
            pid = info.si_pid
            if not session.finishing(pid):  # (a zombie keeps its name until reaped)
                self.strays = True
            _, status = os.waitpid(pid, 0)
            if pid in self.sessions:
                self.sessions.discard(pid)
                self.tell.exited(pid, status)
            self._pool_reaped(pid)

    def _end_strays(self) -> None:
        """SIGKILL what sessions left behind: every child this process did not fork (an
        orphan it adopted as subreaper) and what is below it. Their ends wake the loop,
        which looks again, until none is left."""
        self.strays = False
        self.tell.flush()
        forked = frozenset(self.sessions) | {pid for pid, _ in self.waiting} | self.pools.pids()
        for pid in session.descendants(self.me, spare=forked):
            _kill(pid)

    def _let_return(self) -> None:
        """Give the sessions still in their job RETURN_WITHIN seconds to return (or end),
        reaping those that end."""
        start = time.monotonic()
        while time.monotonic() - start < RETURN_WITHIN:
            with contextlib.suppress(ChildProcessError):
                while (pid := os.waitpid(-1, os.WNOHANG)[0]) != 0:
                    self.sessions.discard(pid)
            if all(session.finishing(pid) for pid in self.sessions):
                return
            time.sleep(0.002)

    def _on_term(self, *_: object) -> None:
        """The runner died (or this process was told to stop): SIGKILL every session and
        everything below them, reap them all (within END_WITHIN seconds), exit. A
        session whose job has returned (see session.mark_finishing) gets FINISH_WITHIN
        seconds to write its result and end on its own."""
        if os.getpid() != self.me:  # a child between its fork and its own handlers
            os._exit(0)
        with contextlib.suppress(OSError):  # (the runner may be gone)
            self.tell.flush()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self.ending:  # (the runner's death can send it twice)
            return
        self.ending = True
        self._retire()
        self._let_return()
        spared = frozenset(pid for pid in self.sessions if session.finishing(pid))
        for pid in self.sessions - spared:
            _kill(pid, group=True)
        start = time.monotonic()
        while time.monotonic() - start < END_WITHIN:
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                break
            if time.monotonic() - start > FINISH_WITHIN:
                spared = frozenset()
            for pid in session.descendants(self.me, spare=spared):
                _kill(pid)
            time.sleep(0.002)
        os._exit(0)

    def _restart(self, rest: bytes) -> None:
        """Become a fresh fork server: same pid, so the sessions (and their ends) stay ours."""
        self.tell.flush()
        self._retire()
        rest = self._unqueue() + rest  # (they came first)
        assert self.preloader is not None
        state = {
            "pool": self.pool,
            "spawn": self.spawn,
            "skip": sorted(self.preloader.skip),
            "sessions": sorted(self.sessions),
            "pending": rest,
            "max_runs": self.pools.max_runs,
            "pool_size": self.pools.size,
            "prefork": self.prefork,
        }
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # kept over the exec until serve()
        # the state goes in an inherited memory file: argv has a size limit
        fd = os.memfd_create("jobrunner-forkserver", 0)
        os.write(fd, marshal.dumps(state))
        os.lseek(fd, 0, os.SEEK_SET)
        os.set_inheritable(fd, True)
        os.execv(
            sys.executable,
            [sys.executable, "-m", "jobrunner.forkserver", str(self.parent), f"@{fd}"],
        )

    def _serve_message(self, body: bytes, rest: bytes) -> None:
        """One message from the runner; `rest` is what follows it (kept over a restart)."""
        kind, *args = marshal.loads(body)
        if kind == "preload":  # a session of it is due soon
            self._preload(args[0], rest)
            return
        if kind in ("pool", "kill"):
            self._serve_pooled(kind, args, body, rest)
            return
        session_id, ref, request = args
        if self.preloader is not None and self.preloader.stale(ref):
            self._restart(frame(body) + rest)
        message = frame(request)
        while True:
            pid, w = self.waiting.pop(0) if self.waiting else self._fork()
            try:
                os.write(w, message)
            except BrokenPipeError:  # that child is gone (killed from outside): next one
                continue
            finally:
                os.close(w)
            break
        self.sessions.add(pid)
        self.tell.started(session_id, pid)
        self._preload(ref, rest)  # after its first session, for the next ones

    def _preload(self, ref: str, rest: bytes) -> None:
        """Import the module of `ref` here (once), so the sessions forked from now on
        inherit it; the waiting children forked before do not have it and go."""
        if self.preloader is None or not self.preloader.wanted(ref):
            return
        self.tell.flush()  # (an import may take a while)
        self._retire()
        if not self.preloader.load(ref):
            self._restart(rest)

    def serve(self) -> None:
        session.preload()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner handles Ctrl-C
        signal.signal(signal.SIGTERM, self._on_term)
        session.become_subreaper()
        session.set_death_signal(signal.SIGTERM)
        if os.getppid() != self.parent:  # the runner is already gone
            self._on_term()
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.poll.register(0, select.POLLIN)
        self.poll.register(self.wake_r, select.POLLIN)
        self._reap()  # sessions that ended while this process was starting afresh
        self.tell.flush()
        while True:
            body, rest = unframe(self.pending)
            if body is None:
                if self.strays:
                    self._end_strays()
                self._fill()
                self._prefork()
                for fd, _ in self.poll.poll(self.tell.wait_ms()):
                    if fd == self.wake_r:
                        os.read(self.wake_r, 4096)
                    elif fd in self.pools.by_fd:
                        self._pooled_said(fd)
                    else:
                        data = os.read(0, 1 << 16)
                        if not data:  # the runner closed us, or died: its death
                            self._on_term()  # signal may come after this, or not at all
                            return
                        self.pending += data
                self._reap()
                self.tell.ended_round()
                continue
            self.pending = rest
            self._serve_message(body, rest)


def _state(args: list[str]) -> dict[str, Any]:
    """The start state: `key=number` settings, or `@FD` for a memory file holding it
    marshalled (a restart)."""
    if args and args[0].startswith("@"):
        with os.fdopen(int(args[0][1:]), "rb") as f:
            return dict(marshal.load(f))
    return {key: int(value) for key, _, value in (arg.partition("=") for arg in args)}


if __name__ == "__main__":
    Server(int(sys.argv[1]), _state(sys.argv[2:])).serve()
