"""`jobrunner items ...`: the operator's commands over work items, and the counts the
`list`, `show` and `log` commands add. Parses, composes, calls `ops`; the CLI adds the
parsers with `add_parsers` and rewrites `items ENTRY` to `items list ENTRY` (`argv`).

    jobrunner items ENTRY [QUEUE] [--status S] [--json]     # = items list ...
    jobrunner items show ENTRY KEY [--queue Q] [--json]
    jobrunner items retry ENTRY (KEY... | --failed) [--queue Q] [--json]
    jobrunner items discard ENTRY KEY... [--queue Q] [--json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from jobrunner import config, errors, permissions, store
from jobrunner import model as jr_model
from jobrunner.items import model, ops, shell, storage
from jobrunner.items import views as item_views
from jobrunner.store import open as store_open

VERBS = ("list", "show", "retry", "discard")


def argv(args: Sequence[str]) -> list[str]:
    """`items ENTRY ...` as `items list ENTRY ...` (the verbs stay as they are)."""
    out, i = list(args), 0
    while i < len(out) and out[i].startswith("-"):
        i += 1 if "=" in out[i] or out[i] not in ("--config",) else 2
    if i + 1 < len(out) and out[i] == "items" and out[i + 1] not in (*VERBS, "-h", "--help"):
        out.insert(i + 1, "list")
    return out


def add_parsers(sub: Any) -> None:
    """The `items` command group on the CLI's subparsers."""
    group = sub.add_parser("items", help="work items of an entry's queues: list, show, retry")
    verbs = group.add_subparsers(dest="items_command", required=True, metavar="VERB")
    p = verbs.add_parser("list", help="an entry's items (the default verb)")
    p.add_argument("entry_id", metavar="ENTRY")
    p.add_argument("queue", nargs="?", metavar="QUEUE")
    p.add_argument("--status", choices=[s.value for s in model.ItemStatus])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_items_list)
    p = verbs.add_parser("show", help="one item: payload, error, call stack, failures")
    p.add_argument("entry_id", metavar="ENTRY")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--queue")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_items_show)
    p = verbs.add_parser("retry", help="make failed items pending again")
    p.add_argument("entry_id", metavar="ENTRY")
    p.add_argument("keys", nargs="*", metavar="KEY")
    p.add_argument("--failed", action="store_true", help="every failed item of the entry")
    p.add_argument("--queue")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_items_retry)
    p = verbs.add_parser("discard", help="set items aside for good")
    p.add_argument("entry_id", metavar="ENTRY")
    p.add_argument("keys", nargs="+", metavar="KEY")
    p.add_argument("--queue")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_items_discard)


@contextmanager
def _items(args: argparse.Namespace, *, write: bool) -> Iterator[storage.ItemStore]:
    cfg = config.load(args.config)
    db = store_open.open_existing(cfg) if write else store_open.open_for_reading(cfg)
    items = storage.for_store(db)
    try:
        _check_entry(db, items, args.entry_id)
        yield items
    finally:
        items.close()
        db.close()


def _check_entry(db: store.Store, items: storage.ItemStore, entry_id: str) -> None:
    """An entry is known when it exists or has items (a removed entry's items stay)."""
    if db.get_entry(entry_id) is None and not ops.status_counts(items, [entry_id]):
        raise errors.UnknownEntry(entry_id, [e.id for e in db.list_entries()])


def _keyed(items: storage.ItemStore, args: argparse.Namespace) -> list[model.Item]:
    """The items of args.keys (in args.queue); UnknownItem for a key none has."""
    page = model.Page(entry_id=args.entry_id, queue=args.queue, keys=tuple(args.keys))
    found = ops.listed(items, page)
    missing = sorted(set(args.keys) - {i.key for i in found})
    if missing:
        raise model.UnknownItem(f"entry {args.entry_id!r} has no item {', '.join(missing)}")
    return found


