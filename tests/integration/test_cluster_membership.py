"""A runner's membership of a cluster over a real PostgreSQL store: its lease, the
runners it claims as dead (only once its own renewals are steady), fencing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from jobrunner import cluster, model
from jobrunner.store.postgres import PostgresStore
from tests import pgdb

pytestmark = pytest.mark.postgres


@pytest.fixture
def store():
    with pgdb.schema() as db:
        s = PostgresStore(db.dsn)
        yield s
        s.close()


def _member(store, runner_id: str, state_dir: str = "/s") -> cluster.Membership:
    return cluster.Membership(store, runner_id, state_dir)


def test_a_runner_claims_the_dead_only_once_its_own_lease_is_steady(store, monkeypatch):
    monkeypatch.setattr(cluster, "LEASE", timedelta(milliseconds=300))
    monkeypatch.setattr(cluster, "RENEW", 0.05)
    gone = model.Node(runner_id="gone", host="h2", pid=1, version="0", state_dir="/g")
    store.register_node(gone, timedelta(milliseconds=100))
    member = _member(store, "me")
    member.join()
    try:
        time.sleep(0.15)  # "gone" has lapsed, but "me" has renewed for less than a lease
        assert member.dead() == set()
        time.sleep(0.3)
        assert member.dead() == {"gone"}
        assert member.dead() == set()  # claimed once
        assert not member.fenced()
    finally:
        member.leave()
    assert store.nodes() == []


def test_a_runner_whose_row_was_claimed_is_fenced_and_enters_again(store, monkeypatch):
    monkeypatch.setattr(cluster, "LEASE", timedelta(milliseconds=200))
    monkeypatch.setattr(cluster, "RENEW", 0.05)
    member = _member(store, "me")
    member.join()
    try:
        store.leave_node("me")  # as a claimer does with a runner it took for dead
        deadline = time.monotonic() + 5
        while not member.fenced():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not member.may_start(time.monotonic())
        member.rejoin()
        assert member.may_start(time.monotonic())
        assert not member.fenced()
        assert [n.runner_id for n in store.nodes()] == ["me"]
    finally:
        member.leave()


def test_starting_again_in_a_folder_recovers_the_runner_before_it(store):
    first = _member(store, "before")
    first.join()
    first._stop.set()  # it dies: no more renewals, no leave
    again = _member(store, "after")
    again.join()
    try:
        assert again.before == {"before"}
        assert again.dead(starting=True) == {"before"}
    finally:
        again.leave()


def test_orphaned_entries_are_those_of_dead_runners():
    def e(i: str, runner: str | None, status=model.EntryStatus.IN_PROCESS) -> model.Entry:
        spec = model.JobSpec(id=i, object_id=1)
        return model.Entry(spec=spec, status=status, runner_id=runner)

    entries = [e("a", "dead"), e("b", "live"), e("c", "dead", model.EntryStatus.READY)]
    assert [x.id for x in cluster.orphaned(entries, {"dead"})] == ["a"]


def test_the_runners_clock_is_the_store_servers(store):
    clock = cluster.ServerClock(store)
    assert abs((clock.now() - store.server_now()).total_seconds()) < 0.5


class _SkewedServer:
    """A server whose clock is an hour ahead of this host's (the real one here is not)."""

    def server_now(self):
        return datetime.now(UTC) + timedelta(hours=1)


def test_a_server_clock_ahead_of_the_host_is_followed():
    clock = cluster.ServerClock(_SkewedServer())
    ahead = (clock.now() - datetime.now(UTC)).total_seconds()
    assert 3599 < ahead < 3601
    assert clock.now().tzinfo is UTC
