"""A due entry whose stored definition this runner's checkout does not hold is left to
others: no start, no change to its state or due time, no slot taken from the entries
behind it, no wake-up for it; once the checkout holds it (rechecked), it runs."""

from __future__ import annotations

from datetime import timedelta

from jobrunner import lifecycle, model
from jobrunner.runner import holding
from jobrunner.testing import job

from .conftest import NOW

Status = model.EntryStatus


def test_an_entry_not_held_is_left_and_the_next_one_runs(harness):
    h = harness(workers=1)
    h.add(job(id="newer"), earliest_start=NOW - timedelta(minutes=5))  # first in the queue
    h.add(job(id="held"), earliest_start=NOW - timedelta(minutes=1))
    h.runner.shared.holds = lambda entry: entry.id != "newer"
    before = h.entry("newer")
    h.tick()
    assert h.runner.shared.unheld == {"newer"}
    assert h.entry("held").status is Status.IN_PROCESS
    assert h.entry("newer") == before  # its state and due time kept, for a runner that holds it
    assert h.logs("newer") == []


def test_the_runs_left_to_others_are_not_what_it_wakes_for(harness):
    h = harness()
    h.add(job(id="newer"), earliest_start=NOW - timedelta(minutes=5))
    h.add(job(id="later"), earliest_start=NOW + timedelta(hours=1))
    h.runner.shared.holds = lambda entry: entry.id != "newer"
    assert h.runner.timing.next_due() == NOW - timedelta(minutes=5)
    h.tick()
    assert h.runner.timing.next_due() == NOW + timedelta(hours=1)
    wait = h.runner.timing.sleep_for(h.clock.now(), h.clock.monotonic())
    assert wait > 60  # (no pass after pass for a run it does not start)


def test_a_task_that_is_no_entrys_run_is_never_left(harness):
    h = harness()
    h.add(job(id="newer"))
    h.runner.shared.unheld = {"newer"}
    task = model.Task(id="t1", object="tests.entrypoints.jobs:ok", entry_id="newer", not_before=NOW)
    h.store.commit(model.Transition(reason="test", task_put=(task,)))
    h.tick()
    started = {g.description for g in h.store.list_log()}
    assert started == {"task tests.entrypoints.jobs:ok (main)"}
    assert h.entry("newer").status is Status.READY
    assert task.object != lifecycle.DISPATCH


def test_once_its_checkout_holds_it_the_entry_runs(harness):
    h = harness()
    h.add(job(id="newer"))
    h.runner.shared.holds = lambda entry: False
    h.tick()
    assert h.runner.shared.unheld == {"newer"}
    h.runner.shared.holds = h.runner.reconciler.holds
    holding.recheck(h.runner.shared, h.runner.reconciler)  # (as after a reconcile)
    assert h.runner.shared.unheld == set()
    h.tick()
    assert h.entry("newer").status is Status.IN_PROCESS


def test_recheck_forgets_entries_that_are_gone(harness):
    h = harness()
    h.add(job(id="gone"))
    h.runner.shared.unheld = {"gone", "never-stored"}
    h.runner.shared.holds = lambda entry: False
    entry = h.entry("gone")
    h.store.commit(model.Transition(reason="test", delete=((entry.id, entry.version),)))
    holding.recheck(h.runner.shared, h.runner.reconciler)
    assert h.runner.shared.unheld == set()
