"""Task requests from accounts that may not open the store: a UNIX datagram socket in
state_dir (`tasks.sock`, open to every account) that the runner serves in its loop.

The kernel says who sent each datagram (SO_PASSCRED: SCM_CREDENTIALS, which only a
process with CAP_SETUID can set to another uid), so a task asked for this way runs as
its sender whatever the sender's environment says. The sender binds an abstract address
(autobind) for the answer, and believes an answer only from the state folder's owner.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobrunner import errors

FILE_NAME = "tasks.sock"
MAX_BYTES = 65536  # a request or an answer
PER_PASS = 64  # requests served per pass of the runner's loop
_UCRED = struct.Struct("3i")  # pid, uid, gid
TIMEOUT = 10.0  # seconds a request waits for its answer


class NoRunner(errors.JobRunnerError):
    """No runner answered a task request."""


def path(state_dir: Path) -> Path:
    """The socket's file in the state folder."""
    return state_dir / FILE_NAME


def bind(state_dir: Path) -> socket.socket:
    """The runner's end: bound, open to every account, non-blocking."""
    where = path(state_dir)
    with contextlib.suppress(FileNotFoundError):
        where.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind(str(where))
    os.chmod(where, 0o666)
    sock.setblocking(False)
    return sock


def serve(sock: socket.socket, handle: Callable[[int, dict[str, Any]], dict[str, Any]]) -> int:
    """Answer the requests waiting (at most PER_PASS): `handle(uid, request)` gives the
    answer to send back. How many were served."""
    served = 0
    while served < PER_PASS:
        try:
            data, ancillary, _, sender = sock.recvmsg(MAX_BYTES, socket.CMSG_SPACE(_UCRED.size))
        except (BlockingIOError, InterruptedError):
            break
        served += 1
        uid = _uid(ancillary)
        if uid is None or not sender:
            continue
        try:
            request = json.loads(data)
        except ValueError:
            request = None
        answer = handle(uid, request) if isinstance(request, dict) else {"error": "not a request"}
        with contextlib.suppress(OSError):  # the sender gave up
            sock.sendto(json.dumps(answer).encode(), sender)
    return served


def _uid(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, value in ancillary:
        if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS) and len(value) >= 12:
            return int(_UCRED.unpack_from(value)[1])
    return None


def request(state_dir: Path, payload: dict[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
    """Send `payload` to the runner of `state_dir` and return its answer; NoRunner when
    none answers."""
    owner = os.stat(state_dir).st_uid
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        sock.bind("")  # an abstract address of our own, for the answer
        sock.settimeout(timeout)
        try:
            sock.sendto(json.dumps(payload).encode(), str(path(state_dir)))
        except OSError:
            raise NoRunner(f"no runner is running on {state_dir}") from None
        while True:
            try:
                data, ancillary, _, _ = sock.recvmsg(MAX_BYTES, socket.CMSG_SPACE(_UCRED.size))
            except TimeoutError:
                raise NoRunner(f"the runner on {state_dir} did not answer") from None
            if _uid(ancillary) == owner:  # anyone may send to our address: not believed
                answer = json.loads(data)
                return answer if isinstance(answer, dict) else {"error": "not an answer"}
