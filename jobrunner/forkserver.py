"""The fork server: a small single-threaded process that has imported only the session
code and forks one child per session, so a session starts in about a millisecond.

Protocol with the runner (its parent): JSON request lines on stdin; on stdout
`started SESSION_ID PID` after each fork and `exited PID WAITSTATUS` when a child ends.
It dies with the runner (parent-death signal) and its children die with it.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import sys

from jobrunner import session


def _child(request: dict[str, object], fds: tuple[int, ...]) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in fds:
        os.close(fd)
    os.setsid()
    session.run(dict(request, parent_pid=os.getppid()))


def _reap(out: int) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        os.write(out, f"exited {pid} {status}\n".encode())


def serve(parent: int) -> None:
    session.preload()
    session.die_with_parent(parent)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    pending = b""
    while True:
        for key, _ in selector.select():
            if key.fd == wake_r:
                os.read(wake_r, 4096)
                _reap(1)
                continue
            data = os.read(0, 1 << 16)
            if not data:
                return
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(request, (0, wake_r, wake_w, selector.fileno()))
                os.write(1, f"started {request['session_id']} {pid}\n".encode())
        _reap(1)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
