"""History limits: the pure decisions (history.py) and the pruner's timing against the
in-memory store (no files, no clock: `now` is passed in)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from jobrunner import config, errors, history, model, spec
from jobrunner.pruning import MIN_GAP, Pruner
from jobrunner.store.memory import MemoryStore
from jobrunner.testing import job, utc

OK, ERR, RUN = model.LogStatus.SUCCESS, model.LogStatus.ERROR, model.LogStatus.IN_PROCESS
NOW = utc(2026, 11, 21, 12)
DAY = timedelta(days=1)
D30 = 30 * DAY
HALF = timedelta(hours=12)
D19 = 19 * DAY + HALF


def test_policy_overrides_key_by_key():
    default = model.History(keep_successful=10, keep_failed=50, failed_retention=90 * DAY)
    own = model.History(keep_failed=5)
    pol = history.policy(D30, default, own)
    assert (pol.keep_successful, pol.keep_failed) == (10, 5)
    assert (pol.retention, pol.failed_retention) == (D30, 90 * DAY)
    assert history.policy(D30, model.History()).failed_retention == D30  # default
    assert not history.policy(D30, model.History()).counted


def test_orphans_keep_failed_runs_as_long_as_the_longest_policy():
    policies = [history.Policy(retention=D30, failed_retention=d * DAY) for d in (7, 60)]
    lost = history.orphan(D30, policies)
    assert lost.failed_retention == 60 * DAY
    assert history.cutoffs(lost, NOW) == (NOW - D30, NOW - 60 * DAY)
    assert history.orphan(D30, []).failed_retention == D30


def test_count_trims():
    pol = history.Policy(keep_successful=10, keep_failed=None)
    assert history.count_trims("a", pol) == [history.Trim(entry_id="a", status=OK, keep=10)]
    assert history.count_trims("a", history.Policy()) == []


def test_pass_trims_only_shorter_failed_retentions():
    short = history.Policy(retention=D30, failed_retention=7 * DAY)
    long = history.Policy(retention=D30, failed_retention=60 * DAY)
    policies = {"short": short, "long": long}
    lost = history.orphan(D30, policies.values())
    ends = {
        ("short", ERR): NOW - 8 * DAY,
        ("short", OK): NOW - 40 * DAY,  # the global prune's
        ("long", ERR): NOW - 8 * DAY,
        ("gone", ERR): NOW - 100 * DAY,  # an orphan: the global prune's
    }
    assert history.pass_trims(ends, policies, lost, NOW) == [
        history.Trim(entry_id="short", status=ERR, before=NOW - 7 * DAY)
    ]
    assert history.pass_trims({("short", ERR): NOW - DAY}, policies, lost, NOW) == []


def test_next_pass_is_when_the_oldest_reaches_its_retention():
    short = history.Policy(retention=D30, failed_retention=7 * DAY)
    lost = history.orphan(D30, [short])
    ends = {("a", ERR): NOW - DAY, ("a", OK): NOW - 2 * DAY, ("gone", OK): NOW - 3 * DAY}
    soon = NOW + 6 * DAY + timedelta(milliseconds=1)
    assert history.next_pass(ends, {"a": short}, lost) == soon
    assert history.next_pass({}, {"a": short}, lost) is None


ROOT = Path("/nonexistent")  # (never opened)


def _cfg(**kw):
    return config.Config(
        path=None,
        base=ROOT,
        jobs_dir=ROOT / "jobs.d",
        state_dir=ROOT / "state",
        timezone="UTC",
        **kw,
    )


class _Log:
    def __init__(self):
        self.events = []

    def info(self, name, **fields):
        self.events.append((name, fields))


def _runs(store, entry_id, status, *ages):
    store.commit(
        model.Transition(
            reason="t",
            log_insert=tuple(
                model.LogEntry(
                    entry_id=entry_id,
                    start_at=NOW - age,
                    end_at=None if status is RUN else NOW - age,
                    status=status,
                )
                for age in ages
            ),
        )
    )


def _left(store, entry_id):
    return sorted((r.status.value, NOW - r.start_at) for r in store.list_log(entry_id=entry_id))


def test_pruner_applies_counts_at_start_and_after_a_run_and_sleeps_until_the_oldest_expires():
    store = MemoryStore()
    own = job(id="a", history=model.History(keep_successful=2))
    store.commit(
        model.Transition(reason="t", put=(model.Entry(spec=own, status=model.EntryStatus.READY),))
    )
    cfg = _cfg(log_retention=10 * DAY, history=model.History(failed_retention=20 * DAY))
    _runs(store, "a", RUN, 40 * DAY)  # (numbers in the order the runs started)
    _runs(store, "a", ERR, 21 * DAY, D19)
    _runs(store, "a", OK, 11 * DAY, 3 * DAY, 2 * DAY)
    _runs(store, "a", ERR, 5 * DAY)
    _runs(store, "a", OK, DAY)
    log = _Log()
    pruner = Pruner(store, cfg, log)
    assert pruner.wait(NOW) == 0.0  # the first pass is due at once
    pruner.tick(NOW)
    assert _left(store, "a") == [
        ("error", 5 * DAY),
        ("error", D19),
        ("in_process", 40 * DAY),
        ("success", DAY),
        ("success", 2 * DAY),
    ]
    # next: the failed run of 19.5 days is older than 20 days in 12 h
    assert pruner.wait(NOW) == HALF.total_seconds() + 0.001
    pruner.tick(NOW + timedelta(hours=1))  # not yet: nothing changes
    assert len(store.list_log(entry_id="a")) == 5
    _runs(store, "a", OK, timedelta(0))
    pruner.ended("a")
    assert pruner.wait(NOW) == 0.0
    pruner.tick(NOW + timedelta(hours=2))
    assert [age for s, age in _left(store, "a") if s == "success"] == [timedelta(0), DAY]
    pruner.tick(NOW + HALF + timedelta(milliseconds=1))
    assert [age for s, age in _left(store, "a") if s == "error"] == [5 * DAY]
    assert ("log_pruned", {"rows": 1, "entry_id": "a", "status": "success"}) in log.events


def test_pruner_passes_are_at_least_min_gap_apart():
    store = MemoryStore()
    cfg = _cfg(log_retention=DAY)
    _runs(store, "gone", OK, DAY - timedelta(seconds=1))  # expires in a second
    pruner = Pruner(store, cfg, _Log())
    pruner.tick(NOW)
    assert pruner.wait(NOW) == MIN_GAP.total_seconds()


def test_job_file_history_keys_and_a_located_bad_duration():
    built = spec.parse_spec(
        "object_id: 1\nhistory:\n  keep_successful: 3\n  failed_retention: 2d\n",
        "jobs.d/j.yaml",
        default_id="j",
        timezone="UTC",
    )
    assert built.history == model.History(keep_successful=3, failed_retention=2 * DAY)
    with pytest.raises(errors.SpecError) as caught:
        spec.parse_spec(
            "object_id: 1\nhistory:\n  failed_retention: often\n",
            "jobs.d/j.yaml",
            default_id="j",
            timezone="UTC",
        )
    assert (
        caught.value.problems[0]
        .format()
        .startswith("jobs.d/j.yaml:3: history.failed_retention: 'often' is not a duration")
    )
    with pytest.raises(errors.SpecError):
        spec.parse_spec(
            "object_id: 1\nhistory:\n  keep_failed: -1\n", "j.yaml", default_id="j", timezone="UTC"
        )
