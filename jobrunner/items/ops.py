"""Every work-item operation, written once over an ItemStore's transaction: reads, asks
`core` what the items become, writes the answer in the same transaction.

The caller gives `now` (the session's or the runner's clock); nothing here reads one.
A session's writes name its `owner` (the run it works for): each is refused with
`Fenced`, writing nothing, once that run is no longer the one in process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from jobrunner.items import core, model
from jobrunner.items.model import Item, ItemStatus
from jobrunner.items.storage import ItemStore, ItemTx


def _queue(tx: ItemTx, entry_id: str, name: str) -> model.Queue:
    return tx.get_queue(entry_id, name) or model.Queue(entry_id=entry_id, name=name)


def _fenced(tx: ItemTx, owner: model.Owner | None) -> None:
    if owner is not None and not tx.owns(owner):
        raise model.Fenced(
            f"{owner}: its run is no longer in process here (another runner recovered it); "
            "its work items are left to the run that has them now"
        )


def open_queue(
    st: ItemStore,
    queue: model.Queue,
    session_id: str | None,
    *,
    owner: model.Owner | None = None,
) -> None:
    """Keep the queue's settings; a session that opens it gets its count (done, failed,
    and at its end, left)."""
    with st.transaction() as tx:
        _fenced(tx, owner)
        tx.put_queue(queue)
        if session_id and tx.get_count(session_id, queue.entry_id, queue.name) is None:
            tx.put_count(
                model.RunCount(session_id=session_id, entry_id=queue.entry_id, queue=queue.name)
            )


def add(
    st: ItemStore,
    queue: model.Queue,
    staged: Sequence[tuple[str, str]],
    now: datetime,
    *,
    update: bool = False,
    owner: model.Owner | None = None,
) -> int:
    """Stage (key, payload JSON text) pairs in one transaction; how many items were
    added or (with `update`) changed. A key already staged adds nothing."""
    written = 0
    with st.transaction() as tx:
        _fenced(tx, owner)
        for key, payload in staged:
            old = tx.get(queue.entry_id, queue.name, key)
            new = core.staged(old, queue, key, payload, now, update=update)
            if new is not None:
                tx.put(new, was=old)
                written += 1
    return written


def claim(
    st: ItemStore,
    queue: model.Queue,
    session_id: str,
    limit: int,
    now: datetime,
    *,
    owner: model.Owner | None = None,
) -> list[Item]:
    """Up to `limit` pending items of the queue, oldest first, now held by `session_id`."""
    with st.transaction() as tx:
        _fenced(tx, owner)
        found = tx.pending(queue.entry_id, queue.name, limit, session_id)
        return [tx.put(core.claimed(i, session_id, now), was=i) for i in found]


def start(
    st: ItemStore, item: Item, session_id: str, now: datetime, *, owner: model.Owner | None = None
) -> Item:
    """The item's block begins: its attempt counted (not durable by itself: a power loss
    may take it, and the attempt then goes uncounted; a kill -9 does not)."""
    with st.transaction(durable=False) as tx:
        _fenced(tx, owner)
        stored = tx.get_number(item.number)
        if stored is None:
            raise model.ItemNotHeld(f"item {item.key!r} of queue {item.queue!r} is gone")
        return tx.put(core.started(stored, session_id, now), was=stored)


def _count(tx: ItemTx, session_id: str, item: Item, *, done: int = 0, failed: int = 0) -> None:
    count = tx.get_count(session_id, item.entry_id, item.queue) or model.RunCount(
        session_id=session_id, entry_id=item.entry_id, queue=item.queue
    )
    tx.put_count(core.counted(count, done=done, failed=failed))


def finish(
    st: ItemStore,
    item: Item,
    session_id: str,
    notes: str,
    now: datetime,
    *,
    owner: model.Owner | None = None,
) -> Item:
    """The item done (its block returned); ItemNotHeld when its session lost it (Fenced:
    its run was recovered elsewhere)."""
    with st.transaction() as tx:
        _fenced(tx, owner)
        stored = tx.get_number(item.number)
        if stored is None:
            raise model.ItemNotHeld(f"item {item.key!r} of queue {item.queue!r} is gone")
        done = tx.put(core.finished(stored, session_id, notes, now), was=stored)
        _count(tx, session_id, done, done=1)
    return done


def fail(
    st: ItemStore,
    item: Item,
    session_id: str,
    error: tuple[str, str],
    notes: str,
    now: datetime,
    *,
    owner: model.Owner | None = None,
) -> tuple[Item, model.Failure]:
    """The item after its block raised `error` (message, call stack): pending again, or
    failed after its queue's max_attempts."""
    with st.transaction() as tx:
        _fenced(tx, owner)
        stored = tx.get_number(item.number)
        if stored is None:
            raise model.ItemNotHeld(f"item {item.key!r} of queue {item.queue!r} is gone")
        attempts = _queue(tx, item.entry_id, item.queue).max_attempts
        after, failure = core.failed(stored, session_id, *error, attempts, now, notes=notes)
        tx.put(after, was=stored)
        tx.add_failure(failure)
        _count(tx, session_id, after, failed=1)
    return after, failure


