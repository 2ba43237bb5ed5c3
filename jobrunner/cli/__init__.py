"""The command line: parses, composes, calls one function per command. Each group of
commands declares its own subcommands (`configure_*_parser(sub)`) and their functions:
`check` (validate, schema, next, plan), `status` (list, show, log, sessions), `output`
(a report run's document), `act` (run, set-status, run-once, trigger, cancel, pause,
resume, mark-error, prune-log), `task`, `items` (work items), `cluster` (nodes,
migrate-store) and `web`; `common` holds
what they share, exit codes among it. Nothing imports this package but
`python -m jobrunner` and the `jobrunner` console script."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from jobrunner import __version__
from jobrunner.cli import act, check, cluster, common, items, output, status, task, web

# the order `jobrunner --help` lists the commands in
_COMMANDS: tuple[Callable[[common.Subparsers], None], ...] = (
    check.configure_validate_parser,
    check.configure_schema_parser,
    check.configure_next_parser,
    act.configure_run_parser,
    status.configure_list_parser,
    status.configure_show_parser,
    status.configure_log_parser,
    output.configure_output_parser,
    status.configure_sessions_parser,
    cluster.configure_migrate_store_parser,
    cluster.configure_nodes_parser,
    act.configure_set_status_parser,
    act.configure_run_once_parser,
    act.configure_trigger_parser,
    act.configure_cancel_parser,
    act.configure_pause_parsers,
    act.configure_mark_error_parser,
    act.configure_prune_log_parser,
    task.configure_task_parser,
    items.configure_items_parser,
    check.configure_plan_parser,
    web.configure_web_parser,
)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="jobrunner", description="Declarative job queue runner (Business Central semantics)."
    )
    root.add_argument("--version", action="version", version=f"jobrunner {__version__}")
    root.add_argument("--config", type=Path, help="config file (default: ./jobrunner.yaml)")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for configure in _COMMANDS:
        configure(sub)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(common.glued(sys.argv[1:] if argv is None else argv))
    return common.execute(args)


__all__ = ["main", "parser"]
