"""How the status commands show things: stable JSON shapes (public API) and aligned
tables with times in the configured zone, coloured only on a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jobrunner import model, recurrence, wallclock

_COLOURS = {
    "error": "31",
    "ready": "32",
    "in_process": "36",
    "on_hold": "33",
    "waiting": "35",
    "success": "32",
    "on_hold_inactivity": "33",
}


def local(value: datetime | None, tz: ZoneInfo) -> str:
    return "-" if value is None else f"{value.astimezone(tz):%Y-%m-%d %H:%M:%S}"


def zoned(value: datetime | None, tz: ZoneInfo) -> str:
    """As systemctl list-timers shows a time: `Tue 2026-12-01 12:00:00 CET`."""
    if value is None:
        return "-"
    at = value.astimezone(tz)
    return f"{at:%a %Y-%m-%d %H:%M:%S} {at.tzname()}"


_US = 1_000_000
_MINUTE, _HOUR, _DAY = 60 * _US, 3600 * _US, 86400 * _US
_WEEK, _MONTH, _YEAR = 7 * _DAY, 2_629_800 * _US, 31_557_600 * _US


# systemd's format_timestamp_relative(): two units at most, coarser as it grows
_SPANS: tuple[tuple[int, Callable[[int], str]], ...] = (
    (_YEAR, lambda us: f"{_plural(us // _YEAR, 'year')} {_plural(us % _YEAR // _MONTH, 'month')}"),
    (_MONTH, lambda us: f"{_plural(us // _MONTH, 'month')} {_plural(us % _MONTH // _DAY, 'day')}"),
    (_WEEK, lambda us: f"{_plural(us // _WEEK, 'week')} {_plural(us % _WEEK // _DAY, 'day')}"),
    (2 * _DAY, lambda us: f"{us // _DAY} days"),
    (25 * _HOUR, lambda us: f"1 day {(us - _DAY) // _HOUR}h"),
    (6 * _HOUR, lambda us: f"{us // _HOUR}h"),
    (_HOUR, lambda us: f"{us // _HOUR}h {us % _HOUR // _MINUTE}min"),
    (5 * _MINUTE, lambda us: f"{us // _MINUTE}min"),
    (_MINUTE, lambda us: f"{us // _MINUTE}min {us % _MINUTE // _US}s"),
    (_US, lambda us: f"{us // _US}s"),
    (1000, lambda us: f"{us // 1000}ms"),
    (0, lambda us: f"{us}us"),
)


def _span(us: int) -> str:
    return next(form(us) for least, form in _SPANS if us >= least)


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def relative(value: datetime | None, now: datetime) -> str:
    """`4min 10s left`, `2h ago`, `now`, as systemctl list-timers shows LEFT and PASSED."""
    if value is None:
        return "-"
    us = (value - now) // timedelta(microseconds=1)
    if us == 0:
        return "now"
    return f"{_span(abs(us))} {'left' if us > 0 else 'ago'}"


def duration(log: model.LogEntry) -> timedelta | None:
    """BC's Duration(): end - start rounded to the nearest 100 ms (50 ms -> 100)."""
    if log.end_at is None:
        return None
    ms = (log.end_at - log.start_at) / timedelta(milliseconds=1)
    return timedelta(milliseconds=int((ms + 50) // 100) * 100)


def log_kind(log: model.LogEntry) -> str:
    """`job` (a run of the entry's own object), `failure_handler` (a run of its failure
    handler, or of a task's failure object) or `task` (a task recorded on the entry): the
    runner describes a task's run as `task OBJECT (PHASE)`."""
    if log.description == f"task {log.object_id} (failure)":
        return "failure_handler"
    if log.description == f"task {log.object_id} (main)":
        return "task"
    return "job"


def entry_json(entry: model.Entry) -> dict[str, Any]:
    spec = entry.spec
    return {
        "id": entry.id,
        "status": entry.status.value,
        "next_run": wallclock.iso(entry.earliest_start),
        "last_run": wallclock.iso(entry.last_run_at),
        "last_result": entry.last_result,
        "attempts": entry.attempts,
        "max_retries": spec.max_retries,
        "category": spec.category,
        "priority": spec.priority.value,
        "recurring": spec.recurring,
        "file": spec.source,
        "rejected": entry.rejected or None,
        "description": spec.description,
        "object_type": spec.object_type,
        "object_id": str(spec.object_id),
        "parameter_string": spec.parameter_string,
        "user": spec.user,
        "timezone": spec.timezone,
        "error_message": entry.error_message or None,
        "error_call_stack": entry.error_call_stack or None,
        "session_id": entry.session_id,
        "session_pid": entry.session_pid,
        "platform_retries": entry.session_retries,
        "system_task_id": entry.system_task_id,
        "entry_no": entry.entry_no,
        "created_at": wallclock.iso(entry.created_at),
        "updated_at": wallclock.iso(entry.updated_at),
        "definition": spec.raw,
    }


def log_json(log: model.LogEntry, output: dict[str, Any] | None = None) -> dict[str, Any]:
    """`output`: the run's report document (`file`, `format`, `bytes`), if it has one."""
    took = duration(log)
    return {
        "entry_no": log.entry_no,
        "entry_id": log.entry_id,
        "status": log.status.value,
        "kind": log_kind(log),
        "start": wallclock.iso(log.start_at),
        "end": wallclock.iso(log.end_at),
        "duration_ms": None if took is None else int(took / timedelta(milliseconds=1)),
        "user": log.user,
        "object_type": log.object_type,
        "object_id": log.object_id,
        "parameter_string": log.parameter_string,
        "description": log.description,
        "category": log.category,
        "attempt": log.attempt,
        "session_id": log.session_id,
        "client_type": log.client_type.value,
        "error_message": log.error_message or None,
        "error_call_stack": log.error_call_stack or None,
        "output": log.output,
        "report_output": output,
    }


def session_json(event: model.SessionEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "session_id": event.session_id,
        "event": event.event,
        "at": wallclock.iso(event.at),
        "user": event.user,
        "runner_id": event.runner_id,
        "client_type": event.client_type.value,
        "entry_id": event.entry_id,
        "pid": event.pid,
        "comment": event.comment,
    }


def next_runs(entry: model.Entry, count: int) -> list[datetime]:
    """The entry's next runs as the runner will compute them from its earliest start."""
    at = entry.earliest_start
    if at is None:
        return []
    out = [at]
    while entry.spec.recurring and len(out) < count:
        at = recurrence.enqueue_time(recurrence.next_run(entry.spec, at, at), at)
        out.append(at)
    return out


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    colour: bool,
    status_column: int | None = None,
    widths: Sequence[int] | None = None,
    fit: int | None = None,
) -> str:
    """`widths`: the least width of each column (a table printed in parts keeps one
    alignment). `fit`: the width to fit in, by cutting the last column's cells (with
    `…`) and dropping it when even its header does not fit."""
    body = [list(map(str, row)) for row in rows]
    least = widths or [0] * len(headers)
    widths = [max(len(h), least[i], *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    if fit is not None and body and sum(widths) + 2 * (len(widths) - 1) > fit:
        room = fit - sum(widths[:-1]) - 2 * (len(widths) - 1)
        if room < len(headers[-1]):
            return table(
                headers[:-1],
                [r[:-1] for r in body],
                colour=colour,
                status_column=status_column,
                widths=widths[:-1],
            )
        body = [[*r[:-1], r[-1] if len(r[-1]) <= room else r[-1][: room - 1] + "…"] for r in body]
        widths[-1] = room
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in body:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=True)]
        if colour and status_column is not None:
            code = _COLOURS.get(row[status_column].strip())
            if code:
                cells[status_column] = f"\033[{code}m{cells[status_column]}\033[0m"
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


ENTRY_HEADERS = (
    "",
    "ID",
    "STATUS",
    "NEXT",
    "LEFT",
    "LAST",
    "PASSED",
    "RESULT",
    "ATTEMPTS",
    "CATEGORY",
    "DESCRIPTION",
)


def entries_table(
    entries: Sequence[model.Entry],
    tz: ZoneInfo,
    colour: bool,
    *,
    now: datetime,
    width: int | None = None,
) -> str:
    """As systemctl list-timers: the next and last run with their zone, how long until
    the one and since the other; fitted to `width` by cutting the description."""
    rows = [
        (
            "!" if e.rejected else "",
            e.id,
            e.status.value,
            zoned(e.earliest_start, tz),
            relative(e.earliest_start, now),
            zoned(e.last_run_at, tz),
            relative(e.last_run_at, now),
            e.last_result or "-",
            f"{e.attempts}/{e.spec.max_retries}",
            e.spec.category or "-",
            e.spec.description or "-",
        )
        for e in entries
    ]
    return table(ENTRY_HEADERS, rows, colour=colour, status_column=2, fit=width)


LOG_HEADERS = ("NO", "ENTRY", "STATUS", "KIND", "START", "DURATION", "ATTEMPT", "ERROR")


Marks = Mapping[int, str]
"""A mark for the log entries (by number) whose run kept a report document: its format."""


def _log_cells(r: model.LogEntry, tz: ZoneInfo, marks: Marks) -> tuple[str, ...]:
    mark = f" ({marks[r.entry_no]})" if r.entry_no in marks else ""
    return (
        str(r.entry_no),
        r.entry_id,
        r.status.value,
        log_kind(r).replace("_", " ") + mark,
        local(r.start_at, tz),
        _seconds(duration(r)),
        str(r.attempt),
        r.error_message[:80],
    )


def log_table(
    rows: Sequence[model.LogEntry],
    tz: ZoneInfo,
    colour: bool,
    *,
    widths: Sequence[int] | None = None,
    marks: Marks | None = None,
) -> str:
    """`marks`: the runs with a report document, marked in the KIND column."""
    return table(
        LOG_HEADERS,
        [_log_cells(r, tz, marks or {}) for r in rows],
        colour=colour,
        status_column=2,
        widths=widths,
    )


def log_widths(
    rows: Sequence[model.LogEntry], tz: ZoneInfo, marks: Marks | None = None
) -> list[int]:
    """The width each column of `log_table` needs for `rows` (the last, the error, 0)."""
    cells = [_log_cells(r, tz, marks or {}) for r in rows]
    found = [max((len(c[i]) for c in cells), default=0) for i in range(len(LOG_HEADERS))]
    return [*found[:-1], 0]


def follow_widths(history: Sequence[model.LogEntry], entry_ids: Iterable[str]) -> list[int]:
    """Column widths for `log --follow` that the rows still to come most likely fit: room
    for entry numbers ten times higher, every entry id, every status and kind, 12 h
    durations."""
    top = max((r.entry_no for r in history), default=0)
    ids = [*entry_ids, *(r.entry_id for r in history)]
    least = [
        len(str(top * 10 + 10)),
        max(map(len, ids), default=0),
        max(len(s.value) for s in model.LogStatus),
        len("failure handler"),
        len("2026-01-01 00:00:00"),
        len("43200.0s"),
        0,
        0,
    ]
    return [max(len(h), w) for h, w in zip(LOG_HEADERS, least, strict=True)]


def _seconds(value: timedelta | None) -> str:
    return "-" if value is None else f"{value.total_seconds():.1f}s"


def sessions_table(events: Sequence[model.SessionEvent], tz: ZoneInfo) -> str:
    return table(
        ["AT", "EVENT", "SESSION", "ENTRY", "USER", "CLIENT", "PID", "COMMENT"],
        [
            (
                local(e.at, tz),
                e.event,
                e.session_id[:12],
                e.entry_id,
                e.user,
                e.client_type.value,
                str(e.pid or "-"),
                e.comment[:60],
            )
            for e in events
        ],
        colour=False,
    )


def show_text(
    entry: model.Entry,
    logs: Sequence[model.LogEntry],
    tz: ZoneInfo,
    colour: bool,
    marks: Marks | None = None,
) -> str:
    data = entry_json(entry)
    skip = {"definition", "error_call_stack"}
    width = max(len(k) for k in data)
    lines = [f"{k.ljust(width)}  {_plain(v, tz)}" for k, v in data.items() if k not in skip]
    lines += ["", "next runs:"]
    lines += [f"  {local(t, tz)}  ({wallclock.iso(t)})" for t in next_runs(entry, 3)] or ["  -"]
    if entry.error_call_stack:
        lines += [
            "",
            "last error call stack:",
            *("  " + x for x in entry.error_call_stack.splitlines()),
        ]
    lines += ["", "last log entries:", log_table(logs, tz, colour, marks=marks)]
    kept = [r.entry_no for r in logs if r.entry_no in (marks or {})]
    if kept:  # a report's runs
        lines += ["", f"report output of log entry {kept[0]}: jobrunner output {kept[0]}"]
    if logs:
        last = logs[0]
        lines += ["", f"last run's output (log entry {last.entry_no}):"]
        lines += [f"  {x}" for x in last.output.rstrip().splitlines()] or ["  (none)"]
    return "\n".join(lines)


def _plain(value: Any, tz: ZoneInfo) -> str:
    if value is None:
        return "-"
    if isinstance(value, str) and len(value) > 19 and value[10:11] == "T" and value[-1] == "Z":
        return f"{local(datetime.fromisoformat(value), tz)}  ({value})"
    return str(value)
