"""Where report documents are kept: one file per run, named after the entry, the run
(its log entry number) and the time it started, found again by the log entry number,
and pruned with the log entries.

The `Outputs` protocol is what the runner and the commands use; `FolderOutputs` keeps
the files in a folder: `state_dir/reports` beside the SQLite store, or the config's
`report_dir`. `StoreOutputs` keeps them in a store that holds documents itself (a
`DocumentStore`: PostgreSQL, which several runners on several machines share), so
`jobrunner output` reads a document from any machine with the config; its folder only
holds the copies a runner makes to attach a document to an alert. Files are 0600 and
the folder 0700, as everything in the state folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from jobrunner import config, model, statedir
from jobrunner.reports import DOCUMENTS, ReportTooLarge

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
    path: Path | None  # None: kept in the store (`Outputs.read`, `Outputs.local`)
    size: int

    @property
    def name(self) -> str:
        return file_name(self.entry_id, self.log_no, self.at, self.format)

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

    def read(self, kept: Kept) -> bytes:
        """The document's bytes (OSError when it went meanwhile: pruned)."""
        ...

    def local(self, kept: Kept) -> Path:
        """A file on this machine with the document (an alert's attachment): the kept
        file, or a copy made for it (pruned with the log entry)."""
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
            import shutil  # (only where a document is copied)

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
            if not exists(log_no) and kept.path is not None:
                with contextlib.suppress(FileNotFoundError):
                    kept.path.unlink()
                    gone += 1
        return gone

    def read(self, kept: Kept) -> bytes:
        return self.local(kept).read_bytes()

    def local(self, kept: Kept) -> Path:
        return kept.path or self.root / kept.name


@runtime_checkable
class DocumentStore(Protocol):
    """A state store that keeps report documents itself (`store.pg_documents`); a
    document goes with its log entry."""

    def put_document(
        self, log_no: int, entry_id: str, at: datetime, fmt: str, content: bytes
    ) -> bool: ...

    def document_content(self, log_no: int) -> bytes | None: ...

    def documents(self, log_no: int | None = None) -> list[tuple[int, str, datetime, str, int]]: ...


class StoreOutputs:
    """Documents kept in a DocumentStore, at most `limit` bytes each; `copies`: the
    folder of the copies made for attachments."""

    def __init__(self, st: DocumentStore, copies: Path, limit: int) -> None:
        self.store, self.copies, self.limit = st, FolderOutputs(copies), limit

    def keep(self, source: Path, log: model.LogEntry, fmt: str) -> Kept:
        if not source.exists():  # kept before a crash, or a redo
            found = self.find(log.entry_no)
            if found is not None:
                return found
        content = source.read_bytes()
        if len(content) > self.limit:  # (the session enforces it; a store never takes more)
            raise OSError(str(ReportTooLarge(len(content), self.limit)))
        self.store.put_document(log.entry_no, log.entry_id, log.start_at, fmt, content)
        source.unlink()
        return Kept(
            entry_id=log.entry_id,
            log_no=log.entry_no,
            at=log.start_at.astimezone(UTC),
            format=fmt,
            path=None,
            size=len(content),
        )

    def find(self, log_no: int) -> Kept | None:
        found = [_stored(row) for row in self.store.documents(log_no)]
        return found[0] if found else None

    def index(self) -> dict[int, Kept]:
        return {row[0]: _stored(row) for row in self.store.documents()}

    def prune(self, exists: Callable[[int], bool]) -> int:
        # the store deletes a document with its log entry; only copies are left here
        return self.copies.prune(exists)

    def read(self, kept: Kept) -> bytes:
        content = self.store.document_content(kept.log_no)
        if content is None:
            raise FileNotFoundError(f"{kept.name} is no longer kept (pruned)")
        return content

    def local(self, kept: Kept) -> Path:
        target = self.copies.local(kept)
        if not target.exists():
            statedir.make_dir(self.copies.root)
            partial = target.with_name(target.name + PARTIAL)
            fd = statedir.open_file(partial, os.O_WRONLY | os.O_TRUNC)
            with os.fdopen(fd, "wb") as out:
                out.write(self.read(kept))
            os.replace(partial, target)
        return target


def _stored(row: tuple[int, str, datetime, str, int]) -> Kept:
    log_no, entry_id, at, fmt, size = row
    return Kept(entry_id=entry_id, log_no=log_no, at=at, format=fmt, path=None, size=size)


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


def of(cfg: config.Config, st: object = None) -> Outputs:
    """The documents of `cfg`'s store `st`: in the store when it keeps them (`store:
    postgresql://...`), else in `folder(cfg)`."""
    if isinstance(st, DocumentStore):
        return StoreOutputs(st, folder(cfg), cfg.report_output_limit)
    return FolderOutputs(folder(cfg))
