"""Where report documents are kept: one file per run, named after the entry, the run
(its log entry number) and the time it started, found again by the log entry number,
and pruned with the log entries.

The `Outputs` protocol is what the runner and the commands use; `FolderOutputs` keeps
the files in a folder: `state_dir/reports` beside the SQLite store, or the config's
`report_dir` (a folder every runner and reader of a shared store mounts). A store that
keeps documents itself (a table of a shared database) implements the same protocol.
Files are 0600 and the folder 0700, as everything in the state folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from jobrunner import config, model, statedir
from jobrunner.reports import DOCUMENTS

FOLDER = "reports"
STAMP = "%Y%m%dT%H%M%SZ"
PARTIAL = ".partial"  # a copy under way (into a folder on another file system)


@dataclass(frozen=True, kw_only=True, slots=True)
class Kept:
    """A run's document as kept."""

    entry_id: str
    log_no: int
    at: datetime
    format: str
    path: Path
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    def as_dict(self) -> dict[str, Any]:
        """As `log --json` and `show --json` give it (`report_output`)."""
        return {"file": self.name, "format": self.format, "bytes": self.size}


def file_name(entry_id: str, log_no: int, at: datetime, fmt: str) -> str:
    """`nightly-sales_4711_20261130T020000Z.xlsx`: the entry, the run, its start (UTC)."""
    return f"{entry_id}_{log_no}_{at.astimezone(UTC):{STAMP}}.{fmt}"


def parsed_name(name: str) -> tuple[str, int, datetime, str] | None:
    """(entry id, log entry number, time, format) of a `file_name`; None for another."""
    stem, _, fmt = name.rpartition(".")
    parts = stem.rsplit("_", 2)
    if fmt not in DOCUMENTS or len(parts) != 3 or not parts[1].isdigit() or not parts[0]:
        return None
    try:
        at = datetime.strptime(parts[2], STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return parts[0], int(parts[1]), at, fmt


class Outputs(Protocol):
    """The documents of report runs, by log entry number."""

    def keep(self, source: Path, log: model.LogEntry, fmt: str) -> Kept:
        """Take the document a session wrote at `source` as the one of `log`'s run
        (`source` is moved: a second call for the same run finds it kept already)."""
        ...

    def find(self, log_no: int) -> Kept | None:
        """The document of a log entry, or None."""
        ...

    def index(self) -> dict[int, Kept]:
        """Every document kept, by log entry number."""
        ...

    def prune(self, exists: Callable[[int], bool]) -> int:
        """Delete the documents whose log entry no longer `exists`; how many went."""
        ...


class FolderOutputs:
    def __init__(self, root: Path) -> None:
        self.root = root

    def keep(self, source: Path, log: model.LogEntry, fmt: str) -> Kept:
        target = self.root / file_name(log.entry_id, log.entry_no, log.start_at, fmt)
        if not source.exists() and target.exists():  # kept before a crash, or a redo
            return self._kept(target)
        statedir.make_dir(self.root)
        try:
            os.replace(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # report_dir is on another file system
                raise
            self._copy(source, target)
        os.chmod(target, statedir.FILE_MODE)  # private whatever wrote it
        _sync_folder(self.root)
        return self._kept(target)

    def _copy(self, source: Path, target: Path) -> None:
        partial = target.with_name(target.name + PARTIAL)
        fd = statedir.open_file(partial, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "wb") as out, source.open("rb") as data:
            shutil.copyfileobj(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
        source.unlink()

    def _kept(self, path: Path) -> Kept:
        found = parsed_name(path.name)
        assert found is not None
        entry_id, log_no, at, fmt = found
        size = path.stat().st_size
        return Kept(entry_id=entry_id, log_no=log_no, at=at, format=fmt, path=path, size=size)

    def find(self, log_no: int) -> Kept | None:
        return self.index().get(log_no)

    def index(self) -> dict[int, Kept]:
        found: dict[int, Kept] = {}
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return found
        for name in names:
            parsed = parsed_name(name)
            if parsed is None:
                continue
            with contextlib.suppress(FileNotFoundError):  # pruned meanwhile
                found[parsed[1]] = self._kept(self.root / name)
        return found

    def prune(self, exists: Callable[[int], bool]) -> int:
        gone = 0
        for log_no, kept in sorted(self.index().items()):
            if not exists(log_no):
                with contextlib.suppress(FileNotFoundError):
                    kept.path.unlink()
                    gone += 1
        return gone


def _sync_folder(folder: Path) -> None:
    """The rename on disk (the log entry that names the document is committed next)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def folder(cfg: config.Config) -> Path:
    """Where `cfg`'s documents are kept: its `report_dir`, else `state_dir/reports`."""
    return cfg.report_dir or cfg.state_dir / FOLDER


def of(cfg: config.Config) -> Outputs:
    """The documents of `cfg`'s store."""
    return FolderOutputs(folder(cfg))
