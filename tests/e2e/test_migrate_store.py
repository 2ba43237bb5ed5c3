"""`jobrunner migrate-store`: a single runner's SQLite state moves into PostgreSQL, and a
runner on the shared store carries on from it (a run left in process is recovered)."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import psycopg
import pytest

from jobrunner import model
from jobrunner.store.postgres import PostgresStore
from tests import pgdb
from tests.e2e.runner_env import Env, events

pytestmark = pytest.mark.postgres
J = "tests.entrypoints.jobs"
S = model.EntryStatus


def test_a_sqlite_state_moves_into_postgresql_and_a_cluster_carries_on(tmp_path):
    env = Env(tmp_path)
    env.job("done", f"object_id: {J}:ok\n")
    env.job("long", f"object_id: {J}:slow\nparameter_string: '60'\n")
    proc = env.start()
    try:
        env.wait_for_mark("long", "slow")
        env.wait_for_mark("done", "ok")
        time.sleep(0.5)  # the ends and logons committed
        proc.send_signal(signal.SIGKILL)  # it dies with "long" in process
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
    before = env.store()
    try:
        entries = {e.id: e.status for e in before.list_entries()}
        logs, sessions = len(before.list_log()), len(before.list_sessions())
    finally:
        before.close()
    assert entries == {"done": S.FINISHED, "long": S.IN_PROCESS}
    with pgdb.schema() as db:
        env.configure(f"store: {db.dsn!r}\n")
        moved = subprocess.run(
            env.command("migrate-store", "--json"),
            cwd=env.root,
            env=env.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert moved.returncode == 0, moved.stderr
        told = json.loads(moved.stdout)
        assert (told["entries"], told["log"], told["sessions"]) == (2, logs, sessions)
        assert "password" not in told["target"]
        again = subprocess.run(
            env.command("migrate-store"),
            cwd=env.root,
            env=env.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 2  # the target holds entries now
        assert "already" in again.stderr
        shared = PostgresStore(db.dsn, create=False)
        runner = env.start()  # a runner on the shared store
        try:
            deadline = time.monotonic() + 30
            while shared.list_log(entry_id="long")[-1].status is model.LogStatus.IN_PROCESS:
                assert time.monotonic() < deadline, "the run left in process was not recovered"
                time.sleep(0.05)
            after = {e.id: e.status for e in shared.list_entries()}
            long_logs = shared.list_log(entry_id="long")
        finally:
            shared.close()
            runner.send_signal(signal.SIGTERM)
            out, _ = runner.communicate(timeout=30)
        found = events(out)
    assert [e["entry_id"] for e in found if e["event"] == "run_recovered"] == ["long"]
    assert after["done"] is S.FINISHED
    assert long_logs[-1].status is model.LogStatus.ERROR  # the interrupted run
    assert runner.returncode == 0


def _cli(env: Env, *args: str) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        env.command(*args), cwd=env.root, env=env.env, capture_output=True, timeout=60
    )
    assert b"Traceback" not in proc.stderr, proc.stderr
    return proc


def _items(env: Env) -> dict[str, tuple[str, int, object]]:
    proc = _cli(env, "items", "orders", "--json")
    assert proc.returncode == 0, proc.stderr
    return {i["key"]: (i["status"], i["attempts"], i["notes"]) for i in json.loads(proc.stdout)}


def test_work_items_and_report_documents_go_over_and_carry_on(tmp_path):
    env = Env(tmp_path)
    env.job("orders", "object_id: 50150\n")  # the demo import: one of five items fails
    env.job("sales", "object_type: report\nobject_id: tests.entrypoints.reports:sales\n")
    code, _, _ = env.run()
    assert code == 0
    items = _items(env)
    assert sorted(s for s, _, _ in items.values()) == ["done"] * 4 + ["pending"]
    (sales_no,) = [g.entry_no for g in env.log() if g.entry_id == "sales"]
    document = _cli(env, "output", str(sales_no)).stdout
    assert b"North,3,1250.50" in document
    failures = json.loads(_cli(env, "items", "show", "orders", "SO-1003", "--json").stdout)
    with pgdb.schema() as db:
        env.configure(f"store: {db.dsn!r}\n")
        moved = _cli(env, "migrate-store", "--json")
        assert moved.returncode == 0, moved.stderr
        told = json.loads(moved.stdout)
        assert (told["items"], told["documents"]) == (5, 1)
        assert _items(env) == items  # the same items, read from PostgreSQL now
        with psycopg.connect(db.dsn) as conn:  # a new item is numbered after them
            (top,) = conn.execute("SELECT MAX(number) FROM items").fetchone()
            (after,) = conn.execute(
                "SELECT nextval(pg_get_serial_sequence('items', 'number'))"
            ).fetchone()
        assert (top, after) == (5, 6)
        moved_failures = json.loads(
            _cli(env, "items", "show", "orders", "SO-1003", "--json").stdout
        )
        assert moved_failures == failures
        shared = PostgresStore(db.dsn, create=False)
        try:
            (moved_no,) = [g.entry_no for g in shared.list_log(entry_id="sales")]
        finally:
            shared.close()
        assert _cli(env, "output", str(moved_no)).stdout == document
        # the shared store goes on: the failed item is tried again, the document stays
        assert _cli(env, "set-status", "orders", "ready").returncode == 0
        code, found, _ = env.run()
        assert code == 0
        assert [(e["key"], e["attempt"]) for e in found if e["event"] == "item_failed"] == [
            ("SO-1003", 2)
        ]
        assert _cli(env, "output", str(moved_no)).stdout == document
