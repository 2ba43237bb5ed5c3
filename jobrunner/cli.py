"""The command line: parses, composes, calls one function per command.

Exit codes: 0 success, 1 the checked thing is not OK (invalid files, a failed run),
2 usage or input errors (JobRunnerError becomes one line on stderr, an invalid job file
its located problem lines), 141 when stdout's reader went away (`jobrunner log | head`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jobrunner import (
    __version__,
    config,
    control,
    errors,
    follow,
    jobfiles,
    lifecycle,
    model,
    operate,
    reconcile,
    recurrence,
    schemas,
    spec,
    store,
    validate,
    views,
    wallclock,
)
from jobrunner.store import open as store_open
from jobrunner.store.sqlite import StateAccessDenied


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
    p.add_argument(
        "--config-only",
        action="store_true",
        help="check only what the runner needs to start: the config and its jobs folder",
    )
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print a JSON Schema, or where the schemas are")
    p.add_argument("name", nargs="?", choices=schemas.NAMES, metavar="NAME")
    p.add_argument("--path", action="store_true", help="print the path instead")
    p.set_defaults(func=cmd_schema)

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

    p = sub.add_parser("list", help="the entries, their status and next run")
    p.add_argument("--status", choices=[s.value for s in model.EntryStatus])
    p.add_argument("--category")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="one entry: every field, its error, next runs, last runs")
    p.add_argument("entry_id", metavar="ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("log", help="log entries, newest first")
    p.add_argument("entry_id", nargs="?", metavar="ID")
    p.add_argument("--status", choices=[s.value for s in model.LogStatus])
    p.add_argument("--since", metavar="ISO|AGO", help="a time, or how long ago: -1h, 2d")
    p.add_argument("--limit", type=int, default=20, metavar="N")
    p.add_argument("--follow", action="store_true", help="then print new ones as they come")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_log)

    p = sub.add_parser("sessions", help="session events (logon, logoff), newest first")
    p.add_argument("--since", metavar="ISO|AGO", help="a time, or how long ago: -1h, 2d")
    p.add_argument("--limit", type=int, default=50, metavar="N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sessions)

    p = sub.add_parser("set-status", help="set an entry ready (restart) or on hold")
    p.add_argument("entry_id", metavar="ID")
    p.add_argument("status", choices=["ready", "on_hold"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_set_status)

    p = sub.add_parser(
        "run-once", help="run a copy of an entry, or a job file, now, in this terminal"
    )
    p.add_argument("entry_id", metavar="ID|FILE")
    p.set_defaults(func=cmd_run_once)

    p = sub.add_parser("trigger", help="run an entry now, through the runner; its schedule stays")
    p.add_argument("entry_id", metavar="ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_trigger)

    p = sub.add_parser("cancel", help="end an entry's run in process (by its id or session id)")
    p.add_argument("entry_id", metavar="ID|SESSION")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cancel)

    for name, text in (("pause", "start no new runs"), ("resume", "start runs again")):
        p = sub.add_parser(name, help=f"{text} (of the runner, or of one category)")
        p.add_argument("--category", metavar="C")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=cmd_pause if name == "pause" else cmd_resume)

    p = sub.add_parser("mark-error", help="mark a log entry stuck in process as an error")
    p.add_argument("log_no", type=int, metavar="LOG_ENTRY_NO")
    p.set_defaults(func=cmd_mark_error)

    p = sub.add_parser("prune-log", help="delete old log entries (never one in process)")
    p.add_argument("--older-than", metavar="DURATION", help="default: log_retention")
    p.set_defaults(func=cmd_prune_log)

    _task_parsers(sub)

    p = sub.add_parser("plan", help="show what a reconcile would change, without writing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)
    return parser


READER_GONE = 141
"""The exit status when stdout's reader went away: what a shell reports for a command
that SIGPIPE ended (128 + 13), so `set -o pipefail` sees it as other tools."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(_glued(sys.argv[1:] if argv is None else argv))
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except errors.SpecError as exc:
        for problem in exc.problems:
            print(problem.format(), file=sys.stderr)
        return 2
    except errors.JobRunnerError as exc:
        print(f"jobrunner: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _glued(argv: Sequence[str]) -> list[str]:
    """`--since -1h` as `--since=-1h`: argparse takes a value that starts with `-` for
    an option."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--since" and arg.startswith("-") and arg != "--":
            out[-1] = f"--since={arg}"
        else:
            out.append(arg)
    return out


def _reader_gone() -> int:
    """Stop quietly, as Unix tools do: what is still buffered goes to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return READER_GONE


def _config(args: argparse.Namespace) -> config.Config:
    return config.load(args.config)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        cfg = _config(args)
    except errors.ConfigError as exc:
        _print_problems(exc.problems, args.json)
        return 1
    if args.config_only:
        return _check_start(cfg, args.json)
    report = validate.run(cfg, args.paths or None, resolve=not args.no_resolve)
    _print_problems(report.problems, args.json)
    for note in _kept_entries(cfg, report.problems):
        print(note, file=sys.stderr)
    if not args.json:
        bad = len({p.file for p in report.problems})
        print(
            f"{report.files} job file(s) checked, {bad} with problems, "
            f"{len(report.problems)} problem(s)",
            file=sys.stderr,
        )
    return 1 if report.problems else 0


def _check_start(cfg: config.Config, as_json: bool) -> int:
    """What `run` refuses to start without; job files are not read (a rejected one keeps
    its entry's last good definition and never stops the runner)."""
    problems = []
    if not cfg.jobs_dir.is_dir():
        problems.append(
            model.Problem(
                file=str(cfg.path or "jobrunner.yaml"),
                line=1,
                path="jobs_dir",
                message=f"the jobs folder {cfg.jobs_dir} does not exist",
            )
        )
    _print_problems(problems, as_json)
    return 1 if problems else 0


def cmd_schema(args: argparse.Namespace) -> int:
    if args.path:
        print(schemas.path(args.name) if args.name else schemas.folder())
    elif args.name:
        print(json.dumps(schemas.load(args.name), indent=2))
    else:
        raise errors.JobRunnerError(f"name a schema ({', '.join(schemas.NAMES)}) or give --path")
    return 0


def _kept_entries(cfg: config.Config, problems: Sequence[model.Problem]) -> list[str]:
    """For each rejected file, the entry that keeps running its last good definition."""
    files = sorted({p.file for p in problems})
    if not files or not store_open.has_state(cfg):
        return []
    db = store_open.open_store(cfg)
    try:
        kept = db.entries_by_source(files)
    finally:
        db.close()
    return [
        f"note: {e.spec.source} is rejected; entry {e.id!r} keeps its last good definition"
        for e in kept
    ]


def _print_problems(problems: Sequence[model.Problem], as_json: bool) -> None:
    if as_json:
        print(json.dumps([p.as_dict() for p in problems], indent=2))
    else:
        for p in problems:
            print(p.format())


def find_spec(cfg: config.Config, target: str, known: Sequence[str] = ()) -> model.JobSpec:
    """An entry by file path, or by id among the configured job files. An unknown id
    names the nearest of the files' ids and `known`; the id of an invalid file (by its
    name) raises that file's problems."""
    path = Path(target)
    if path.is_file() or (path.suffix in spec.JOB_SUFFIXES and os.sep in target):
        return spec.load_file(path, timezone=cfg.timezone, display=jobfiles.display(path))
    ids, invalid = list(known), None
    if cfg.jobs_dir.is_dir():
        for candidate in spec.job_files(cfg.jobs_dir):
            try:
                loaded = spec.load_file(
                    candidate, timezone=cfg.timezone, display=jobfiles.display(candidate)
                )
            except errors.SpecError as exc:
                if spec.default_id(candidate) == target:
                    invalid = exc
                continue
            if loaded.id == target:
                return loaded
            ids.append(loaded.id)
    raise invalid or errors.UnknownEntry(target, ids)


def parse_when(text: str, tz_name: str, option: str = "--from") -> datetime:
    try:
        return spec.parse_instant(text, tz_name)
    except ValueError:
        raise errors.JobRunnerError(
            f"{option}: {text!r} is not an ISO-8601 date and time"
        ) from None


def cmd_next(args: argparse.Namespace) -> int:
    cfg = _config(args)
    entry = find_spec(cfg, args.target)
    start = parse_when(args.start, entry.timezone) if args.start else datetime.now(UTC)
    if args.count < 1:
        raise errors.JobRunnerError("--count must be at least 1")
    tz = wallclock.zone(entry.timezone)
    times = list(recurrence.run_times(entry, start, args.count))
    jitter = entry.recurrence.jitter if entry.recurrence else None
    extra = {"jitter": spec.format_duration(jitter)} if jitter else {}
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "local": t.astimezone(tz).isoformat(),
                        "utc": t.isoformat().replace("+00:00", "Z"),
                        **extra,
                    }
                    for t in times
                ],
                indent=2,
            )
        )
        return 0
    print(f"{entry.id} ({entry.timezone})")
    if jitter:
        print(f"  jitter: each run starts up to {extra['jitter']} later than shown")
    if not times:
        print("  no further runs (expired)")
    for n, t in enumerate(times, 1):
        local = t.astimezone(tz)
        print(
            f"  {n:>2}  {local:%a %Y-%m-%d %H:%M:%S} {local.tzname():<6} {t:%Y-%m-%d %H:%M:%S} UTC"
        )
    return 0


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
                    "next_run": wallclock.iso(c.after.earliest_start),
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
                    "next_run": wallclock.iso(c.after.earliest_start),
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
    db = store_open.open_for_reading(cfg)
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
    from jobrunner import runner, statedir, telemetry

    cfg = _config(args)
    try:
        horizon = spec.parse_duration(args.horizon)
    except ValueError as exc:
        raise errors.JobRunnerError(f"--horizon: {exc}") from None
    if not cfg.jobs_dir.is_dir():
        raise errors.JobRunnerError(
            f"the jobs folder {cfg.jobs_dir} does not exist (jobs_dir in "
            f"{cfg.path or 'the built-in defaults'})"
        )
    tightened = statedir.secure(cfg.state_dir)  # before anything is opened in it
    telemetry.configure(
        cfg.state_dir, log_format=cfg.log_format, log_level=cfg.log_level, log_file=cfg.log_file
    )
    for path, old, new in tightened:
        telemetry.get_logger().warning("state_mode_tightened", path=path, mode=old, now=new)
    return runner.run(cfg, until_idle=args.until_idle, horizon=horizon)


