"""Waking a running runner from another process: a UNIX datagram socket in state_dir.

The runner binds it and waits on it with everything else; a CLI command that changed the
store sends one datagram. With no runner, nothing is listening and nothing happens: the
change simply waits in the store for the next start.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

FILE_NAME = "runner.sock"


def path(state_dir: Path) -> Path:
    """The socket's file in the state folder."""
    return state_dir / FILE_NAME


def bind(state_dir: Path) -> socket.socket:
    where = path(state_dir)
    with contextlib.suppress(FileNotFoundError):
        where.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    sock.bind(str(where))
    os.chmod(where, 0o660)
    sock.setblocking(False)
    return sock


def drain(sock: socket.socket) -> bool:
    """Read every datagram waiting; whether there was one (a command asked something)."""
    woken = False
    with contextlib.suppress(BlockingIOError):
        while sock.recv(64):
            woken = True
    return woken


def send(state_dir: Path) -> bool:
    """Wake the runner of `state_dir`; False when none is listening."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(b"wake", str(path(state_dir)))
        except OSError:
            return False
    return True
