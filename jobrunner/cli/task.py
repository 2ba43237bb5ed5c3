"""`jobrunner task`: the Task Scheduler from the command line (create, list, ready,
exists, cancel), through the same API a job's code calls (`jobrunner.tasks`)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import datetime

from jobrunner import config, errors, lifecycle, model, tasks, timetext
from jobrunner.cli import common
from jobrunner.store.sqlite import StateAccessDenied
from jobrunner.views import shapes, text


def configure_task_parser(sub: common.Subparsers) -> None:
    task = sub.add_parser("task", help="the Task Scheduler: programmatic tasks")
    actions = task.add_subparsers(dest="task_command", required=True, metavar="ACTION")
    p = actions.add_parser("create", help="create a task; prints its id")
    p.add_argument("object", metavar="OBJECT")
    p.add_argument("--failure", metavar="OBJECT", help="run with the error if it fails")
    p.add_argument("--not-before", metavar="ISO")
    p.add_argument("--not-ready", action="store_true", help="create it dormant (task ready)")
    p.add_argument("--parameter", default=None)
    p.add_argument("--timeout", metavar="DURATION")
    p.add_argument("--record", metavar="ENTRY_ID")
    p.set_defaults(func=create_command)
    p = actions.add_parser("list", help="the tasks, oldest first")
    p.add_argument("--all", action="store_true", help="also the tasks backing entries")
    common.add_json(p)
    p.set_defaults(func=list_command)
    for name, func, what in (
        ("ready", ready_command, "make a task ready"),
        ("exists", exists_command, "exit 0 when it exists, else 1"),
        ("cancel", cancel_command, "remove a pending task"),
    ):
        p = actions.add_parser(name, help=what)
        p.add_argument("task_id", metavar="ID")
        if name == "ready":
            p.add_argument("--not-before", metavar="ISO")
        p.set_defaults(func=func)


def _configured(args: argparse.Namespace) -> config.Config:
    """The Task API pointed at the config of `args`."""
    cfg = common.load_config(args)
    # the same message as other acting commands when no state yet; another account's
    # state: tasks.create_task asks its runner (taskgate)
    with contextlib.suppress(StateAccessDenied), common.writing(cfg):
        pass
    tasks.configure(cfg.path)
    return cfg


def _not_before(args: argparse.Namespace, cfg: config.Config) -> datetime | None:
    return (
        common.parse_when(args.not_before, cfg.timezone, "--not-before")
        if args.not_before
        else None
    )


def create_command(args: argparse.Namespace) -> int:
    cfg = _configured(args)
    not_before = _not_before(args, cfg)
    try:
        timeout = timetext.parse_duration(args.timeout) if args.timeout else None
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


def list_command(args: argparse.Namespace) -> int:
    cfg = _configured(args)
    found = tasks.list_tasks(entries=args.all)
    if args.json:
        common.print_json([shapes.task_json(t) for t in found])
    elif found:
        print(text.tasks_table(found, common.tz(cfg)))
    return 0


def ready_command(args: argparse.Namespace) -> int:
    cfg = _configured(args)
    if not tasks.set_task_ready(args.task_id, _not_before(args, cfg)):
        raise errors.JobRunnerError(f"no task {args.task_id}")
    return 0


def exists_command(args: argparse.Namespace) -> int:
    _configured(args)
    return 0 if tasks.task_exists(args.task_id) else 1


def cancel_command(args: argparse.Namespace) -> int:
    _configured(args)
    if tasks.cancel_task(args.task_id):
        print(f"task {args.task_id} cancelled")
        return 0
    found = {t.id: t for t in tasks.list_tasks(entries=True)}.get(args.task_id)
    print(f"task {args.task_id} {_not_cancelled(found)}", file=sys.stderr)
    return 1


def _not_cancelled(found: model.Task | None) -> str:
    """Why a task was not cancelled."""
    if found is None:
        return "does not exist"
    if found.entry_id and found.object == lifecycle.DISPATCH:
        return (
            f"backs job queue entry {found.entry_id!r}; "
            f"use jobrunner set-status {found.entry_id} on_hold"
        )
    return "is running and cannot be cancelled"
