"""A pool process (`session_mode: pool`): a long-lived child of the fork server that runs
background sessions one after the other, for one account.

Each session is what it is in fork mode to its job: its own request, `ctx`, stdin from
/dev/null, no UI, stdout/stderr in its own output file, the account's environment plus
the entry's, what the job started ended before the result is written. What differs:
the process (and so module state, open files and signal handlers a job left) lives on
into the next session; the fork server replaces it after `max_runs_per_process`
sessions, after a session that left a thread running, after a failed account switch,
and when the job's code changed on disk.

The fork server opens each session's output and result files (as the runner's account:
this process may already be another) and passes them with the request over a Unix
socket. This process answers `("done", WAIT_STATUS, IMPORTED)` once the result is written
(IMPORTED: a job module it ran for the first time and the stamps of its package's files,
or None), and
`("ready", LAST)` once the result is on disk (LAST: it exits now rather than take
another session). Imports only what a session imports, and `socket`.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import socket
import sys

from jobrunner import session, ui
from jobrunner.session import frame, unframe

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a smaller process)

if TYPE_CHECKING:
    from typing import Any, NoReturn

Stamps = dict[str, tuple[int, int, int] | None]
IDLE_NAME = b"jobrunner-pool"  # the command name between sessions (see session.finishing)
_RECEIVE = 1 << 16


class _Account:
    """The environment and folder a session starts from, fixed by the first session (its
    account switch), restored before every later one."""

    def __init__(self) -> None:
        self.switched = False
        self.environ: dict[str, str] = {}
        self.cwd = "/"

    def enter(self, request: dict[str, Any], parent: int) -> None:
        if not self.switched:
            user = request.get("user")
            session.switch_user(user, request.get("keep", ()))
            if user:  # a credential change clears the death signal
                session.die_with_parent(parent)
            self.switched = True
            self.environ, self.cwd = dict(os.environ), os.getcwd()
        else:  # only what the session before changed (a whole reset sets every variable)
            environ = os.environ
            for name in [n for n in environ if n not in self.environ]:
                del environ[name]
            for name, value in self.environ.items():
                if environ.get(name) != value:
                    environ[name] = value
            os.chdir(self.cwd)
        os.environ.update(request.get("environment") or {})


def serve(sock: socket.socket, parent: int, known: dict[str, Stamps]) -> NoReturn:
    """The process's life: sessions until the fork server closes `sock` (or this process
    must go); `known`: the job modules it inherited, with their files' stamps."""
    session.prepare(parent)
    _name(IDLE_NAME)
    account = _Account()
    reported = set(known)
    data = b""
    while True:
        body, data, fds = _receive(sock, data)
        if body is None:
            os._exit(0)
        out_fd, result_fd = fds
        request = marshal.loads(body)
        result, fit = _session(request, out_fd, account, parent)
        code = 0 if result["ok"] and not result.get("no_activity") else 1
        os.write(result_fd, frame(marshal.dumps(result)))
        files = _first_imports(request["ref"], reported)
        last = not fit or _threads() > 1
        sent = _send(sock, ("done", code << 8, files))
        with contextlib.suppress(OSError):  # (/dev/null; a full disk: the status says it)
            os.fdatasync(result_fd)
        os.close(result_fd)
        _name(IDLE_NAME)
        if not sent or not _send(sock, ("ready", last)) or last:
            os._exit(code if not sent else 0)


def _session(
    request: dict[str, Any], out_fd: int, account: _Account, parent: int
) -> tuple[dict[str, Any], bool]:
    """One session in this process: its result, and whether the process may go on."""
    _streams(out_fd)
    try:
        account.enter(request, parent)
    except (OSError, ValueError) as exc:  # PermissionError is an OSError
        result, fit = session._failure(exc, str(exc)), False
    else:
        if request.get("background", True):
            ui.background()
        result, fit = session.execute(request), True
        session.mark_finishing()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # closed, or None
            fit = False
    session.end_descendants()
    return result, fit


def _streams(out_fd: int) -> None:
    """stdout and stderr (the descriptors and Python's objects) to this session's file."""
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__


def _first_imports(ref: str, reported: set[str]) -> tuple[str, Stamps] | None:
    """`ref`'s module and the stamps of the files of its top-level package, the first
    time a session of it ran here (the fork server watches them for changes)."""
    module = ref.partition(":")[0]
    if module in reported or module not in sys.modules:
        return None
    reported.add(module)
    top = module.split(".")[0]
    stamps: Stamps = {}
    for name, loaded in list(sys.modules.items()):
        path = getattr(loaded, "__file__", None)
        if path and (name == top or name.startswith(top + ".")):
            stamps[path] = stamp(path)
    return module, stamps


def stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _receive(sock: socket.socket, data: bytes) -> tuple[bytes | None, bytes, list[int]]:
    """The next request (None: end of file) with the two descriptors sent with it."""
    fds: list[int] = []
    while (body := unframe(data)[0]) is None:
        try:
            chunk, more, _, _ = socket.recv_fds(sock, _RECEIVE, 2)
        except OSError:
            return None, b"", fds
        if not chunk:
            return None, b"", fds
        data += chunk
        fds += more
    return body, unframe(data)[1], fds


def _send(sock: socket.socket, message: tuple[Any, ...]) -> bool:
    try:
        sock.sendall(frame(marshal.dumps(message)))
    except OSError:  # the fork server is gone, or started afresh without us
        return False
    return True


def _name(name: bytes) -> None:
    try:
        fd = os.open("/proc/self/comm", os.O_WRONLY)
    except OSError:  # pragma: no cover - not Linux
        return
    try:
        os.write(fd, name)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # pragma: no cover - not Linux
        return 1