@dataclass(frozen=True, kw_only=True, slots=True)
class Ended:
    """What ended sessions did: their failures (the released items' too) and counts."""

    failures: tuple[model.Failure, ...] = ()
    counts: tuple[model.RunCount, ...] = ()


def end_sessions(st: ItemStore, session_ids: Iterable[str], now: datetime) -> Ended:
    """Sessions that ended (or died): their items in process go back to pending with
    the attempt counted (failed after the last), and their counts get what is left."""
    ids = sorted(set(session_ids))
    if not ids or not st.in_use(ids):  # most sessions use no items: no write for them
        return Ended()
    with st.transaction() as tx:
        for item in tx.held_by(ids):
            attempts = _queue(tx, item.entry_id, item.queue).max_attempts
            after, failure = core.released(item, attempts, now)
            tx.put(after, was=item)
            if failure is not None:
                tx.add_failure(failure)
                _count(tx, failure.session_id, after, failed=1)
        counts = []
        for c in tx.counts(ids):
            if c.ended_at is None:
                left = tx.count_pending(c.entry_id, c.queue)
                c = dataclasses.replace(c, left=left, ended_at=now)
                tx.put_count(c)
                counts.append(c)
        failures = tx.failures(session_ids=ids)
    return Ended(failures=tuple(failures), counts=tuple(counts))


def held_sessions(st: ItemStore) -> set[str]:
    """The sessions that hold items in process."""
    with st.reading() as tx:
        return tx.held_sessions()


def retry(st: ItemStore, page: model.Page, now: datetime) -> list[Item]:
    """Failed items of `page` pending again (attempts from 0); the items changed."""
    with st.transaction() as tx:
        changed = [core.retried(i, now) for i in tx.items(page)]
        return [tx.put(i) for i in changed if i is not None]


def discard(st: ItemStore, page: model.Page, by: str, now: datetime) -> list[Item]:
    """Items of `page` set aside for good by `by` (not those in process)."""
    with st.transaction() as tx:
        changed = [core.discarded(i, by, now) for i in tx.items(page)]
        return [tx.put(i) for i in changed if i is not None]


def prune(st: ItemStore, now: datetime) -> tuple[int, datetime | None]:
    """Delete done items past their queue's retention (and ended sessions' counts past
    the longest retention); how many items went and when the next ones are due."""
    removed = 0
    with st.transaction() as tx:
        queues = {(q.entry_id, q.name): q for q in tx.queues()}
        for entry_id, name, _ in tx.oldest_done():
            q = queues.get((entry_id, name)) or model.Queue(entry_id=entry_id, name=name)
            removed += tx.delete_done(entry_id, name, core.prune_before(q, now))
        longest = max((q.done_retention for q in queues.values()), default=None)
        if longest is not None:
            tx.delete_counts(now - longest)
        oldest = [
            (queues.get((e, n)) or model.Queue(entry_id=e, name=n), at)
            for e, n, at in tx.oldest_done()
        ]
    return removed, core.next_prune(oldest)


def listed(st: ItemStore, page: model.Page) -> list[Item]:
    """The items of `page`."""
    with st.reading() as tx:
        return tx.items(page)


def detail(st: ItemStore, page: model.Page) -> list[tuple[Item, list[model.Failure]]]:
    """The items of `page`, each with its failures."""
    with st.reading() as tx:
        return [(i, tx.failures(item=(i.entry_id, i.queue, i.key))) for i in tx.items(page)]


def status_counts(
    st: ItemStore, entry_ids: Iterable[str] | None = None
) -> dict[str, dict[str, int]]:
    """entry id -> status value -> how many items."""
    counts: dict[str, dict[str, int]] = {}
    with st.reading() as tx:
        for (entry_id, status), n in tx.status_counts(entry_ids).items():
            counts.setdefault(entry_id, {})[status] = n
    return counts


def run_counts(st: ItemStore, session_ids: Iterable[str]) -> dict[str, list[model.RunCount]]:
    """session id -> its counts, one per queue it opened."""
    found: dict[str, list[model.RunCount]] = {}
    with st.reading() as tx:
        for c in tx.counts(session_ids):
            found.setdefault(c.session_id, []).append(c)
    return found


PENDING, FAILED = ItemStatus.PENDING.value, ItemStatus.FAILED.value
