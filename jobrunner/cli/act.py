"""The commands that act: on an entry (set-status, trigger, cancel, run-once), on the
runner (pause, resume), on the log (mark-error, prune-log), and `run`, the runner
itself. Each changes the store through `operate` (imported by the commands, so that its
imports are no cost of the rest) and prints what it did."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jobrunner import config, errors, model, timetext, wallclock
from jobrunner.cli import common
from jobrunner.store import open as store_open
from jobrunner.views import queries, shapes


def configure_run_parser(sub: common.Subparsers) -> None:
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
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from jobrunner import imports

    imports.asyncio_without_tls()  # before the logs import it (see there)
    from jobrunner import runner, statedir, telemetry

    cfg = common.load_config(args)
    horizon = common.duration(args.horizon, "--horizon")
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


def configure_set_status_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("set-status", help="set an entry ready (restart) or on hold")
    p.add_argument("entry_id", metavar="ID")
    p.add_argument("status", choices=["ready", "on_hold"])
    common.add_json(p)
    p.set_defaults(func=set_status_command)


def set_status_command(args: argparse.Namespace) -> int:
    """Exit 1 when the job file refuses the status (its `status: on_hold` wins)."""
    from jobrunner import operate

    cfg = common.load_config(args)
    with common.writing(cfg) as db:
        decided = operate.set_status(cfg, db, args.entry_id, model.EntryStatus(args.status))
        entry = db.get_entry(args.entry_id)
    if args.json:
        assert entry is not None
        common.print_json(shapes.set_status_json(decided, entry))
    else:
        print(decided.message)
    return 1 if decided.refused else 0


def configure_run_once_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser(
        "run-once", help="run a copy of an entry, or a job file, now, in this terminal"
    )
    p.add_argument("entry_id", metavar="ID|FILE")
    p.set_defaults(func=run_once_command)


def run_once_command(args: argparse.Namespace) -> int:
    from jobrunner import operate

    cfg = common.load_config(args)
    definition = _run_once_spec(cfg, args.entry_id)
    with common.making(cfg) as db:  # the first one makes the store
        outcome = operate.run_once(cfg, db, definition)
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
    if Path(target).is_file() or not store_open.has_state(cfg):
        return queries.find_spec(cfg, target)
    with common.making(cfg) as db:
        return queries.definition(cfg, db, target)


def configure_trigger_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("trigger", help="run an entry now, through the runner; its schedule stays")
    p.add_argument("entry_id", metavar="ID")
    common.add_json(p)
    p.set_defaults(func=trigger_command)


def trigger_command(args: argparse.Namespace) -> int:
    from jobrunner import operate

    cfg = common.load_config(args)
    with common.writing(cfg) as db:
        entry, woken = operate.trigger(cfg, db, args.entry_id)
    assert entry.trigger is not None
    if args.json:
        common.print_json(shapes.trigger_json(entry, woken))
    else:
        after = wallclock.iso(entry.trigger.next_run) or "-"
        where = "the runner runs it now" if woken else "no runner is running: the next one runs it"
        print(f"{entry.id}: run asked for; {where}; its next run stays {after}")
    return 0


def configure_cancel_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("cancel", help="end an entry's run in process (by its id or session id)")
    p.add_argument("entry_id", metavar="ID|SESSION")
    common.add_json(p)
    p.set_defaults(func=cancel_command)


def cancel_command(args: argparse.Namespace) -> int:
    from jobrunner import operate

    cfg = common.load_config(args)
    with common.writing(cfg) as db:
        entry = operate.cancel(cfg, db, args.entry_id)
    if args.json:
        common.print_json(shapes.cancel_json(entry))
    else:
        print(f"{entry.id}: session {entry.session_id} asked to end (SIGTERM, then SIGKILL)")
    return 0


def configure_pause_parsers(sub: common.Subparsers) -> None:
    """pause and resume."""
    for name, what, func in (
        ("pause", "start no new runs", pause_command),
        ("resume", "start runs again", resume_command),
    ):
        p = sub.add_parser(name, help=f"{what} (of the runner, or of one category)")
        p.add_argument("--category", metavar="C")
        common.add_json(p)
        p.set_defaults(func=func)


def pause_command(args: argparse.Namespace) -> int:
    from jobrunner import operate

    cfg = common.load_config(args)
    with common.writing(cfg) as db:
        p = operate.pause(cfg, db, args.category)
    if args.json:
        common.print_json(shapes.pause_json(p))
    else:
        what = "the runner" if p.category is None else f"category {p.category}"
        print(f"{what} paused: runs in process finish, no new run starts until resume")
    return 0


def resume_command(args: argparse.Namespace) -> int:
    from jobrunner import operate

    cfg = common.load_config(args)
    with common.writing(cfg) as db:
        operate.resume(cfg, db, args.category)
        left = db.pauses()
    if args.json:
        common.print_json(shapes.resume_json(args.category, left))
    else:
        what = "the runner" if args.category is None else f"category {args.category}"
        print(f"{what} resumed")
    return 0


def configure_mark_error_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("mark-error", help="mark a log entry stuck in process as an error")
    p.add_argument("log_no", type=int, metavar="LOG_ENTRY_NO")
    p.set_defaults(func=mark_error_command)


def mark_error_command(args: argparse.Namespace) -> int:
    from jobrunner import operate

    cfg = common.load_config(args)
    with common.writing(cfg) as db:
        print(operate.mark_error(cfg, db, args.log_no))
    return 0


def configure_prune_log_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("prune-log", help="delete old log entries (never one in process)")
    p.add_argument("--older-than", metavar="DURATION", help="default: log_retention")
    p.set_defaults(func=prune_log_command)


def prune_log_command(args: argparse.Namespace) -> int:
    from jobrunner import operate

    cfg = common.load_config(args)
    older = (
        common.duration(args.older_than, "--older-than") if args.older_than else cfg.log_retention
    )
    with common.writing(cfg) as db:
        removed = operate.prune_log(cfg, db, older)
    print(
        f"{removed} log entries and session events older than "
        f"{timetext.format_duration(older)} deleted (none in process)"
    )
    return 0
