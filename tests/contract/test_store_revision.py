"""The revisions of the job files in every store: each definition keeps the revision of
the checkout that wrote it, and the store's own revision moves only by compare-and-set,
in the same transaction as the definitions it goes with."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from jobrunner import model
from jobrunner.store import StoreConflict
from jobrunner.store.sqlite import SqliteStore
from tests import pgdb
from tests.contract.test_store import entry, put

C1 = "a" * 40
C2 = "b" * 40


def _move(expected: str | None, to: str) -> model.RevisionMove:
    return model.RevisionMove(expected=expected, to=to)


def _of(e: model.Entry, revision: str | None) -> model.Entry:
    return dataclasses.replace(e, spec=dataclasses.replace(e.spec, revision=revision))


def test_a_new_store_has_no_revision(store):
    assert store.revision() is None


def test_a_definition_keeps_the_revision_of_the_checkout_that_wrote_it(store):
    a, b = put(store, _of(entry("a"), C1), entry("b"))
    assert (a.spec.revision, b.spec.revision) == (C1, None)
    changed = _of(dataclasses.replace(a, spec=dataclasses.replace(a.spec, stamp="s2")), "42")
    store.commit(model.Transition(reason="t", put=(changed,)))
    assert store.get_entry("a").spec.revision == "42"
    assert [e.spec.revision for e in store.list_entries()] == ["42", None]
    assert [e.spec.revision for e in store.entries_by_source(["jobs.d/a.yaml"])] == ["42"]
    running = dataclasses.replace(store.get_entry("a"), attempts=2)  # runtime state only
    store.commit(model.Transition(reason="t", put=(running,)))
    assert store.get_entry("a").spec.revision == "42"


def test_the_store_revision_moves_by_compare_and_set(store):
    store.commit(model.Transition(reason="reconcile", put=(entry("a"),), revision=_move(None, "5")))
    assert store.revision() == "5"
    with pytest.raises(StoreConflict, match="revision"):
        store.commit(
            model.Transition(reason="reconcile", put=(entry("b"),), revision=_move(None, "4"))
        )
    assert store.get_entry("b") is None  # nothing of the transition was written
    assert store.revision() == "5"
    store.commit(model.Transition(reason="reconcile", revision=_move("5", "5")))  # a check only
    store.commit(model.Transition(reason="reconcile", revision=_move("5", C1)))
    assert store.revision() == C1


def test_a_transition_without_a_move_leaves_the_revision_alone(store):
    store.commit(model.Transition(reason="reconcile", revision=_move(None, "5")))
    put(store, entry("a"))
    assert store.revision() == "5"


def test_sources_name_each_files_stamp_entry_and_digest(store):
    a, b = put(store, entry("a"), entry("b", category="CRM"))
    b = put(store, dataclasses.replace(b, spec=dataclasses.replace(b.spec, stamp="s1")))[0]
    assert store.sources() == {
        "jobs.d/a.yaml": ("", "a", a.spec.digest),
        "jobs.d/b.yaml": ("s1", "b", b.spec.digest),
    }
    assert store.sources()["jobs.d/b.yaml"].entry_id == "b"
    store.commit(model.Transition(reason="t", delete=(("a", a.version),)))
    assert store.sources() == {"jobs.d/b.yaml": ("s1", "b", b.spec.digest)}


@contextmanager
def _sqlite_pair(tmp_path) -> Iterator[tuple]:
    path = tmp_path / "state" / "jobrunner.sqlite3"
    yield SqliteStore(path), SqliteStore(path)


@contextmanager
def _postgres_pair(tmp_path) -> Iterator[tuple]:
    from jobrunner.store.postgres import PostgresStore

    with pgdb.schema() as db:
        yield PostgresStore(db.dsn), PostgresStore(db.dsn)


@pytest.mark.parametrize(
    "pair",
    [
        pytest.param(_sqlite_pair, id="sqlite"),
        pytest.param(_postgres_pair, id="postgresql", marks=[pytest.mark.postgres]),
    ],
)
def test_two_checkouts_that_read_the_same_revision_cannot_both_move_it(pair, tmp_path):
    """A newer and an older checkout reconcile at once: both read the store's revision
    C1; the first to commit moves it on, and the other's commit is a conflict (it reads
    again and finds the store newer), whatever its entries' versions say."""
    with pair(tmp_path) as (one, two):
        one.commit(model.Transition(reason="reconcile", revision=_move(None, C1)))
        assert (one.revision(), two.revision()) == (C1, C1)
        one.commit(
            model.Transition(reason="reconcile", put=(entry("new"),), revision=_move(C1, C2))
        )
        with pytest.raises(StoreConflict, match="revision"):
            two.commit(
                model.Transition(reason="reconcile", put=(entry("old"),), revision=_move(C1, C1))
            )
        assert two.revision() == C2
        assert [e.id for e in two.list_entries()] == ["new"]
        one.close()
        two.close()


@pytest.mark.postgres
def test_a_runner_publishes_its_revision_and_what_it_does_not_hold(tmp_path):
    from datetime import timedelta

    with _postgres_pair(tmp_path) as (one, two):
        node = model.Node(runner_id="r1", host="h", pid=1, version="v", state_dir="/s")
        one.register_node(node, timedelta(seconds=3))
        (seen,) = two.nodes()
        assert (seen.revision, seen.unheld) == (None, ())
        one.describe_node("r1", C2, ["b", "a"])
        (seen,) = two.nodes()
        assert (seen.revision, seen.unheld) == (C2, ("a", "b"))
        one.describe_node("r1", C2, [])
        assert two.nodes()[0].unheld == ()
        one.describe_node("gone", C1, ["a"])  # not entered: nothing
        assert [n.runner_id for n in two.nodes()] == ["r1"]
        again = dataclasses.replace(node, revision=C1, unheld=("x",))
        one.leave_node("r1")
        one.register_node(again, timedelta(seconds=3))
        assert (two.nodes()[0].revision, two.nodes()[0].unheld) == (C1, ("x",))
        one.close()
        two.close()


def test_migrate_store_copies_the_revisions(tmp_path):
    from jobrunner import storemove
    from jobrunner.store.memory import MemoryStore

    source, target = SqliteStore(tmp_path / "s.sqlite3"), MemoryStore()
    source.commit(
        model.Transition(reason="reconcile", put=(_of(entry("a"), C1),), revision=_move(None, C1))
    )
    target.commit(storemove.copy_state(source, target))
    assert (target.revision(), target.get_entry("a").spec.revision) == (C1, C1)
    plain = MemoryStore()
    plain.commit(storemove.copy_state(MemoryStore(), plain))
    assert plain.revision() is None
    source.close()
