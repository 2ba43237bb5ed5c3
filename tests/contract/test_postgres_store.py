"""PostgreSQL-only facts: several stores (runners) on one database, the schema version,
the runners' leases on the server's clock, the NOTIFY listener, the connection string."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import timedelta

import psycopg
import pytest

from jobrunner import cluster, config, lifecycle, model, scheduler
from jobrunner.store import SharedStore, StoreConflict, StoreUnwritable
from jobrunner.store import open as store_open
from jobrunner.store.postgres import IDLE_LIMIT, PostgresStore, StoreUnreachable, describe
from jobrunner.store.sql import migrations
from jobrunner.testing import utc
from tests import pgdb
from tests.contract.test_store import entry

pytestmark = pytest.mark.postgres
NOW = utc(2026, 3, 2, 9)
S = model.EntryStatus


@pytest.fixture
def db():
    with pgdb.schema() as schema:
        yield schema


@pytest.fixture
def pair(db):
    """Two stores on one database, as two runners have them."""
    first, second = PostgresStore(db.dsn), PostgresStore(db.dsn)
    yield first, second
    first.close()
    second.close()


def _started(e: model.Entry, runner: str) -> model.Transition:
    running, log = scheduler.started(
        e, session_id=f"s-{runner}", runner_id=runner, now=NOW, user="u"
    )
    return model.Transition(reason="run_started", put=(running,), log_insert=(log,))


def test_is_a_shared_store(pair):
    assert isinstance(pair[0], SharedStore)


def test_a_second_runners_start_of_the_same_run_is_a_conflict(pair):
    first, second = pair
    first.commit(model.Transition(reason="t", put=(entry("a", at=NOW),)))
    seen_by_one, seen_by_two = first.get_entry("a"), second.get_entry("a")
    first.commit(_started(seen_by_one, "one"))
    with pytest.raises(StoreConflict):
        second.commit(_started(seen_by_two, "two"))
    assert first.get_entry("a").runner_id == "one"
    assert len(first.list_log(entry_id="a")) == 1  # the loser wrote nothing


def test_two_entries_of_one_category_never_run_at_once_across_runners(pair):
    """Each start is a compare-and-set of its own entry, so both would pass (write
    skew); the store itself refuses the second."""
    first, second = pair
    first.commit(
        model.Transition(
            reason="t",
            put=(
                entry("a", category="posting", at=NOW),
                entry("b", category="posting", at=NOW),
            ),
        )
    )
    first.commit(_started(first.get_entry("a"), "one"))
    with pytest.raises(StoreConflict, match="category"):
        second.commit(_started(second.get_entry("b"), "two"))
    assert second.running_categories() == {"posting": "a"}
    assert second.get_entry("b").status is S.READY


def test_the_schema_version_is_recorded_and_a_newer_one_refused(db):
    store = PostgresStore(db.dsn)
    assert store.schema_version == migrations.LATEST
    store.close()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute("UPDATE jobrunner_schema SET version = %s", (migrations.LATEST + 1,))
    with pytest.raises(migrations.NewerStateFile, match="Upgrade jobrunner"):
        PostgresStore(db.dsn)


def test_runners_starting_together_migrate_once(db):
    made: list[PostgresStore] = []
    failed: list[BaseException] = []

    def open_one() -> None:
        try:
            made.append(PostgresStore(db.dsn))
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == []
    assert {s.schema_version for s in made} == {migrations.LATEST}
    for s in made:
        s.close()


def test_reading_never_makes_the_schema(db):
    store = PostgresStore(db.dsn, create=False)
    assert store.exists is False
    store.close()


def test_where_shows_host_and_database_never_the_password():
    shown = describe("postgresql://jr:s3cret@db.example:6543/queue?sslmode=require")
    assert shown == "postgresql://jr@db.example:6543/queue"
    assert "s3cret" not in describe("host=h dbname=d password=s3cret")


def test_a_server_not_reachable_at_open_names_the_host():
    with pytest.raises(StoreUnreachable, match=r"127\.0\.0\.1:1/test") as caught:
        PostgresStore("postgresql://u:pw@127.0.0.1:1/test")
    assert "pw" not in str(caught.value).replace("port", "")
    assert "\n" not in str(caught.value)


def test_a_dropped_connection_is_opened_again(db):
    store = PostgresStore(db.dsn)
    store.commit(model.Transition(reason="t", put=(entry("a"),)))
    assert pgdb.terminate(db.name) >= 1
    assert store.get_entry("a") is not None  # a read: opened again at once
    pgdb.terminate(db.name)
    with pytest.raises(StoreUnwritable):  # a write: refused, to be retried by the runner
        store.commit(model.Transition(reason="t", put=(entry("b"),)))
    store.commit(model.Transition(reason="t", put=(entry("b"),)))  # the retry
    assert [e.id for e in store.list_entries()] == ["a", "b"]
    store.close()


@pytest.mark.parametrize("batch", [None, 0, 1, 40], ids=["statement", "empty", "small", "large"])
def test_a_commit_left_halfway_frees_its_rows_before_a_lease_can_lapse(pair, batch):
    """A runner frozen (or cut off) between two statements of a commit, the last one a
    statement or a batch: the server ends that transaction after IDLE_LIMIT, so the
    others wait for its row locks no longer than its lease takes to lapse (not the lock
    timeout, not a minute); when it comes back its commit is StoreUnwritable (to be
    retried) and its store works again."""
    first, second = pair
    assert cluster.LEASE.total_seconds() - cluster.RENEW >= IDLE_LIMIT
    first.commit(model.Transition(reason="t", put=(entry("a", at=NOW),)))
    seen = second.get_entry("a")
    locked, resume = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def frozen() -> None:
        try:
            with first._transaction() as db:
                db.execute("UPDATE entries SET version = version WHERE id = 'a'")
                if batch is not None:
                    db.executemany("SELECT %s", [(n,) for n in range(batch)])
                locked.set()
                resume.wait(30)
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=frozen)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        second.commit(_started(seen, "two"))  # waits for the row, then gets it
        waited = time.monotonic() - started
    finally:
        resume.set()
        thread.join(10)
    assert waited < IDLE_LIMIT + 1.0, f"waited {waited:.2f} s"
    assert [type(exc) for exc in failed] == [StoreUnwritable], failed
    assert first.get_entry("a").runner_id == "two"


def test_a_durable_false_commit_is_made_durable_by_sync(db):
    store = PostgresStore(db.dsn)
    store.commit(model.Transition(reason="t", put=(entry("a"),)), durable=False)
    store.sync()
    assert store._unsynced is False
    store.close()


def _node(runner_id: str, state_dir: str = "/s") -> model.Node:
    return model.Node(runner_id=runner_id, host="h", pid=1, version="0", state_dir=state_dir)


def test_leases_are_kept_by_renewal_and_lapse_without_it(pair):
    first, second = pair
    assert first.register_node(_node("one"), timedelta(seconds=30)) == []
    second.register_node(_node("two", "/t"), timedelta(milliseconds=200))
    second.register_node(_node("three", "/u"), timedelta(milliseconds=200))
    assert {n.runner_id: n.alive for n in first.nodes()} == dict.fromkeys(
        ["one", "two", "three"], True
    )
    time.sleep(0.3)
    alive = {n.runner_id: n.alive for n in first.nodes()}
    assert alive == {"one": True, "two": False, "three": False}
    # lapsed, not claimed yet: a renewal brings it back (a store outage, say)
    assert second.renew_node("three", timedelta(seconds=30)) is True
    assert first.claim_dead("one") == {"two"}
    assert second.claim_dead("three") == set()  # each dead runner has one claimer
    assert second.renew_node("two", timedelta(seconds=30)) is False  # claimed: fenced out
    assert [n.runner_id for n in first.nodes()] == ["one", "three"]
    first.leave_node("one")
    assert [n.runner_id for n in first.nodes()] == ["three"]


def test_runners_with_runs_but_no_row_are_orphan_owners(pair):
    first, _ = pair
    first.commit(model.Transition(reason="t", put=(entry("a", at=NOW),)))
    first.commit(_started(first.get_entry("a"), "ghost"))
    first.register_node(_node("one"), timedelta(seconds=30))
    assert first.orphan_owners() == {"ghost"}


def test_a_runner_entering_again_in_its_folder_ends_its_earlier_lease(pair):
    first, _ = pair
    first.register_node(_node("before"), timedelta(seconds=30))
    assert first.register_node(_node("after"), timedelta(seconds=30)) == ["before"]
    assert {n.runner_id: n.alive for n in first.nodes()} == {"before": False, "after": True}


def test_open_sessions_of_runners(pair):
    first, _ = pair
    events = tuple(
        model.SessionEvent(session_id=s, event=ev, at=NOW, runner_id=r)
        for s, ev, r in [
            ("x", "logon", "dead"),
            ("y", "logon", "dead"),
            ("y", "logoff", "dead"),
            ("z", "logon", "live"),
        ]
    )
    first.commit(model.Transition(reason="t", events=events))
    assert [e.session_id for e in first.open_sessions(["dead"])] == ["x"]


def test_the_listener_wakes_on_another_stores_commit_and_after_reconnecting(pair, db):
    first, second = pair
    woken, lost = threading.Event(), []
    first.watch(woken.set, lost.append)
    assert woken.wait(5)  # its first connect: catch up
    woken.clear()
    first.commit(model.Transition(reason="t", put=(entry("own"),)))
    assert not woken.wait(0.5)  # not for its own commits
    second.commit(model.Transition(reason="t", put=(entry("other"),)))
    assert woken.wait(5)
    woken.clear()
    pgdb.terminate(db.name)
    assert woken.wait(10)  # reconnected and caught up
    assert lost


def test_a_store_with_a_listener_closes_at_once(pair):
    """Its listener ends its wait for notifications when told to (a runner's stop does
    not wait for the wait's one-second timeout)."""
    first, _ = pair
    woken = threading.Event()
    first.watch(woken.set, lambda error: None)
    assert woken.wait(5)  # listening (its first wait has just begun)
    started = time.monotonic()
    first.close()
    assert time.monotonic() - started < 0.3


def test_the_config_or_the_environment_names_the_store(tmp_path, monkeypatch, db):
    (tmp_path / "jobrunner.yaml").write_text(f"store: {db.dsn!r}\n")
    monkeypatch.delenv(config.STORE_ENV, raising=False)
    cfg = config.load(tmp_path / "jobrunner.yaml")
    assert cfg.store == db.dsn
    assert store_open.has_state(cfg) is False  # nothing made by looking
    made = store_open.open_store(cfg)
    assert isinstance(made, PostgresStore)
    made.close()
    assert store_open.has_state(cfg) is True
    monkeypatch.setenv(config.STORE_ENV, "postgresql://elsewhere/x")
    assert config.load(tmp_path / "jobrunner.yaml").store == "postgresql://elsewhere/x"


def test_a_store_that_is_not_a_connection_string_is_refused(tmp_path):
    (tmp_path / "jobrunner.yaml").write_text("store: /var/lib/x.sqlite3\n")
    with pytest.raises(Exception, match="PostgreSQL connection string"):
        config.load(tmp_path / "jobrunner.yaml")


def test_an_entry_s_task_follows_it_in_every_store(pair):
    first, second = pair
    first.commit(model.Transition(reason="t", put=(entry("a", at=NOW),)))
    task = second.get_task(lifecycle.system_task_id("a"))
    assert task is not None
    assert task.entry_id == "a"
    stored = first.get_entry("a")
    held = dataclasses.replace(stored, status=S.ON_HOLD)
    first.commit(model.Transition(reason="t", put=(held,)))
    assert second.get_task(lifecycle.system_task_id("a")) is None
