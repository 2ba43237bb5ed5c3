"""Report documents in the PostgreSQL store (the report_documents table): the bytes of a
report run's document beside its log entry, for `reports.outputs.StoreOutputs`. A row
goes with its log entry (a foreign key, ON DELETE CASCADE), in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobrunner.store.sql import rows

_META = "SELECT log_no, entry_id, at, format, size FROM report_documents"
INSERT = (
    "INSERT INTO report_documents (log_no, entry_id, at, format, size, content) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
"""One document's row (its values: `row`)."""


def row(log_no: int, entry_id: str, at: datetime, fmt: str, content: bytes) -> tuple[Any, ...]:
    return (log_no, entry_id, rows.us(at), fmt, len(content), content)


class Documents:
    """The PostgreSQL store's verbs of report documents (reports.outputs.DocumentStore)."""

    def _transaction(self, *, durable: bool | None = None) -> Any:
        raise NotImplementedError

    def _reading(self) -> Any:
        raise NotImplementedError

    def put_document(
        self, log_no: int, entry_id: str, at: datetime, fmt: str, content: bytes
    ) -> bool:
        """Keep a run's document (False: its log entry has one already, left as it is)."""
        with self._transaction() as db:
            cur = db.execute(
                f"{INSERT} ON CONFLICT (log_no) DO NOTHING",
                row(log_no, entry_id, at, fmt, content),
            )
            return bool(cur.rowcount)

    def document_content(self, log_no: int) -> bytes | None:
        """A log entry's document, or None."""
        with self._reading() as db:
            row = db.execute(
                "SELECT content FROM report_documents WHERE log_no = %s", (log_no,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def documents(self, log_no: int | None = None) -> list[tuple[int, str, datetime, str, int]]:
        """(log entry number, entry id, run start, format, bytes) of every document kept
        (of one log entry's)."""
        with self._reading() as db:
            if log_no is None:
                found = db.execute(_META).fetchall()
            else:
                found = db.execute(f"{_META} WHERE log_no = %s", (log_no,)).fetchall()
        return [(int(r[0]), r[1], _at(r[2]), r[3], int(r[4])) for r in found]


def _at(value: int) -> datetime:
    at = rows.dt(value)
    assert at is not None
    return at
