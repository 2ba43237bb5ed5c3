"""Counts of the runner's events that leave no row in the store (`misfire`,
`retry_scheduled` of kind platform), read from its JSON-lines file
(state_dir/log/jobrunner.jsonl and its rotated copies), only what was added since the
last read. They survive a restart of the web process as long as the files keep them."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from jobrunner import telemetry

_WANTED = ('"event": "misfire"', '"event": "retry_scheduled"')


class RunnerLog:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "log" / telemetry.LOG_FILE
        self.misfires: Counter[str] = Counter()  # entry id -> occurrences skipped
        self.platform_retries: Counter[str] = Counter()
        self._inode: int | None = None
        self._offset = 0
        self._started = False

    def update(self) -> None:
        if not self._started:
            self._started = True
            for n in range(telemetry.BACKUPS, 0, -1):
                self._read(Path(f"{self.path}.{n}"), 0)
        try:
            inode = self.path.stat().st_ino
        except OSError:
            return
        if self._inode is not None and inode != self._inode:  # rotated: finish the old one
            rotated = Path(f"{self.path}.1")
            if _inode(rotated) == self._inode:
                self._read(rotated, self._offset)
            self._offset = 0
        self._inode = inode
        self._offset = self._read(self.path, self._offset)

    def _read(self, path: Path, offset: int) -> int:
        """Count the whole lines after `offset`; where the last whole line ends."""
        try:
            with path.open("rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return offset
        end = data.rfind(b"\n") + 1
        for line in data[:end].decode(errors="replace").splitlines():
            if any(w in line for w in _WANTED):
                self._count(line)
        return offset + end

    def _count(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return
        entry = str(event.get("entry_id", ""))
        if event.get("event") == "misfire":
            self.misfires[entry] += int(event.get("skipped") or 1)
        elif event.get("kind") == "platform":
            self.platform_retries[entry] += 1


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None