def _tz(cfg: config.Config) -> ZoneInfo:
    return wallclock.zone(cfg.timezone)


def _colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _since(text: str | None, cfg: config.Config, now: datetime | None = None) -> datetime | None:
    """An ISO-8601 time (wall time in the configured zone without an offset), or how long
    ago: `-1h`, `2d`, `1h30m` (the sign is optional; journalctl --since's `-1h`)."""
    if text is None:
        return None
    try:
        ago = spec.parse_duration(text.removeprefix("-"))
    except ValueError:
        pass
    else:
        return (now or datetime.now(UTC)) - ago
    try:
        return spec.parse_instant(text, cfg.timezone)
    except ValueError:
        raise errors.JobRunnerError(
            f"--since: {text!r} is neither a time ago (-1h, 2d, 30m) nor an ISO-8601 date and time"
        ) from None


def _width() -> int | None:
    """The width a table must fit: COLUMNS, else the terminal's; in a pipe, none."""
    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def cmd_list(args: argparse.Namespace) -> int:
    cfg = _config(args)
    db = store_open.open_for_reading(cfg)
    try:
        status = model.EntryStatus(args.status) if args.status else None
        entries = db.list_entries(status=status, category=args.category)
        paused = db.pauses()
    finally:
        db.close()
    if not args.json:
        for line in _paused_lines(paused, args.category, everything=args.category is None):
            print(line)
    if args.json:
        print(json.dumps([views.entry_json(e) for e in entries], indent=2))
    elif entries:
        print(
            views.entries_table(entries, _tz(cfg), _colour(), now=datetime.now(UTC), width=_width())
        )
        rejected = [e for e in entries if e.rejected]
        if rejected:
            print(
                f"\n! {len(rejected)} entr{'y has' if len(rejected) == 1 else 'ies have'} a "
                "rejected job file and keep their last good definition (jobrunner show ID)"
            )
    else:
        print("no entries", file=sys.stderr)
    return 0


