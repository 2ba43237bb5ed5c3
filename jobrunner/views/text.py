"""The text the status commands print: aligned tables with times in the configured zone
(a status coloured only on a terminal), an entry in full, a reconcile plan, next run
times and the notes beside them. Pure: values in, text out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jobrunner import model, reconcile, revision, timetext, wallclock
from jobrunner.views import shapes, times

_COLOURS = {
    "error": "31",
    "ready": "32",
    "in_process": "36",
    "on_hold": "33",
    "waiting": "35",
    "success": "32",
    "on_hold_inactivity": "33",
}


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
            times.zoned(e.earliest_start, tz),
            times.relative(e.earliest_start, now),
            times.zoned(e.last_run_at, tz),
            times.relative(e.last_run_at, now),
            e.last_result or "-",
            f"{e.attempts}/{e.spec.max_retries}",
            e.spec.category or "-",
            e.spec.description or "-",
        )
        for e in entries
    ]
    return table(ENTRY_HEADERS, rows, colour=colour, status_column=2, fit=width)


def rejected_note(entries: Sequence[model.Entry]) -> str | None:
    """Below the entries table: how many keep their last good definition."""
    n = sum(1 for e in entries if e.rejected)
    if not n:
        return None
    return (
        f"\n! {n} entr{'y has' if n == 1 else 'ies have'} a "
        "rejected job file and keep their last good definition (jobrunner show ID)"
    )


LOG_HEADERS = ("NO", "ENTRY", "STATUS", "KIND", "START", "DURATION", "ATTEMPT", "ERROR")


Marks = Mapping[int, str]
"""A mark for the log entries (by number) whose run kept a report document: its format."""


def _log_cells(r: model.LogEntry, tz: ZoneInfo, marks: Marks) -> tuple[str, ...]:
    mark = f" ({marks[r.entry_no]})" if r.entry_no in marks else ""
    return (
        str(r.entry_no),
        r.entry_id,
        r.status.value,
        shapes.log_kind(r).replace("_", " ") + mark,
        times.local(r.start_at, tz),
        times.seconds(shapes.duration(r)),
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


def sessions_table(events: Sequence[model.SessionEvent], tz: ZoneInfo) -> str:
    return table(
        ["AT", "EVENT", "SESSION", "ENTRY", "USER", "CLIENT", "PID", "COMMENT"],
        [
            (
                times.local(e.at, tz),
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


def tasks_table(tasks: Sequence[model.Task], tz: ZoneInfo) -> str:
    return table(
        ["ID", "OBJECT", "PHASE", "READY", "NOT BEFORE", "ATTEMPTS", "RUNNING"],
        [
            (
                t.id,
                t.object,
                t.phase,
                str(t.ready),
                times.local(t.not_before, tz),
                str(t.attempts),
                str(t.session_id is not None),
            )
            for t in tasks
        ],
        colour=False,
    )


def paused_lines(
    paused: Sequence[model.Pause], category: str | None, *, everything: bool
) -> list[str]:
    """What is paused that concerns these entries: the runner, and `category` (or with
    `everything`, every category)."""
    lines = []
    for p in paused:
        if p.category is None or p.category == category or everything:
            what = "the runner" if p.category is None else f"category {p.category}"
            since = wallclock.iso(p.at)
            lines.append(f"paused: {what}, by {p.by} since {since} (jobrunner resume)")
    return lines


def show_notes(
    entry: model.Entry, paused: Sequence[model.Pause], waiting_for_revision: str | None = None
) -> list[str]:
    """Above `show`'s text: what is paused that holds the entry back, a run asked for, a
    due run that waits for a runner whose checkout holds its definition."""
    lines = paused_lines(paused, entry.spec.category, everything=False)
    if entry.trigger is not None:
        at = wallclock.iso(entry.trigger.at)
        lines.append(f"run asked for by {entry.trigger.by} at {at} (jobrunner trigger)")
    if waiting_for_revision is not None:
        lines.append(
            f"waiting for a runner that holds revision {revision.short(waiting_for_revision)}"
            " (no runner alive has this definition in its checkout of the job files)"
        )
    return lines


def show_text(
    entry: model.Entry,
    logs: Sequence[model.LogEntry],
    tz: ZoneInfo,
    colour: bool,
    marks: Marks | None = None,
) -> str:
    data = shapes.entry_json(entry)
    skip = {"definition", "error_call_stack"}
    width = max(len(k) for k in data)
    lines = [f"{k.ljust(width)}  {_plain(v, tz)}" for k, v in data.items() if k not in skip]
    lines += ["", "next runs:"]
    lines += [
        f"  {times.local(t, tz)}  ({wallclock.iso(t)})" for t in shapes.next_runs(entry, 3)
    ] or ["  -"]
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
        return f"{times.local(datetime.fromisoformat(value), tz)}  ({value})"
    return str(value)


def next_text(
    entry: model.JobSpec, runs: Sequence[datetime], tz: ZoneInfo, jitter: timedelta | None
) -> str:
    """`next`: each run time in the entry's zone and in UTC."""
    lines = [f"{entry.id} ({entry.timezone})"]
    if jitter:
        shown = timetext.format_duration(jitter)
        lines.append(f"  jitter: each run starts up to {shown} later than shown")
    if not runs:
        lines.append("  no further runs (expired)")
    for n, t in enumerate(runs, 1):
        at = t.astimezone(tz)
        lines.append(f"  {n:>2}  {at:%a %Y-%m-%d %H:%M:%S} {at.tzname():<6} {times.utc(t)}")
    return "\n".join(lines)


