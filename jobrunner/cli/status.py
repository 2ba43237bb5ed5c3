"""The commands that show the state: list, show, log (and log --follow), sessions; list,
show and log say what the entries' work items hold and what each run's chunk did."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from jobrunner import config, model, store
from jobrunner.cli import common
from jobrunner.reports import reading as report_reading
from jobrunner.views import items, queries, shapes, text

_SINCE = "a time, or how long ago: -1h, 2d"


def configure_list_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("list", help="the entries, their status and next run")
    p.add_argument("--status", choices=[s.value for s in model.EntryStatus])
    p.add_argument("--category")
    common.add_json(p)
    p.set_defaults(func=list_command)


def list_command(args: argparse.Namespace) -> int:
    cfg = common.load_config(args)
    status = model.EntryStatus(args.status) if args.status else None
    with common.reading(cfg) as db:
        found = queries.listing(db, status=status, category=args.category)
    if args.json:
        common.print_json(
            [items.with_counts(shapes.entry_json(e), found.items) for e in found.entries]
        )
        return 0
    for line in text.paused_lines(found.paused, args.category, everything=args.category is None):
        print(line)
    if not found.entries:
        print("no entries", file=sys.stderr)
        return 0
    now = datetime.now(UTC)
    tz, colour, width = common.tz(cfg), common.colour(), common.width()
    print(text.entries_table(found.entries, tz, colour, now=now, width=width))
    note = text.rejected_note(found.entries)
    if note:
        print(note)
    _print_lines(items.counts_lines([e.id for e in found.entries], found.items))
    return 0


def _print_lines(lines: Sequence[str]) -> None:
    if lines:
        print("\n".join(lines))


def configure_show_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("show", help="one entry: every field, its error, next runs, last runs")
    p.add_argument("entry_id", metavar="ID")
    common.add_json(p)
    p.set_defaults(func=show_command)


def show_command(args: argparse.Namespace) -> int:
    cfg = common.load_config(args)
    with common.reading(cfg) as db:
        found = queries.detail(db, args.entry_id)
        documents = report_reading.described(cfg, db)
    if args.json:
        data = shapes.show_json(found.entry, found.logs, documents, found.waiting_for_revision)
        common.print_json(items.show_with_items(data, found.items, found.runs))
        return 0
    for line in text.show_notes(found.entry, found.paused, found.waiting_for_revision):
        print(line)
    marks = {no: d["format"] for no, d in documents.items()}
    print(text.show_text(found.entry, found.logs, common.tz(cfg), common.colour(), marks))
    _print_lines(items.counts_lines([found.entry.id], found.items))
    _print_lines(items.run_lines(found.logs, found.runs))
    return 0


def configure_log_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("log", help="log entries, newest first")
    p.add_argument("entry_id", nargs="?", metavar="ID")
    p.add_argument("--status", choices=[s.value for s in model.LogStatus])
    p.add_argument("--since", metavar="ISO|AGO", help=_SINCE)
    p.add_argument("--limit", type=int, default=20, metavar="N")
    p.add_argument("--follow", action="store_true", help="then print new ones as they come")
    common.add_json(p)
    p.set_defaults(func=log_command)


def log_command(args: argparse.Namespace) -> int:
    cfg = common.load_config(args)
    status = model.LogStatus(args.status) if args.status else None
    with common.reading(cfg) as db:
        if args.entry_id is not None:
            queries.check_log_id(db, args.entry_id)
        rows = queries.log(
            db,
            entry_id=args.entry_id,
            status=status,
            since=common.since(args.since, cfg),
            limit=args.limit,
        )
        if args.follow:
            _follow_log(args, cfg, db, rows, status)
        else:
            _print_log(rows, cfg, db, args.json, runs=queries.item_runs(db, rows))
    return 0


def _follow_log(
    args: argparse.Namespace,
    cfg: config.Config,
    db: store.Store,
    rows: list[model.LogEntry],
    status: model.LogStatus | None,
) -> None:
    """The history oldest first, then each run as it ends below it, in one alignment (a
    row that does not fit widens the columns, and the header is printed again)."""
    history = rows[::-1]
    widths = text.follow_widths(history, queries.known_ids(db))
    _print_log(history, cfg, db, args.json, widths=widths, header=True)

    def emit(new: list[model.LogEntry]) -> None:
        needed = text.log_widths(new, common.tz(cfg), report_reading.marks(cfg, db))
        grown = any(n > w for n, w in zip(needed, widths, strict=True))
        widths[:] = [max(n, w) for n, w in zip(needed, widths, strict=True)]
        _print_log(new, cfg, db, args.json, widths=widths, header=grown)

    after = rows[0].entry_no if rows else 0
    from jobrunner import follow  # (watchdog: for --follow alone)

    follow.log(cfg, db, after, emit, entry_id=args.entry_id, status=status)


def _print_log(
    rows: list[model.LogEntry],
    cfg: config.Config,
    db: store.Store,
    as_json: bool,
    *,
    widths: Sequence[int] | None = None,
    header: bool | None = None,
    runs: queries.RunCounts | None = None,
) -> None:
    """`header` None: a table with its header when there are rows. `runs`: what the
    rows' runs did with work items."""
    runs = runs or {}
    if as_json:
        documents = report_reading.described(cfg, db)
        for row in rows:
            print(
                json.dumps(
                    items.log_with_items(shapes.log_json(row, documents.get(row.entry_no)), runs)
                ),
                flush=True,
            )
    elif rows or header:
        marks = report_reading.marks(cfg, db)
        table = text.log_table(rows, common.tz(cfg), common.colour(), widths=widths, marks=marks)
        shown = table if header is not False else "\n".join(table.splitlines()[1:])
        print(shown, flush=True)
        _print_lines(items.run_lines(rows, runs))


def configure_sessions_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("sessions", help="session events (logon, logoff), newest first")
    p.add_argument("--since", metavar="ISO|AGO", help=_SINCE)
    p.add_argument("--limit", type=int, default=50, metavar="N")
    common.add_json(p)
    p.set_defaults(func=sessions_command)


def sessions_command(args: argparse.Namespace) -> int:
    cfg = common.load_config(args)
    with common.reading(cfg) as db:
        found = queries.sessions(db, since=common.since(args.since, cfg), limit=args.limit)
    if args.json:
        common.print_json([shapes.session_json(e) for e in found])
    elif found:
        print(text.sessions_table(found, common.tz(cfg)))
    return 0
