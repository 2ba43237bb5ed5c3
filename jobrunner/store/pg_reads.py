"""The PostgreSQL store's reads and its housekeeping deletes (the Store verbs that are
one query each), over the row mapping the SQLite file uses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from jobrunner import model
from jobrunner.store import sqlite as rows

_LOG_COLUMNS = rows._LOG_COLUMNS.replace("user,", '"user",')
_TASK_SELECT = ", ".join(
    f"tasks.{c.strip()}" for c in rows._TASK_COLUMNS.replace(" user,", ' "user",').split(",")
)
_EVENT_SELECT = (
    'SELECT seq, session_id, event, at, "user", runner_id, client_type, entry_id, pid, '
    "comment FROM session_events"
)
_FAR_PAST = -(2**62)


class Reads:
    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _transaction(
        self, durable: bool = True
    ) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError

    def _entries(self, where: str, params: Iterable[Any] = ()) -> list[model.Entry]:
        found = self._read(f"SELECT {rows._ENTRY_COLUMNS} FROM entries {where}", params)
        return [rows._entry(r) for r in found]

    def get_entry(self, entry_id: str) -> model.Entry | None:
        found = self._entries("WHERE id = %s", (entry_id,))
        return found[0] if found else None

    def list_entries(
        self, *, status: model.EntryStatus | None = None, category: str | None = None
    ) -> list[model.Entry]:
        return self._entries(
            "WHERE (%s::text IS NULL OR status = %s) AND (%s::text IS NULL OR category = %s) "
            'ORDER BY id COLLATE "C"',
            (*[status and status.value] * 2, *[category] * 2),
        )

    def entries_by_source(self, sources: Iterable[str]) -> list[model.Entry]:
        wanted = sorted(set(sources))
        if not wanted:
            return []
        return self._entries('WHERE source = ANY(%s) ORDER BY id COLLATE "C"', (wanted,))

    def source_stamps(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self._read("SELECT source, stamp FROM entries")}

    def waiting_entries(self, category: str) -> list[model.Entry]:
        return self._entries(
            "WHERE status = 'waiting' AND category = %s ORDER BY priority, entry_no", (category,)
        )

    def get_log(self, entry_no: int) -> model.LogEntry | None:
        found = self._read(
            f"SELECT entry_no, {_LOG_COLUMNS} FROM log_entries WHERE entry_no = %s", (entry_no,)
        )
        return rows._log(found[0]) if found else None

    def list_log(
        self,
        *,
        entry_id: str | None = None,
        status: model.LogStatus | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[model.LogEntry]:
        found = self._read(
            f"SELECT entry_no, {_LOG_COLUMNS} FROM log_entries "
            "WHERE (%s::text IS NULL OR entry_id = %s) AND (%s::text IS NULL OR status = %s) "
            "AND start_at >= %s ORDER BY entry_no DESC LIMIT %s",
            (
                *[entry_id] * 2,
                *[status and status.value] * 2,
                _us(since),
                limit,
            ),
        )
        return [rows._log(r) for r in found]

    def list_sessions(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> list[model.SessionEvent]:
        found = self._read(
            f"{_EVENT_SELECT} WHERE at >= %s ORDER BY seq DESC LIMIT %s", (_us(since), limit)
        )
        return [_event(r) for r in found]

    def get_task(self, task_id: str) -> model.Task | None:
        found = self._tasks("WHERE id = %s", (task_id,))
        return found[0] if found else None

    def list_tasks(self) -> list[model.Task]:
        return self._tasks('ORDER BY created_at NULLS FIRST, id COLLATE "C"', ())

    def due_tasks(self, now: datetime, limit: int) -> list[model.Task]:
        return self._tasks(
            "WHERE ready = 1 AND session_id IS NULL AND not_before <= %s "
            'ORDER BY not_before, rank, seq, created_at NULLS FIRST, id COLLATE "C" LIMIT %s',
            (rows._us(now), limit),
        )

    def next_task_due(self) -> datetime | None:
        found = self._read(
            "SELECT MIN(not_before) FROM tasks WHERE ready = 1 AND session_id IS NULL"
        )
        return rows._dt(found[0][0])

    def _tasks(self, where: str, params: Iterable[Any]) -> list[model.Task]:
        found = self._read(f"SELECT {_TASK_SELECT}, tasks.version FROM tasks {where}", params)
        return [_task(r) for r in found]

    def pauses(self) -> list[model.Pause]:
        found = self._read('SELECT scope, by_user, at FROM pauses ORDER BY scope COLLATE "C"')
        return [
            model.Pause(category=scope or None, by=by, at=rows._dt(at) or rows._EPOCH)
            for scope, by, at in found
        ]

    def running_categories(self) -> dict[str, str]:
        found = self._read(
            "SELECT category, id FROM entries WHERE status = 'in_process' AND category IS NOT NULL"
        )
        return {r[0]: r[1] for r in found}

    # --- housekeeping ----------------------------------------------------------------------

    def prune(self, before: datetime, *, failed_before: datetime | None = None) -> int:
        failed = before if failed_before is None else failed_before
        with self._transaction() as db:
            logs = db.execute(
                "DELETE FROM log_entries WHERE status != 'in_process' AND end_at IS NOT NULL "
                "AND end_at < (CASE status WHEN 'error' THEN %s ELSE %s END)",
                (rows._us(failed), rows._us(before)),
            ).rowcount
            events = db.execute(
                "DELETE FROM session_events WHERE at < %s", (rows._us(before),)
            ).rowcount
        return int(logs + events)

    def trim_log(
        self,
        entry_id: str,
        status: model.LogStatus,
        *,
        keep: int | None = None,
        before: datetime | None = None,
    ) -> int:
        if status is model.LogStatus.IN_PROCESS or (keep is None and before is None):
            return 0
        mine = "entry_id = %s AND status = %s AND end_at IS NOT NULL"
        clauses: list[str] = []
        params: list[Any] = []
        if before is not None:
            clauses.append("end_at < %s")
            params.append(rows._us(before))
        if keep is not None:
            clauses.append(
                f"entry_no NOT IN (SELECT entry_no FROM log_entries WHERE {mine} "
                "ORDER BY entry_no DESC LIMIT %s)"
            )
            params += [entry_id, status.value, keep]
        with self._transaction() as db:
            gone = db.execute(
                f"DELETE FROM log_entries WHERE {mine} AND ({' OR '.join(clauses)})",
                (entry_id, status.value, *params),
            ).rowcount
        return int(gone)

    def log_ends(self) -> dict[tuple[str, model.LogStatus], datetime]:
        found = self._read(
            "SELECT entry_id, status, MIN(end_at) FROM log_entries "
            "WHERE status != 'in_process' AND end_at IS NOT NULL GROUP BY entry_id, status"
        )
        ends: dict[tuple[str, model.LogStatus], datetime] = {}
        for entry_id, status, end in found:
            at = rows._dt(end)
            if at is not None:
                ends[(entry_id, model.LogStatus(status))] = at
        return ends


def _us(value: datetime | None) -> int:
    found = rows._us(value)
    return _FAR_PAST if found is None else found


def _event(r: tuple[Any, ...]) -> model.SessionEvent:
    return model.SessionEvent(
        seq=r[0],
        session_id=r[1],
        event=r[2],
        at=rows._dt(r[3]) or rows._EPOCH,
        user=r[4],
        runner_id=r[5],
        client_type=model.ClientType(r[6]),
        entry_id=r[7],
        pid=r[8],
        comment=r[9],
    )


def _task(r: tuple[Any, ...]) -> model.Task:
    return model.Task(
        id=r[0],
        object=r[1],
        failure_object=r[2],
        ready=bool(r[3]),
        not_before=rows._dt(r[4]),
        entry_id=r[5],
        timeout=None if r[6] is None else timedelta(milliseconds=r[6]),
        parameter=r[7],
        user=r[8],
        attempts=r[9],
        created_at=rows._dt(r[10]),
        phase=r[11],
        session_id=r[12],
        version=r[13],
    )