def kept_notes(entries: Sequence[model.Entry]) -> list[str]:
    """Below `validate`'s problems: the entry of each rejected file keeps running."""
    return [
        f"note: {e.spec.source} is rejected; entry {e.id!r} keeps its last good definition"
        for e in entries
    ]


_WHAT = {
    reconcile.ChangeKind.MOVE: "file moved",
    reconcile.ChangeKind.ACCEPT: "file accepted again",
}


def plan_text(plan: reconcile.Plan, guarded: revision.Guarded | None = None) -> str:
    """`plan`: a line a change (`+` add, `~` change, `-` remove, `!` rejected), the
    changes the revision rule keeps this checkout from making (`=`), then the counts."""
    lines: list[str] = []
    for c in plan.changes:
        lines += _change_lines(c)
    if guarded is not None and guarded.kept:
        newer = guarded.standing is revision.Standing.NEWER
        lines.append(
            f"= the store holds revision {revision.short(guarded.stored)}, "
            f"{'newer than' if newer else 'not comparable with'} this checkout's "
            f"{revision.short(guarded.own)}: it does not make these {len(guarded.kept)} "
            "changes (definition_newer_in_store)"
        )
        lines += [f"=   {c.kind.value} {c.entry_id}  ({c.path})" for c in guarded.kept]
    counts = {k: len(v) for k, v in shapes.plan_json(plan).items() if isinstance(v, list)}
    lines.append(
        f"Plan: {counts['add']} to add, {counts['change']} to change, {counts['remove']} to "
        f"remove, {counts['rejected']} rejected, {plan.unchanged} unchanged."
    )
    return "\n".join(lines)


def _change_lines(c: reconcile.Change) -> list[str]:
    kind = reconcile.ChangeKind
    if c.kind is kind.ADD and c.after is not None:
        status, at = c.after.status.value, times.utc(c.after.earliest_start)
        return [f"+ {c.entry_id}  ({c.path})  {status}, next run {at}"]
    if c.kind in shapes.CHANGED and c.after is not None:
        keys = [f"    {key}: {old!r} -> {new!r}" for key, (old, new) in c.keys.items()]
        return [f"~ {c.entry_id}  ({c.path})  {_WHAT.get(c.kind, 'changed')}", *keys]
    if c.kind is kind.REMOVE:
        return [
            f"- {c.entry_id}  ({c.path})" + ("  after its run in process" if c.deferred else "")
        ]
    if c.kind is kind.REJECT:
        keeps = f"; entry {c.entry_id!r} keeps its last good definition" if c.entry_id else ""
        return [f"! {c.path}  rejected{keeps}", *(f"    {p.format()}" for p in c.problems)]
    return []
