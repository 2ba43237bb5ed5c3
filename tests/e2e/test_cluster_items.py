"""Work items across two real runners on one PostgreSQL store: the runner whose session
is inside an item's block is killed with SIGKILL; the other recovers the run, its retry
takes the items left, and every item is done exactly once, its effect recorded once
(the killed block's effect never happened; its attempt is counted)."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys

import pytest

from jobrunner import model
from tests import pgdb
from tests.e2e.cluster_env import Cluster
from tests.e2e.runner_env import ROOT
from tests.entrypoints.items_jobs import GATE_AT, GATED

pytestmark = pytest.mark.postgres
KEYS = [f"k{n:02}" for n in range(GATED)]


@pytest.fixture
def schema():
    with pgdb.schema() as db:
        yield db


def _lines(cluster: Cluster, name: str) -> list[list[str]]:
    path = cluster.marks / f"{name}.marks"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def _items(cluster: Cluster, node: str) -> dict[str, dict]:
    """`jobrunner items gated --json` from a runner's folder (its config names the store)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"}
    env.pop("JOBRUNNER_STORE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "jobrunner", "items", "gated", "--json"],
        cwd=cluster.root / node,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return {i["key"]: i for i in json.loads(proc.stdout)}


def _finished(cluster: Cluster) -> bool:
    db = cluster.store()
    try:
        logs = db.list_log(entry_id="gated")
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
