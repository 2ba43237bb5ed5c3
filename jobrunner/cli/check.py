"""The commands that check without changing anything: validate, schema, next, plan."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from jobrunner import errors, reconcile, recurrence, schemas, validate, wallclock
from jobrunner.cli import common
from jobrunner.store import open as store_open
from jobrunner.views import queries, shapes, text


def configure_validate_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("validate", help="check the config and job files")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    p.add_argument("--no-resolve", action="store_true", help="do not check that objects exist")
    common.add_json(p, help="print problems as JSON")
    p.add_argument(
        "--config-only",
        action="store_true",
        help="check only what the runner needs to start: the config and its jobs folder",
    )
    p.set_defaults(func=validate_command)


def validate_command(args: argparse.Namespace) -> int:
    try:
        cfg = common.load_config(args)
    except errors.ConfigError as exc:
        common.print_problems(exc.problems, args.json)
        return 1
    if args.config_only:
        problems = validate.start_problems(cfg)
        common.print_problems(problems, args.json)
        return 1 if problems else 0
    report = validate.run(cfg, args.paths or None, resolve=not args.no_resolve)
    common.print_problems(report.problems, args.json)
    files = sorted({p.file for p in report.problems})
    if files and store_open.has_state(cfg):
        with common.making(cfg) as db:
            kept = queries.kept(db, files)
        for note in text.kept_notes(kept):
            print(note, file=sys.stderr)
    if not args.json:
        print(
            f"{report.files} job file(s) checked, {len(files)} with problems, "
            f"{len(report.problems)} problem(s)",
            file=sys.stderr,
        )
    return 1 if report.problems else 0


def configure_schema_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("schema", help="print a JSON Schema, or where the schemas are")
    p.add_argument("name", nargs="?", choices=schemas.NAMES, metavar="NAME")
    p.add_argument("--path", action="store_true", help="print the path instead")
    p.set_defaults(func=schema_command)


def schema_command(args: argparse.Namespace) -> int:
    if args.path:
        print(schemas.path(args.name) if args.name else schemas.folder())
    elif args.name:
        common.print_json(schemas.load(args.name))
    else:
        raise errors.JobRunnerError(f"name a schema ({', '.join(schemas.NAMES)}) or give --path")
    return 0


def configure_next_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("next", help="print an entry's next run times")
    p.add_argument("target", metavar="ID|FILE")
    p.add_argument("--from", dest="start", metavar="ISO", help="start instant (default: now)")
    p.add_argument("--count", type=int, default=5, metavar="N")
    common.add_json(p)
    p.set_defaults(func=next_command)


def next_command(args: argparse.Namespace) -> int:
    cfg = common.load_config(args)
    entry = queries.find_spec(cfg, args.target)
    start = common.parse_when(args.start, entry.timezone) if args.start else datetime.now(UTC)
    if args.count < 1:
        raise errors.JobRunnerError("--count must be at least 1")
    tz = wallclock.zone(entry.timezone)
    runs = list(recurrence.run_times(entry, start, args.count))
    jitter = entry.recurrence.jitter if entry.recurrence else None
    if args.json:
        common.print_json(shapes.next_json(runs, tz, jitter))
    else:
        print(text.next_text(entry, runs, tz, jitter))
    return 0


def configure_plan_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("plan", help="show what a reconcile would change, without writing")
    common.add_json(p)
    p.set_defaults(func=plan_command)


def plan_command(args: argparse.Namespace) -> int:
    """Exit 1 when a job file is rejected, 2 when a reconcile would change entries."""
    cfg = common.load_config(args)
    if not cfg.jobs_dir.is_dir():
        raise errors.JobRunnerError(f"the jobs folder {cfg.jobs_dir} does not exist")
    with common.reading(cfg) as db:
        guarded = queries.plan(cfg, db, datetime.now(UTC))
    plan = guarded.plan
    if args.json:
        common.print_json(shapes.plan_json(plan, guarded))
    else:
        print(text.plan_text(plan, guarded))
    if plan.of(reconcile.ChangeKind.REJECT):
        return 1
    return 2 if plan.has_changes else 0
