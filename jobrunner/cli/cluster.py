"""The commands of a store shared by several runners: `nodes` (the runners on it) and
`migrate-store` (a single runner's SQLite state copied into it)."""

from __future__ import annotations

import argparse
import dataclasses

from jobrunner import errors, model, store, storemove
from jobrunner.cli import common
from jobrunner.views import nodes as node_views


def configure_migrate_store_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser(
        "migrate-store", help="copy the SQLite state in state_dir into the config's store:"
    )
    common.add_json(p)
    p.set_defaults(func=migrate_store_command)


def configure_nodes_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("nodes", help="the runners sharing the store (PostgreSQL)")
    common.add_json(p)
    p.set_defaults(func=nodes_command)


def migrate_store_command(args: argparse.Namespace) -> int:
    moved = storemove.migrate(common.load_config(args))
    if args.json:
        common.print_json(dataclasses.asdict(moved))
    else:
        print(
            f"copied {moved.entries} entries, {moved.log} log entries, {moved.sessions} "
            f"session events, {moved.tasks} tasks, {moved.pauses} pauses, {moved.items} "
            f"work items and {moved.documents} report documents from {moved.source} to "
            f"{moved.target}"
        )
    return 0


def nodes_command(args: argparse.Namespace) -> int:
    cfg = common.load_config(args)
    if cfg.store is None:
        raise errors.JobRunnerError(
            "nodes: the state store is not shared (the config names no store:), so one "
            "runner works on it"
        )
    found: list[model.Node] = []
    running: dict[str, int] = {}
    with common.reading(cfg) as db:
        if isinstance(db, store.SharedStore):  # (else no runner has made the schema yet)
            found, server_now = db.nodes(), db.server_now()
            running = {n.runner_id: len(db.open_sessions([n.runner_id])) for n in found}
    if args.json:
        common.print_json([node_views.node_json(n, running[n.runner_id]) for n in found])
    elif found:
        print(node_views.nodes_table(found, running, common.tz(cfg), server_now))
    return 0