def cmd_items_list(args: argparse.Namespace) -> int:
    status = model.ItemStatus(args.status) if args.status else None
    with _items(args, write=False) as items:
        found = ops.listed(
            items, model.Page(entry_id=args.entry_id, queue=args.queue, status=status)
        )
    if args.json:
        print(json.dumps([item_views.item_json(i) for i in found], indent=2))
    elif found:
        print(item_views.items_table(found))
    return 0


def cmd_items_show(args: argparse.Namespace) -> int:
    with _items(args, write=False) as items:
        args.keys = [args.key]
        _keyed(items, args)
        page = model.Page(entry_id=args.entry_id, queue=args.queue, keys=(args.key,))
        found = ops.detail(items, page)
    if args.json:
        shown: Any = [item_views.detail_json(i, f) for i, f in found]
        print(json.dumps(shown[0] if len(shown) == 1 else shown, indent=2))
    else:
        print("\n\n".join(item_views.detail_text(i, f) for i, f in found))
    return 0


def _changed(args: argparse.Namespace, what: str, changed: list[model.Item]) -> int:
    if args.json:
        print(json.dumps([item_views.item_json(i) for i in changed], indent=2))
    else:
        print(f"{what} {len(changed)} item{'' if len(changed) == 1 else 's'}")
    return 0


def cmd_items_retry(args: argparse.Namespace) -> int:
    if bool(args.keys) == bool(args.failed):
        raise model.ItemError("name the items to retry (KEY...) or give --failed, not both")
    with _items(args, write=True) as items:
        if args.keys:
            _keyed(items, args)
        page = model.Page(
            entry_id=args.entry_id,
            queue=args.queue,
            keys=tuple(args.keys),
            status=model.ItemStatus.FAILED,
        )
        changed = ops.retry(items, page, datetime.now(UTC))
    return _changed(args, "retried", changed)


def cmd_items_discard(args: argparse.Namespace) -> int:
    with _items(args, write=True) as items:
        _keyed(items, args)
        page = model.Page(entry_id=args.entry_id, queue=args.queue, keys=tuple(args.keys))
        changed = ops.discard(items, page, permissions.current_user(), datetime.now(UTC))
    return _changed(args, "discarded", changed)


# --- what other commands add --------------------------------------------------------


def entry_counts(db: store.Store, entry_ids: Iterable[str] | None) -> dict[str, dict[str, int]]:
    """entry id -> item status -> count, for the entries with items (`list`, `show`)."""
    try:
        return ops.status_counts(shell.items_of(db), entry_ids)
    except model.ItemError:  # a state file without item tables yet: no items
        return {}


def log_counts(db: store.Store, session_ids: Iterable[str]) -> dict[str, list[model.RunCount]]:
    """session id -> what it did with each queue (`log`)."""
    try:
        return ops.run_counts(shell.items_of(db), session_ids)
    except model.ItemError:
        return {}


def with_counts(data: dict[str, Any], counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """An entry's JSON with its work items' counts, when it has items."""
    if data["id"] in counts:
        data["items"] = item_views.counts_json(counts[data["id"]])
    return data


def print_counts(entry_ids: Sequence[str], counts: dict[str, dict[str, int]]) -> None:
    shown = [i for i in entry_ids if i in counts]
    if shown:
        print("\nwork items (jobrunner items ID):")
        for entry_id in shown:
            print(f"  {entry_id}: {item_views.counts_text(counts[entry_id])}")


def log_with_items(data: dict[str, Any], runs: dict[str, list[Any]]) -> dict[str, Any]:
    """A log entry's JSON with what its session did with work items, when it did."""
    if data["session_id"] in runs:
        data["items"] = item_views.run_json(runs[data["session_id"]])
    return data


def print_run_counts(rows: Sequence[jr_model.LogEntry], runs: dict[str, list[Any]]) -> None:
    shown = [r for r in rows if r.session_id in runs]
    if shown:
        print("\nwork items:")
        for r in shown:
            print(f"  log entry {r.entry_no}: {item_views.run_text(runs[r.session_id])}")
