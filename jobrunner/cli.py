"""The command line: parses, composes, calls one function per command.

Exit codes: 0 success, 1 the checked thing is not OK (invalid files, a failed run),
2 usage or input errors (JobRunnerError becomes one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from jobrunner import (
    __version__,
    config,
    errors,
    jobfiles,
    model,
    reconcile,
    recurrence,
    spec,
    store,
    validate,
    wallclock,
)
from jobrunner.store.memory import MemoryStore
from jobrunner.store.sqlite import FILE_NAME, SqliteStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobrunner", description="Declarative job queue runner (Business Central semantics)."
    )
    parser.add_argument("--version", action="version", version=f"jobrunner {__version__}")
    parser.add_argument("--config", type=Path, help="config file (default: ./jobrunner.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check the config and job files")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    p.add_argument("--no-resolve", action="store_true", help="do not check that objects exist")
    p.add_argument("--json", action="store_true", help="print problems as JSON")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("next", help="print an entry's next run times")
    p.add_argument("target", metavar="ID|FILE")
    p.add_argument("--from", dest="start", metavar="ISO", help="start instant (default: now)")
    p.add_argument("--count", type=int, default=5, metavar="N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_next)

    p = sub.add_parser("run", help="run the job queue (the long-lived service)")
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="exit 0 once nothing runs and nothing is due within --horizon",
    )
    p.add_argument(
        "--horizon",
        default="0",
        metavar="DURATION",
        help="with --until-idle: how far ahead counts as due (default 0)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("plan", help="show what a reconcile would change, without writing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except errors.JobRunnerError as exc:
        print(f"jobrunner: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _config(args: argparse.Namespace) -> config.Config:
    return config.load(args.config)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        cfg = _config(args)
    except errors.ConfigError as exc:
        _print_problems(exc.problems, args.json)
        return 1
    report = validate.run(cfg, args.paths or None, resolve=not args.no_resolve)
    _print_problems(report.problems, args.json)
    if not args.json:
        bad = len({p.file for p in report.problems})
        print(
            f"{report.files} job file(s) checked, {bad} with problems, "
            f"{len(report.problems)} problem(s)",
            file=sys.stderr,
        )
    return 1 if report.problems else 0


def _print_problems(problems: Sequence[model.Problem], as_json: bool) -> None:
    if as_json:
        print(json.dumps([p.as_dict() for p in problems], indent=2))
    else:
        for p in problems:
            print(p.format())


def find_spec(cfg: config.Config, target: str) -> model.JobSpec:
    """An entry by file path, or by id among the configured job files."""
    path = Path(target)
    if path.suffix in spec.JOB_SUFFIXES and path.is_file():
        return spec.load_file(path, timezone=cfg.timezone, display=validate.display(path))
    if cfg.jobs_dir.is_dir():
        for candidate in spec.job_files(cfg.jobs_dir):
            try:
                loaded = spec.load_file(
                    candidate, timezone=cfg.timezone, display=validate.display(candidate)
                )
            except errors.SpecError:
                continue
            if loaded.id == target:
                return loaded
    raise errors.UnknownEntry(target)


def parse_when(text: str, tz_name: str) -> datetime:
    try:
        return spec.parse_instant(text, tz_name)
    except ValueError:
        raise errors.JobRunnerError(f"--from: {text!r} is not an ISO-8601 date and time") from None


def cmd_next(args: argparse.Namespace) -> int:
    cfg = _config(args)
    entry = find_spec(cfg, args.target)
    start = parse_when(args.start, entry.timezone) if args.start else datetime.now(UTC)
    if args.count < 1:
        raise errors.JobRunnerError("--count must be at least 1")
    tz = wallclock.zone(entry.timezone)
    times = list(recurrence.run_times(entry, start, args.count))
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "local": t.astimezone(tz).isoformat(),
                        "utc": t.isoformat().replace("+00:00", "Z"),
                    }
                    for t in times
                ],
                indent=2,
            )
        )
        return 0
    print(f"{entry.id} ({entry.timezone})")
    if not times:
        print("  no further runs (expired)")
    for n, t in enumerate(times, 1):
        local = t.astimezone(tz)
        print(
            f"  {n:>2}  {local:%a %Y-%m-%d %H:%M:%S} {local.tzname():<6} {t:%Y-%m-%d %H:%M:%S} UTC"
        )
    return 0


def open_store(cfg: config.Config) -> store.Store:
    """The state store for reading; an empty one when no runner has written any yet."""
    path = cfg.state_dir / FILE_NAME
    return SqliteStore(path) if path.exists() else MemoryStore()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _short(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def plan_json(plan: reconcile.Plan) -> dict[str, object]:
    out: dict[str, list[dict[str, object]]] = {
        "add": [],
        "change": [],
        "remove": [],
        "rejected": [],
    }
    for c in plan.changes:
        if c.kind == "add" and c.after is not None:
            out["add"].append(
                {
                    "id": c.entry_id,
                    "file": c.path,
                    "status": c.after.status.value,
                    "next_run": _iso(c.after.earliest_start),
                }
            )
        elif c.kind in ("change", "move", "accept") and c.after is not None:
            out["change"].append(
                {
                    "id": c.entry_id,
                    "file": c.path,
                    "reason": c.kind,
                    "keys": {k: {"old": old, "new": new} for k, (old, new) in c.keys.items()},
                    "status": c.after.status.value,
                    "next_run": _iso(c.after.earliest_start),
                }
            )
        elif c.kind == "remove":
            out["remove"].append({"id": c.entry_id, "file": c.path, "after_run": c.deferred})
        elif c.kind == "reject":
            out["rejected"].append(
                {
                    "file": c.path,
                    "entry_id": c.entry_id,
                    "problems": [p.as_dict() for p in c.problems],
                }
            )
    return {**out, "unchanged": plan.unchanged}


def cmd_plan(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if not cfg.jobs_dir.is_dir():
        raise errors.JobRunnerError(f"the jobs folder {cfg.jobs_dir} does not exist")
    db = open_store(cfg)
    try:
        stored = {e.id: e for e in db.list_entries()}
    finally:
        db.close()
    results = jobfiles.scan(cfg.jobs_dir, cfg.timezone, cfg.base)
    plan = reconcile.diff(results, stored, datetime.now(UTC))
    data = plan_json(plan)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        _print_plan(data, plan)
    if plan.of("reject"):
        return 1
    return 2 if plan.has_changes else 0


def _print_plan(data: dict[str, object], plan: reconcile.Plan) -> None:
    for c in plan.changes:
        if c.kind == "add" and c.after is not None:
            print(
                f"+ {c.entry_id}  ({c.path})  {c.after.status.value}, next run "
                f"{_short(c.after.earliest_start)}"
            )
        elif c.kind in ("change", "move", "accept") and c.after is not None:
            what = {"move": "file moved", "accept": "file accepted again"}.get(c.kind, "changed")
            print(f"~ {c.entry_id}  ({c.path})  {what}")
            for key, (old, new) in c.keys.items():
                print(f"    {key}: {old!r} -> {new!r}")
        elif c.kind == "remove":
            print(
                f"- {c.entry_id}  ({c.path})" + ("  after its run in process" if c.deferred else "")
            )
        elif c.kind == "reject":
            keeps = f"; entry {c.entry_id!r} keeps its last good definition" if c.entry_id else ""
            print(f"! {c.path}  rejected{keeps}")
            for problem in c.problems:
                print(f"    {problem.format()}")
    counts = {k: len(v) for k, v in data.items() if isinstance(v, list)}
    print(
        f"Plan: {counts['add']} to add, {counts['change']} to change, {counts['remove']} to "
        f"remove, {counts['rejected']} rejected, {plan.unchanged} unchanged."
    )


def cmd_run(args: argparse.Namespace) -> int:
    from jobrunner import runner, telemetry

    cfg = _config(args)
    try:
        horizon = spec.parse_duration(args.horizon)
    except ValueError as exc:
        raise errors.JobRunnerError(f"--horizon: {exc}") from None
    telemetry.configure(cfg.state_dir)
    return runner.Runner(cfg, until_idle=args.until_idle, horizon=horizon).run()
