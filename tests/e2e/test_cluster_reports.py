"""Report documents with several real runners on one PostgreSQL store: the runner that
ran a report keeps its document in the store, and `jobrunner output` from another
runner's folder (another state folder, no document file in it) prints it; `log --json`
there names it; the document goes with its log entry (`prune-log`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jobrunner import model
from tests import pgdb
from tests.e2e.cluster_env import Cluster
from tests.e2e.runner_env import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.alone]  # leases of 3 s: see tests/alone.py


@pytest.fixture
def schema():
    with pgdb.schema() as db:
        yield db


def _cli(cluster: Cluster, node: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"}
    env.pop("JOBRUNNER_STORE", None)
    return subprocess.run(
        [sys.executable, "-m", "jobrunner", *args],
        cwd=cluster.root / node,
        env=env,
        capture_output=True,
        timeout=60,
    )


def _kept(cluster: Cluster) -> model.LogEntry | None:
    db = cluster.store()
    try:
        if not db.exists:  # the runner has not made the schema yet
            return None
        done = [g for g in db.list_log(entry_id="sales") if g.status is model.LogStatus.SUCCESS]
    finally:
        db.close()
    return done[0] if done else None


def test_a_document_kept_by_one_runner_is_read_from_another_runners_folder(tmp_path, schema):
    cluster = Cluster(tmp_path, schema, 2)
    cluster.job("sales", "object_type: report\nobject_id: tests.entrypoints.reports:sales\n")
    cluster.start("node0")  # the one runner that can run it
    try:
        cluster.wait_for(lambda: _kept(cluster) is not None, 30, "the report's run")
    finally:
        cluster.stop_all()
    log = _kept(cluster)
    assert log is not None
    assert not (cluster.root / "node1" / ".jobrunner").exists()  # no runner ever ran there
    shown = _cli(cluster, "node1", "output", str(log.entry_no))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.decode().splitlines()[0] == "region,orders,amount,closed,day"
    (row,) = [json.loads(x) for x in _cli(cluster, "node1", "log", "--json").stdout.splitlines()]
    assert row["report_output"] == {
        "file": f"sales_{log.entry_no}_{log.start_at:%Y%m%dT%H%M%SZ}.csv",
        "format": "csv",
        "bytes": len(shown.stdout),
    }
    assert not list((cluster.root / "node0" / ".jobrunner" / "reports").glob("*"))  # in the store
    pruned = _cli(cluster, "node1", "prune-log", "--older-than", "0s")
    assert pruned.returncode == 0, pruned.stderr
    gone = _cli(cluster, "node1", "output", str(log.entry_no))
    assert (gone.returncode, gone.stderr.decode().strip()) == (
        2,
        f"jobrunner: no log entry number {log.entry_no}",
    )