def _paused_lines(
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


def cmd_show(args: argparse.Namespace) -> int:
    cfg = _config(args)
    db = store_open.open_for_reading(cfg)
    try:
        entry = db.get_entry(args.entry_id)
        if entry is None:
            raise errors.UnknownEntry(args.entry_id, [e.id for e in db.list_entries()])
        logs = db.list_log(entry_id=entry.id, limit=5)
        paused = db.pauses()
    finally:
        db.close()
    if not args.json:
        for line in _paused_lines(paused, entry.spec.category, everything=False):
            print(line)
        if entry.trigger is not None:
            at = wallclock.iso(entry.trigger.at)
            print(f"run asked for by {entry.trigger.by} at {at} (jobrunner trigger)")
    if args.json:
        data = views.entry_json(entry)
        data["next_runs"] = [wallclock.iso(t) for t in views.next_runs(entry, 3)]
        data["log"] = [views.log_json(row) for row in logs]
        print(json.dumps(data, indent=2))
    else:
        print(views.show_text(entry, logs, _tz(cfg), _colour()))
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    cfg = _config(args)
    db = store_open.open_for_reading(cfg)
    status = model.LogStatus(args.status) if args.status else None
    try:
        if args.entry_id is not None:
            _check_log_id(db, args.entry_id)
        rows = db.list_log(
            entry_id=args.entry_id, status=status, since=_since(args.since, cfg), limit=args.limit
        )
        if args.follow:
            _follow_log(args, cfg, db, rows, status)
        else:
            _print_log(rows, cfg, args.json)
    finally:
        db.close()
    return 0


def _check_log_id(db: store.Store, entry_id: str) -> None:
    """An id is known when an entry has it or a log entry does (a removed entry's log
    stays, and a task's is `task:ID`)."""
    if db.get_entry(entry_id) is None and not db.list_log(entry_id=entry_id, limit=1):
        raise errors.UnknownEntry(entry_id, [e.id for e in db.list_entries()])


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
    widths = views.follow_widths(history, [e.id for e in db.list_entries()])
    _print_log(history, cfg, args.json, widths=widths, header=True)

    def emit(new: list[model.LogEntry]) -> None:
        needed = views.log_widths(new, _tz(cfg))
        grown = any(n > w for n, w in zip(needed, widths, strict=True))
        widths[:] = [max(n, w) for n, w in zip(needed, widths, strict=True)]
        _print_log(new, cfg, args.json, widths=widths, header=grown)

    follow.log(
        cfg,
        db,
        rows[0].entry_no if rows else 0,
        emit,
        entry_id=args.entry_id,
        status=status,
    )


def _print_log(
    rows: list[model.LogEntry],
    cfg: config.Config,
    as_json: bool,
    *,
    widths: Sequence[int] | None = None,
    header: bool | None = None,
) -> None:
    """`header` None: a table with its header when there are rows."""
    if as_json:
        for row in rows:
            print(json.dumps(views.log_json(row)), flush=True)
    elif rows or header:
        text = views.log_table(rows, _tz(cfg), _colour(), widths=widths)
        print(text if header is not False else "\n".join(text.splitlines()[1:]), flush=True)


def cmd_sessions(args: argparse.Namespace) -> int:
    cfg = _config(args)
    db = store_open.open_for_reading(cfg)
    try:
        found = db.list_sessions(since=_since(args.since, cfg), limit=args.limit)
    finally:
        db.close()
    if args.json:
        print(json.dumps([views.session_json(e) for e in found], indent=2))
    elif found:
        print(views.sessions_table(found, _tz(cfg)))
    return 0


@contextlib.contextmanager
def _writing(cfg: config.Config) -> Iterator[store.Store]:
    """The existing state store, open for the block (a command that changes it)."""
    db = store_open.open_existing(cfg)
    try:
        yield db
    finally:
        db.close()


def cmd_set_status(args: argparse.Namespace) -> int:
    cfg = _config(args)
    with _writing(cfg) as db:
        changed, message = operate.set_status(
            cfg, db, args.entry_id, model.EntryStatus(args.status)
        )
        entry = db.get_entry(args.entry_id)
    if args.json:
        assert entry is not None
        print(
            json.dumps(
                {"changed": changed, "message": message, "entry": views.entry_json(entry)}, indent=2
            )
        )
    else:
        print(message)
    refused = not changed and "file wins" in message
    return 1 if refused else 0


def cmd_trigger(args: argparse.Namespace) -> int:
    cfg = _config(args)
    with _writing(cfg) as db:
        entry, woken = operate.trigger(cfg, db, args.entry_id)
    assert entry.trigger is not None
    if args.json:
        print(json.dumps(control.trigger_json(entry, woken), indent=2))
    else:
        after = wallclock.iso(entry.trigger.next_run) or "-"
        where = "the runner runs it now" if woken else "no runner is running: the next one runs it"
        print(f"{entry.id}: run asked for; {where}; its next run stays {after}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    cfg = _config(args)
    with _writing(cfg) as db:
        entry = operate.cancel(cfg, db, args.entry_id)
    if args.json:
        print(json.dumps(control.cancel_json(entry), indent=2))
    else:
        print(f"{entry.id}: session {entry.session_id} asked to end (SIGTERM, then SIGKILL)")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    cfg = _config(args)
    with _writing(cfg) as db:
        p = operate.pause(cfg, db, args.category)
    if args.json:
        print(json.dumps(control.pause_json(p), indent=2))
    else:
        what = "the runner" if p.category is None else f"category {p.category}"
        print(f"{what} paused: runs in process finish, no new run starts until resume")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    cfg = _config(args)
    with _writing(cfg) as db:
        operate.resume(cfg, db, args.category)
        left = db.pauses()
    if args.json:
        print(
            json.dumps(
                {"resumed": args.category, "paused": [control.pause_json(p) for p in left]},
                indent=2,
            )
        )
    else:
        what = "the runner" if args.category is None else f"category {args.category}"
        print(f"{what} resumed")
    return 0


def cmd_run_once(args: argparse.Namespace) -> int:
    cfg = _config(args)
    definition = _run_once_spec(cfg, args.entry_id)
    db = store_open.open_store(cfg)  # the first one makes the store
    try:
        outcome = operate.run_once(cfg, db, definition)
    finally:
        db.close()
    if outcome.ok:
        print(f"{definition.id}: success", file=sys.stderr)
        return 0
    print(f"{definition.id}: error: {outcome.message.strip()}", file=sys.stderr)
    if outcome.stack.strip():
        print(outcome.stack.rstrip(), file=sys.stderr)
    return 1


def _run_once_spec(cfg: config.Config, target: str) -> model.JobSpec:
    """A job file as it is now, else the stored entry's definition (its last good one),
    else the job file of that id."""
    if Path(target).is_file():
        return find_spec(cfg, target)
    if not store_open.has_state(cfg):
        return find_spec(cfg, target)
    db = store_open.open_store(cfg)
    try:
        entry = db.get_entry(target)
        known = [e.id for e in db.list_entries()] if entry is None else []
    finally:
        db.close()
    return entry.spec if entry is not None else find_spec(cfg, target, known)


def cmd_mark_error(args: argparse.Namespace) -> int:
    cfg = _config(args)
    with _writing(cfg) as db:
        print(operate.mark_error(cfg, db, args.log_no))
    return 0


def cmd_prune_log(args: argparse.Namespace) -> int:
    cfg = _config(args)
    try:
        older = spec.parse_duration(args.older_than) if args.older_than else cfg.log_retention
    except ValueError as exc:
        raise errors.JobRunnerError(f"--older-than: {exc}") from None
    with _writing(cfg) as db:
        removed = operate.prune_log(db, older)
    print(
        f"{removed} log entries and session events older than "
        f"{spec.format_duration(older)} deleted (none in process)"
    )
    return 0


def _task_parsers(sub: Any) -> None:
    task = sub.add_parser("task", help="the Task Scheduler: programmatic tasks")
    tsub = task.add_subparsers(dest="task_command", required=True, metavar="ACTION")
    p = tsub.add_parser("create", help="create a task; prints its id")
    p.add_argument("object", metavar="OBJECT")
    p.add_argument("--failure", metavar="OBJECT", help="run with the error if it fails")
    p.add_argument("--not-before", metavar="ISO")
    p.add_argument("--not-ready", action="store_true", help="create it dormant (task ready)")
    p.add_argument("--parameter", default=None)
    p.add_argument("--timeout", metavar="DURATION")
    p.add_argument("--record", metavar="ENTRY_ID")
    p.set_defaults(func=cmd_task_create)
    p = tsub.add_parser("list", help="the tasks, oldest first")
    p.add_argument("--all", action="store_true", help="also the tasks backing entries")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_task_list)
    for name, func, text in (
        ("ready", cmd_task_ready, "make a task ready"),
        ("exists", cmd_task_exists, "exit 0 when it exists, else 1"),
        ("cancel", cmd_task_cancel, "remove a pending task"),
    ):
        p = tsub.add_parser(name, help=text)
        p.add_argument("task_id", metavar="ID")
        if name == "ready":
            p.add_argument("--not-before", metavar="ISO")
        p.set_defaults(func=func)


def _tasks_api(args: argparse.Namespace) -> tuple[config.Config, Any]:
    from jobrunner import tasks

    cfg = _config(args)
    # the same message as other acting commands when no state yet; another account's
    # state: tasks.create_task asks its runner (taskgate)
    with contextlib.suppress(StateAccessDenied), _writing(cfg):
        pass
    tasks.configure(cfg.path)
    return cfg, tasks


def cmd_task_create(args: argparse.Namespace) -> int:
    cfg, tasks = _tasks_api(args)
    not_before = (
        parse_when(args.not_before, cfg.timezone, "--not-before") if args.not_before else None
    )
    try:
        timeout = spec.parse_duration(args.timeout) if args.timeout else None
        task_id = tasks.create_task(
            args.object,
            args.failure,
            ready=not args.not_ready,
            not_before=not_before,
            record=args.record,
            timeout=timeout,
            parameter=args.parameter,
        )
    except ValueError as exc:
        raise errors.JobRunnerError(str(exc)) from None
    print(task_id)
    return 0


def _task_json(t: model.Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "object": t.object,
        "failure_object": t.failure_object,
        "ready": t.ready,
        "not_before": wallclock.iso(t.not_before),
        "record": t.entry_id,
        "timeout_ms": None if t.timeout is None else int(t.timeout.total_seconds() * 1000),
        "parameter": t.parameter,
        "user": t.user,
        "attempts": t.attempts,
        "phase": t.phase,
        "running": t.session_id is not None,
        "created_at": wallclock.iso(t.created_at),
    }


def cmd_task_list(args: argparse.Namespace) -> int:
    cfg, tasks = _tasks_api(args)
    found = tasks.list_tasks(entries=args.all)
    if args.json:
        print(json.dumps([_task_json(t) for t in found], indent=2))
    elif found:
        tz = _tz(cfg)
        print(
            views.table(
                ["ID", "OBJECT", "PHASE", "READY", "NOT BEFORE", "ATTEMPTS", "RUNNING"],
                [
                    (
                        t.id,
                        t.object,
                        t.phase,
                        str(t.ready),
                        views.local(t.not_before, tz),
                        str(t.attempts),
                        str(t.session_id is not None),
                    )
                    for t in found
                ],
                colour=False,
            )
        )
    return 0


def cmd_task_ready(args: argparse.Namespace) -> int:
    cfg, tasks = _tasks_api(args)
    when = parse_when(args.not_before, cfg.timezone, "--not-before") if args.not_before else None
    if not tasks.set_task_ready(args.task_id, when):
        raise errors.JobRunnerError(f"no task {args.task_id}")
    return 0


def cmd_task_exists(args: argparse.Namespace) -> int:
    _, tasks = _tasks_api(args)
    return 0 if tasks.task_exists(args.task_id) else 1


def cmd_task_cancel(args: argparse.Namespace) -> int:
    _, tasks = _tasks_api(args)
    if tasks.cancel_task(args.task_id):
        print(f"task {args.task_id} cancelled")
        return 0
    found = {t.id: t for t in tasks.list_tasks(entries=True)}.get(args.task_id)
    if found is None:
        why = "does not exist"
    elif found.entry_id and found.object == lifecycle.DISPATCH:
        why = (
            f"backs job queue entry {found.entry_id!r}; "
            f"use jobrunner set-status {found.entry_id} on_hold"
        )
    else:
        why = "is running and cannot be cancelled"
    print(f"task {args.task_id} {why}", file=sys.stderr)
    return 1
