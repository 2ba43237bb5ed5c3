"""What the pages and the API ask of the store: a page of entries by search and
filters, categories with who runs and who waits, log and session pages. Only the Store
protocol's verbs (through `source.Source` for what it keeps between changes); the
shapes are the CLI's (`views`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from jobrunner import model, store
from jobrunner.views import items, shapes
from jobrunner.views import queries as views_queries
from jobrunner.web import source

MAX_PAGE = 500
SESSIONS_SCANNED = 5000  # an entry's sessions are looked for among the newest events


T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    offset: int
    limit: int
    total: int | None  # None: not counted (a log page knows only whether more follow)
    more: bool


def entries(
    src: source.Source,
    *,
    q: str = "",
    status: model.EntryStatus | None = None,
    category: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[model.Entry]:
    """The entries of `status` and `category` matching `q` (in the id, description,
    category or file, any case). Without `q` only the page's entries are built (the
    total is counted from `Source.states`); a search looks through every entry."""
    if q:
        return searched(
            src.entries(), q=q, status=status, category=category, offset=offset, limit=limit
        )
    total = sum(
        1
        for e in src.states()
        if (status is None or e.status is status) and (category is None or e.category == category)
    )
    rows = src.reader().list_entries(status=status, category=category, offset=offset, limit=limit)
    return Page(rows=rows, offset=offset, limit=limit, total=total, more=offset + limit < total)


def searched(
    every: Sequence[model.Entry],
    *,
    q: str = "",
    status: model.EntryStatus | None = None,
    category: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[model.Entry]:
    """Of `every` entry, those of `status` and `category` matching `q` (as `entries`)."""
    needle = q.casefold()
    found = [
        e
        for e in every
        if (status is None or e.status is status)
        and (category is None or e.spec.category == category)
        and (not needle or needle in _haystack(e))
    ]
    rows = found[offset : offset + limit]
    return Page(
        rows=rows,
        offset=offset,
        limit=limit,
        total=len(found),
        more=offset + limit < len(found),
    )


def _haystack(e: model.Entry) -> str:
    spec = e.spec
    return f"{spec.id}\n{spec.description}\n{spec.category or ''}\n{spec.source}".casefold()


def log(
    db: store.Store,
    *,
    entry_id: str | None = None,
    status: model.LogStatus | None = None,
    since: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[model.LogEntry]:
    found = db.list_log(entry_id=entry_id, status=status, since=since, limit=offset + limit + 1)
    rows = found[offset : offset + limit]
    return Page(rows=rows, offset=offset, limit=limit, total=None, more=len(found) > offset + limit)


def sessions(
    db: store.Store,
    *,
    since: datetime | None = None,
    entry_id: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[model.SessionEvent]:
    if entry_id is None:
        found = db.list_sessions(since=since, limit=offset + limit + 1)
    else:
        scanned = db.list_sessions(since=since, limit=max(SESSIONS_SCANNED, offset + limit + 1))
        found = [e for e in scanned if e.entry_id == entry_id]
    rows = found[offset : offset + limit]
    return Page(rows=rows, offset=offset, limit=limit, total=None, more=len(found) > offset + limit)


def categories(db: store.Store, every: Sequence[model.Entry]) -> list[dict[str, Any]]:
    """Each category: whether it is paused, the entries in process (at most one runs at
    a time) and those waiting, in the order they will run."""
    paused = {p.category: p for p in db.pauses()}
    by_category: dict[str, list[model.Entry]] = {}
    for e in every:
        if e.spec.category:
            by_category.setdefault(e.spec.category, []).append(e)
    out = []
    for name, members in sorted(by_category.items()):
        pause = paused.get(name)
        out.append(
            {
                "category": name,
                "entries": len(members),
                "paused": None if pause is None else shapes.pause_json(pause),
                "in_process": [e.id for e in members if e.status is model.EntryStatus.IN_PROCESS],
                "waiting": [e.id for e in db.waiting_entries(name)],
            }
        )
    return out


def show(db: store.Store, entry: model.Entry, log_limit: int = 5) -> dict[str, Any]:
    """`jobrunner show --json`: the entry, its next runs and its last log entries (and
    its work items' counts, what those runs did with work items)."""
    logs = db.list_log(entry_id=entry.id, limit=log_limit)
    counts = views_queries.item_counts(db, [entry.id])
    return items.show_with_items(
        shapes.show_json(entry, logs), counts, views_queries.item_runs(db, logs)
    )


def counts(found: Sequence[model.Entry] | Sequence[store.EntryState]) -> dict[str, int]:
    out = {s.value: 0 for s in model.EntryStatus}
    for e in found:
        out[e.status.value] += 1
    return out
