"""What wakes the runner's loop: a self-pipe (signals, file changes, the sync thread,
alerts), the wake socket (a command changed the store), the task socket (another
account asks for a task) and the executor's descriptors (a session started or ended).
`wait(timeout)` sleeps until one of them or the timeout, then says what came."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobrunner import taskgate, wake

TaskHandler = Callable[[int, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Woken:
    asked: bool  # a command woke the runner through the wake socket


class Wakeup:
    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        os.set_blocking(self._read, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._read, selectors.EVENT_READ)
        self._state_dir: Path | None = None
        self._wake_socket: socket.socket | None = None
        self._task_socket: socket.socket | None = None
        self._watched: set[int] = set()  # executor fds registered with the selector

    def bind(self, state_dir: Path) -> None:
        """Listen on the wake and task sockets of `state_dir`."""
        self._state_dir = state_dir
        self._wake_socket = wake.bind(state_dir)
        self._task_socket = taskgate.bind(state_dir)  # other accounts' tasks
        self._selector.register(self._wake_socket, selectors.EVENT_READ)
        self._selector.register(self._task_socket, selectors.EVENT_READ)

    def on_signals(self) -> None:
        """Signals wake the loop (their handlers only set flags)."""
        signal.set_wakeup_fd(self._write)

    def wake(self) -> None:
        """Wake the loop (from any thread)."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, b"!")

    def wait(self, timeout: float | None, fds: list[int], tasks: TaskHandler) -> Woken:
        """Sleep until something wakes the loop or `timeout` seconds; `fds` are the
        executor's; a task asked for meanwhile is answered by `tasks`."""
        watched = set(fds)
        for fd in self._watched - watched:
            self._selector.unregister(fd)
        for fd in watched - self._watched:
            self._selector.register(fd, selectors.EVENT_READ)
        self._watched = watched
        ready = {key.fd for key, _ in self._selector.select(timeout)}  # (only those are read)
        if self._read in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._read, 4096):
                    pass
        waker, gate = self._wake_socket, self._task_socket
        asked = waker is not None and waker.fileno() in ready and wake.drain(waker)
        if gate is not None and gate.fileno() in ready:
            taskgate.serve(gate, tasks)
        return Woken(asked=asked)

    def forget_fds(self) -> None:
        """The executor's descriptors closed with it."""
        for fd in self._watched:
            self._selector.unregister(fd)
        self._watched = set()

    def close(self) -> None:
        self._selector.close()
        for sock, path in (
            (self._wake_socket, wake.path),
            (self._task_socket, taskgate.path),
        ):
            if sock is not None and self._state_dir is not None:
                sock.close()
                with contextlib.suppress(OSError):
                    path(self._state_dir).unlink(missing_ok=True)
        os.close(self._read)
        os.close(self._write)
