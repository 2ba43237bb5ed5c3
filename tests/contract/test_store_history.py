"""History limits in the Store contract: trim_log, log_ends and prune's failed cutoff,
run against every implementation."""

from __future__ import annotations

from datetime import timedelta

from jobrunner import model
from jobrunner.testing import utc

T0 = utc(2026, 1, 5, 12)
OK, ERR, RUN = model.LogStatus.SUCCESS, model.LogStatus.ERROR, model.LogStatus.IN_PROCESS


def runs(store, *rows):
    """rows: (entry_id, status, hours before T0 it ended)"""
    logs = tuple(
        model.LogEntry(
            entry_id=entry_id,
            start_at=T0 - timedelta(hours=h),
            end_at=None if status is RUN else T0 - timedelta(hours=h),
            status=status,
        )
        for entry_id, status, h in rows
    )
    return store.commit(model.Transition(reason="t", log_insert=logs))


def kept(store, entry_id="a"):
    return [(r.entry_no, r.status) for r in reversed(store.list_log(entry_id=entry_id))]


def test_trim_keeps_the_newest_of_a_status_and_never_one_in_process(store):
    numbers = runs(
        store,
        ("a", RUN, 9),
        ("a", OK, 8),
        ("a", ERR, 7),
        ("a", OK, 6),
        ("a", OK, 5),
        ("a", ERR, 4),
        ("b", OK, 3),
    )
    assert store.trim_log("a", OK, keep=1) == 2
    assert store.trim_log("a", RUN, keep=0) == 0
    assert kept(store) == [
        (numbers[0], RUN),
        (numbers[2], ERR),
        (numbers[4], OK),
        (numbers[5], ERR),
    ]
    assert store.trim_log("a", ERR, keep=0) == 2
    assert kept(store) == [(numbers[0], RUN), (numbers[4], OK)]
    assert kept(store, "b") == [(numbers[6], OK)]  # another entry's are untouched


def test_trim_by_age_and_count_together(store):
    numbers = runs(store, ("a", ERR, 50), ("a", ERR, 30), ("a", ERR, 2), ("a", ERR, 1))
    assert store.trim_log("a", ERR, before=T0 - timedelta(hours=40)) == 1
    assert store.trim_log("a", ERR, keep=3, before=T0 - timedelta(hours=40)) == 0
    assert store.trim_log("a", ERR, keep=2, before=T0 - timedelta(hours=40)) == 1
    assert kept(store) == [(numbers[2], ERR), (numbers[3], ERR)]
    assert store.trim_log("a", ERR) == 0  # no limit: nothing goes


def test_log_ends_is_the_oldest_end_per_entry_and_status(store):
    runs(store, ("a", OK, 5), ("a", OK, 9), ("a", ERR, 3), ("a", RUN, 20), ("b", ERR, 1))
    assert store.log_ends() == {
        ("a", OK): T0 - timedelta(hours=9),
        ("a", ERR): T0 - timedelta(hours=3),
        ("b", ERR): T0 - timedelta(hours=1),
    }


def test_prune_keeps_failed_runs_to_their_own_cutoff(store):
    runs(store, ("a", OK, 50), ("a", ERR, 50), ("a", ERR, 100), ("a", RUN, 200))
    gone = store.prune(T0 - timedelta(hours=40), failed_before=T0 - timedelta(hours=80))
    assert gone == 2
    assert [s for _, s in kept(store)] == [ERR, RUN]
