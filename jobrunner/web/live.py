"""Live updates without polling anyone: inotify (watchdog) on the state folder sees each
commit (SQLite appends to its -wal file), and every open page hears of it as a
server-sent event, at most one per quarter second. The runner does nothing for it.

A store in a database server would feed the same `Changes.bump` from its own channel
(PostgreSQL: a LISTEN on a channel the store NOTIFYs in each commit)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

KEEPALIVE_S = 15.0
COALESCE_S = 0.25
_CHANGES = frozenset({"modified", "created", "deleted", "moved", "closed"})  # not reads


class Changes:
    """A counter of changes in the state folder, bumped from the watcher's thread, and
    the waiters in the server's event loop."""

    def __init__(self, state_dir: Path, on_change: Callable[[], None]) -> None:
        self.state_dir = state_dir
        self.on_change = on_change  # called first, from the watcher's thread
        self.generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Event] = set()
        self._observer = Observer()
        self._watching = False
        self._guard = threading.Lock()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        handler = _Handler(self)
        if self.state_dir.is_dir():
            self._watch()
        elif self.state_dir.parent.is_dir():  # no runner yet: wait for its folder
            self._observer.schedule(handler, str(self.state_dir.parent), recursive=False)
        self._observer.start()
        if not self._watching and self.state_dir.is_dir():  # made meanwhile
            self._watch()

    def _watch(self) -> None:
        with self._guard:
            if not self._watching:
                self._observer.schedule(_Handler(self), str(self.state_dir), recursive=False)
                self._watching = True

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=2)

    def seen(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGES:
            return
        if Path(str(event.src_path)) == self.state_dir and not self._watching:
            self._watch()
        elif Path(str(event.src_path)).parent != self.state_dir:
            return
        self.bump()

    def bump(self) -> None:
        """One change (from any thread)."""
        self.on_change()
        self.generation += 1
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    async def wait(self, timeout: float) -> None:
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)

    async def stream(self) -> AsyncIterator[str]:
        """The text/event-stream of one page: `change` events, comments to keep proxies
        from closing a quiet connection."""
        yield f"retry: 2000\nevent: hello\ndata: {self.generation}\n\n"
        seen = self.generation
        while True:
            await self.wait(KEEPALIVE_S)
            if self.generation == seen:
                yield ": keepalive\n\n"
                continue
            await asyncio.sleep(COALESCE_S)  # a burst of commits is one update
            seen = self.generation
            yield f"event: change\ndata: {seen}\n\n"


class _Handler(FileSystemEventHandler):
    def __init__(self, changes: Changes) -> None:
        self.changes = changes

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.changes.seen(event)
