"""Work items across two real runners on one PostgreSQL store: the runner whose session
is inside an item's block is killed with SIGKILL, or frozen (SIGSTOP) while its session
goes on; the other recovers the run, its retry takes the items left, and every item is
done exactly once, its effect recorded once (a killed block's effect never happened;
its attempt is counted); a frozen runner's session is fenced out of the items."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys

import pytest

from jobrunner import model
from tests import pgdb
from tests.e2e.cluster_env import Cluster
from tests.e2e.runner_env import ROOT, written_lines
from tests.entrypoints.items_jobs import GATE_AT, GATED

pytestmark = [pytest.mark.postgres, pytest.mark.alone]  # leases of 3 s: see tests/alone.py
KEYS = [f"k{n:02}" for n in range(GATED)]


@pytest.fixture
def schema():
    with pgdb.schema() as db:
        yield db


def _lines(cluster: Cluster, name: str) -> list[list[str]]:
    path = cluster.marks / f"{name}.marks"
    return [line.split() for line in written_lines(path)]


def _items(cluster: Cluster, node: str, entry_id: str = "gated") -> dict[str, dict]:
    """`jobrunner items ENTRY --json` from a runner's folder (its config names the store)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"}
    env.pop("JOBRUNNER_STORE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "jobrunner", "items", entry_id, "--json"],
        cwd=cluster.root / node,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return {i["key"]: i for i in json.loads(proc.stdout)}


def _finished(cluster: Cluster, entry_id: str = "gated") -> bool:
    db = cluster.store()
    try:
        logs = db.list_log(entry_id=entry_id)
    finally:
        db.close()
    return any(g.status is model.LogStatus.SUCCESS for g in logs)


def test_a_killed_runners_items_are_done_once_by_the_other(tmp_path, schema):
    cluster = Cluster(tmp_path, schema, 2)
    cluster.job("gated", "object_id: tests.entrypoints.items_jobs:gated_items\n")
    cluster.start_all()
    try:
        cluster.wait_for(
            lambda: any(key == GATE_AT for key, *_ in _lines(cluster, "begin")), 30, "the gate"
        )
        (first,) = {runner for _, _, runner, _ in _lines(cluster, "begin")}
        (survivor,) = set(cluster.names) - {first}
        cluster.kill(first)  # its session dies with it, inside GATE_AT's block
        (cluster.marks / "gate").touch()
        cluster.wait_for(lambda: _finished(cluster), 25, "the retry on the other runner")
        items = _items(cluster, survivor)
    finally:
        cluster.stop_all()
    effects = _lines(cluster, "effects")
    assert collections.Counter(key for key, *_ in effects) == collections.Counter(KEYS)
    by_runner = {key: runner for key, _, runner in effects}
    gate = KEYS.index(GATE_AT)
    assert [by_runner[k] for k in KEYS] == [first] * gate + [survivor] * (GATED - gate)
    assert {k: i["status"] for k, i in items.items()} == dict.fromkeys(KEYS, "done")
    attempts = {k: i["attempts"] for k, i in items.items()}
    assert attempts == {**dict.fromkeys(KEYS, 1), GATE_AT: 2}  # the killed block's counted
    begun = collections.Counter(key for key, *_ in _lines(cluster, "begin"))
    assert begun == {**collections.Counter(KEYS), GATE_AT: 2}
    events = cluster.events(survivor)
    assert "runners_dead" in [e["event"] for e in events]
    assert "items_store_failed" not in [e["event"] for e in events]
    released = [(e["key"], e["attempt"]) for e in events if e["event"] == "item_failed"]
    assert released == [(GATE_AT, 1)]  # released by the recovery, with its attempt


def test_a_frozen_runners_session_is_fenced_out_of_the_items(tmp_path, schema):
    """SIGSTOP of the runner (not of its session, which goes on) while its session is
    between two chunks of items: the other runner recovers the run, and its retry takes
    the next chunk; when the old session claims again, the fence refuses it (its run is
    no longer the one in process), so it takes no item the new run could have taken,
    and every item is done once."""
    cluster = Cluster(tmp_path, schema, 2)
    cluster.job("chunked", "object_id: tests.entrypoints.items_jobs:chunked_items\n")
    cluster.start_all()
    try:
        cluster.wait_for(lambda: _lines(cluster, "between"), 30, "the first chunk")
        ((old, first),) = _lines(cluster, "between")
        (survivor,) = set(cluster.names) - {first}
        frozen = cluster.procs[first]
        frozen.send_signal(signal.SIGSTOP)
        try:
            cluster.wait_for(
                lambda: len(_lines(cluster, "between")) == 2, 20, "the retry's first chunk"
            )
            (cluster.marks / "gate").touch()  # both sessions claim again
            cluster.wait_for(lambda: _finished(cluster, "chunked"), 20, "the retry's end")
        finally:
            frozen.send_signal(signal.SIGCONT)
        items = _items(cluster, survivor, "chunked")
    finally:
        cluster.stop_all()
    effects = _lines(cluster, "effects")
    assert collections.Counter(key for key, *_ in effects) == collections.Counter(KEYS)
    assert [key for key, session, _ in effects if session == old] == KEYS[:3]  # no more
    assert {k: i["status"] for k, i in items.items()} == dict.fromkeys(KEYS, "done")
    assert "run_fenced" in [e["event"] for e in cluster.events(first)]
