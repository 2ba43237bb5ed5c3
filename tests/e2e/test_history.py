"""History limits through the real `jobrunner run`: counts per entry, failed runs kept
longer than successful ones (in-process entries: tests/contract/test_store_history.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobrunner import model
from tests.e2e.runner_env import named

L = model.LogStatus
J = "tests.entrypoints.jobs"


def test_history_limits_keep_the_newest_and_failed_runs_longer(env):
    env.configure("log_retention: 1d\nhistory:\n  keep_failed: 2\n  failed_retention: 10d\n")
    env.job("j", f"object_id: {J}:ok\nhistory:\n  keep_successful: 2\n")
    db = env.store()
    now = datetime.now(UTC)

    def ran(entry_id, status, days):
        at = now - timedelta(days=days)
        end = None if status is L.IN_PROCESS else at
        return model.LogEntry(entry_id=entry_id, start_at=at, end_at=end, status=status)

    db.commit(
        model.Transition(
            reason="test",
            log_insert=(
                ran("j", L.ERROR, 12),  # older than failed_retention
                ran("j", L.ERROR, 3),  # beyond keep_failed: 2
                ran("j", L.ERROR, 3),
                ran("j", L.ERROR, 2),
                ran("j", L.SUCCESS, 0.3),  # beyond keep_successful: 2 after the run
                ran("j", L.SUCCESS, 0.2),
                ran("gone", L.ERROR, 5),  # its entry is gone: failed_retention still
                ran("gone", L.SUCCESS, 3),  # older than log_retention
            ),
        )
    )
    db.close()
    code, found, _ = env.run()
    assert code == 0
    left = {
        (r.entry_id, r.status, round((now - r.start_at).total_seconds() / 86400, 1))
        for r in env.log()
    }
    fresh = {r for r in left if r[0] == "j" and r[1] is L.SUCCESS and r[2] < 0.1}
    assert len(fresh) == 1  # this run's
    assert left - fresh == {
        ("j", L.ERROR, 3.0),
        ("j", L.ERROR, 2.0),
        ("j", L.SUCCESS, 0.2),
        ("gone", L.ERROR, 5.0),
    }
    pruned = named(found, "log_pruned")
    assert sum(e["rows"] for e in pruned) == 4
    assert {e.get("entry_id") for e in pruned} >= {"j"}


def test_the_start_prunes_the_log_before_it_says_it_is_ready(env):
    """The start's pruning pass runs before `runner_started` (and READY): the first pass
    after it, where the first edit is handled, does not wait for it."""
    env.configure("log_retention: 1d\n")
    env.job("j", f"object_id: {J}:ok\n")
    db = env.store()
    old = datetime.now(UTC) - timedelta(days=3)
    done = model.LogEntry(entry_id="j", start_at=old, end_at=old, status=L.SUCCESS)
    db.commit(model.Transition(reason="test", log_insert=(done,)))
    db.close()
    code, found, _ = env.run()
    assert code == 0
    order = [e["event"] for e in found if e["event"] in ("log_pruned", "runner_started")]
    assert order[:2] == ["log_pruned", "runner_started"]
