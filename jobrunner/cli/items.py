"""`jobrunner items ...`: the operator's commands over work items. Parses, composes,
calls `jobrunner.items.ops`; the shapes and text are `views.items`.

    jobrunner items ENTRY [QUEUE] [--status S] [--json]     # = items list ...
    jobrunner items show ENTRY KEY [--queue Q] [--json]
    jobrunner items retry ENTRY (KEY... | --failed) [--queue Q] [--json]
    jobrunner items discard ENTRY KEY... [--queue Q] [--json]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from jobrunner import errors, permissions, store
from jobrunner.cli import common
from jobrunner.items import model, ops, storage
from jobrunner.views import items as item_views

DEFAULT_VERB = "list"


class _Verbs(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The verbs of `items`, where a first word that names none is an entry to list:
    `items ENTRY [QUEUE]` is `items list ENTRY [QUEUE]`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # an entry's id is no verb: argparse checks no choice, __call__ tells them apart
        self.choices = None  # type: ignore[assignment]

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values[0] not in self._name_parser_map:
            values = [DEFAULT_VERB, *values]
        super().__call__(parser, namespace, values, option_string)


def configure_items_parser(sub: common.Subparsers) -> None:
    """The `items` command and its verbs (list, the default, show, retry, discard)."""
    group = sub.add_parser(
        "items",
        help="work items of an entry's queues: list, show, retry",
        description="`jobrunner items ENTRY [QUEUE]` lists an entry's items (= items list).",
    )
    verbs = group.add_subparsers(dest="items_command", required=True, metavar="VERB", action=_Verbs)
    p = verbs.add_parser("list", help="an entry's items (the default verb)")
    p.add_argument("entry_id", metavar="ENTRY")
    p.add_argument("queue", nargs="?", metavar="QUEUE")
    p.add_argument("--status", choices=[s.value for s in model.ItemStatus])
    common.add_json(p)
    p.set_defaults(func=items_list_command)
    p = verbs.add_parser("show", help="one item: payload, error, call stack, failures")
    p.add_argument("entry_id", metavar="ENTRY")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--queue")
    common.add_json(p)
    p.set_defaults(func=items_show_command)
    _configure_changes(verbs)


def _configure_changes(verbs: common.Subparsers) -> None:
    p = verbs.add_parser("retry", help="make failed items pending again")
    p.add_argument("entry_id", metavar="ENTRY")
    p.add_argument("keys", nargs="*", metavar="KEY")
    p.add_argument("--failed", action="store_true", help="every failed item of the entry")
    p.add_argument("--queue")
    common.add_json(p)
    p.set_defaults(func=items_retry_command)
    p = verbs.add_parser("discard", help="set items aside for good")
    p.add_argument("entry_id", metavar="ENTRY")
    p.add_argument("keys", nargs="+", metavar="KEY")
    p.add_argument("--queue")
    common.add_json(p)
    p.set_defaults(func=items_discard_command)


@contextmanager
def _items(args: argparse.Namespace, *, write: bool) -> Iterator[storage.ItemStore]:
    """The item store of the state store open for the block, once the entry is known."""
    cfg = common.load_config(args)
    with common.writing(cfg) if write else common.reading(cfg) as db:
        items = storage.for_store(db)
        try:
            _check_entry(db, items, args.entry_id)
            yield items
        finally:
            items.close()


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


def items_list_command(args: argparse.Namespace) -> int:
    status = model.ItemStatus(args.status) if args.status else None
    with _items(args, write=False) as items:
        found = ops.listed(
            items, model.Page(entry_id=args.entry_id, queue=args.queue, status=status)
        )
    if args.json:
        common.print_json([item_views.item_json(i) for i in found])
    elif found:
        print(item_views.items_table(found))
    return 0


def items_show_command(args: argparse.Namespace) -> int:
    with _items(args, write=False) as items:
        args.keys = [args.key]
        _keyed(items, args)
        page = model.Page(entry_id=args.entry_id, queue=args.queue, keys=(args.key,))
        found = ops.detail(items, page)
    if args.json:
        shown: Any = [item_views.detail_json(i, f) for i, f in found]
        common.print_json(shown[0] if len(shown) == 1 else shown)
    else:
        print("\n\n".join(item_views.detail_text(i, f) for i, f in found))
    return 0


def _changed(args: argparse.Namespace, what: str, changed: list[model.Item]) -> int:
    if args.json:
        common.print_json([item_views.item_json(i) for i in changed])
    else:
        print(f"{what} {len(changed)} item{'' if len(changed) == 1 else 's'}")
    return 0


def items_retry_command(args: argparse.Namespace) -> int:
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


def items_discard_command(args: argparse.Namespace) -> int:
    with _items(args, write=True) as items:
        _keyed(items, args)
        page = model.Page(entry_id=args.entry_id, queue=args.queue, keys=tuple(args.keys))
        changed = ops.discard(items, page, permissions.current_user(), datetime.now(UTC))
    return _changed(args, "discarded", changed)
