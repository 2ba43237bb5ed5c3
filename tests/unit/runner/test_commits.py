"""The group commit over MemoryStore: what a step does follows its durability, and a
store that cannot be written holds the ends until it can (no file, no sleep)."""

from __future__ import annotations

from jobrunner import model
from jobrunner.runner.commits import GROUP_WINDOW, RETRY_FIRST, GroupCommit, Step
from jobrunner.store import StoreUnwritable
from jobrunner.store.memory import MemoryStore
from jobrunner.testing import job, utc

NOW = utc(2026, 11, 21, 10)


class BrokenStore(MemoryStore):
    """A MemoryStore whose disk can be made full."""

    def __init__(self) -> None:
        super().__init__()
        self.full = False

    def commit(self, transition: model.Transition, *, durable: bool = True) -> list[int]:
        if self.full:
            raise StoreUnwritable("disk full")
        return super().commit(transition, durable=durable)

    def probe(self) -> None:
        if self.full:
            raise StoreUnwritable("disk full")


class Log:
    def __init__(self) -> None:
        self.events: list[str] = []

    def info(self, event: str, **_: object) -> None:
        self.events.append(event)

    error = info


def _put(entry_id: str) -> model.Transition:
    entry = model.Entry(spec=job(id=entry_id), status=model.EntryStatus.ON_HOLD)
    return model.Transition(reason="test", put=(entry,))


def _commits(store: MemoryStore) -> tuple[GroupCommit, Log, list[str]]:
    log = Log()
    return GroupCommit(store, log, lambda: None, lambda: None), log, []


def test_commits_a_durable_step_is_carried_out_once_synced():
    store = MemoryStore()
    commits, _, done = _commits(store)
    commits.commit("pass", [Step(_put("a"), lambda _: done.append("a"))], 100.0)
    assert (done, store.get_entry("a") is not None) == ([], True)  # committed, not durable
    assert commits.flush_in(100.0) == GROUP_WINDOW
    commits.flush(100.0 + GROUP_WINDOW, wait=True)
    assert done == ["a"]
    commits.close()


def test_commits_a_step_not_durable_is_carried_out_at_once():
    commits, _, done = _commits(MemoryStore())
    commits.commit("pass", [Step(_put("a"), lambda _: done.append("a"), durable=False)], 100.0)
    assert (done, commits.unsynced) == (["a"], [])
    commits.close()


def test_commits_an_unwritable_store_holds_ends_drops_starts_and_retries():
    store = BrokenStore()
    commits, log, done = _commits(store)
    store.full = True
    end = Step(_put("end"), lambda _: done.append("end"))
    start = Step(_put("start"), lambda _: done.append("start"), durable=False, replanned=True)
    commits.commit("pass", [end, start], 100.0)
    assert (commits.unwritable, commits.retry_at_mono, commits.held) == (
        True,
        100.0 + RETRY_FIRST,
        [end],
    )
    commits.retry(100.5)  # still full: the delay doubles
    assert commits.retry_at_mono == 100.5 + 2 * RETRY_FIRST
    store.full = False
    commits.retry(101.0)
    assert (commits.unwritable, done, store.get_entry("start")) == (False, ["end"], None)
    assert log.events == ["store_unwritable", "store_unwritable", "store_writable"]
    commits.close()
