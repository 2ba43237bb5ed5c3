"""recurrence.jitter: a deterministic delay of each occurrence, bounded by the window,
the day and the next occurrence; the entry's earliest start stays the occurrence."""

from __future__ import annotations

import dataclasses
from datetime import time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobrunner import cron, errors, lifecycle, model, recurrence, scheduler, spec
from jobrunner.testing import job, utc

S = model.EntryStatus
AT = utc(2026, 11, 21, 2)
FIVE = timedelta(minutes=5)


def daily(**rec):
    rec.setdefault("jitter", FIVE)
    return job(recurrence={"cron": cron.parse("0 2 * * *"), **rec})


def entry(spec_, at=AT, **kw):
    kw.setdefault("created_at", utc(2026, 11, 1))
    return model.Entry(spec=spec_, status=S.READY, earliest_start=at, **kw)


def test_offset_is_deterministic_and_bounded():
    spec_ = daily()
    first = recurrence.jitter_offset(spec_, AT, "host-a")
    assert first == recurrence.jitter_offset(spec_, AT, "host-a")
    assert timedelta(0) <= first < FIVE
    assert first % timedelta(milliseconds=1) == timedelta(0)


def test_offsets_differ_between_hosts_and_entries_and_spread():
    spec_ = daily()
    offsets = {recurrence.jitter_offset(spec_, AT, f"host-{n}") for n in range(100)}
    assert len(offsets) > 95
    assert min(offsets) < timedelta(minutes=1)
    assert max(offsets) > timedelta(minutes=4)
    other = dataclasses.replace(spec_, id="other")
    assert recurrence.jitter_offset(other, AT, "h") != recurrence.jitter_offset(spec_, AT, "h")


def test_no_jitter_no_offset():
    assert recurrence.jitter_offset(daily(jitter=None), AT, "h") == timedelta(0)
    assert recurrence.jitter_offset(job(), AT, "h") == timedelta(0)


def test_never_past_the_next_occurrence():
    every = job(recurrence={"every": timedelta(minutes=2), "jitter": FIVE})
    assert recurrence.jitter_limit(every, AT) == timedelta(minutes=2) - timedelta(milliseconds=1)
    minutely = job(recurrence={"cron": cron.parse("* * * * *"), "jitter": FIVE})
    for n in range(50):
        assert recurrence.jitter_offset(minutely, AT, str(n)) < timedelta(minutes=1)


def test_never_out_of_the_window():
    # window 08:00-08:03: a run at 08:01 may be delayed at most to 08:02:59
    windowed = job(
        recurrence={
            "every": timedelta(hours=1),
            "starting_time": time(8),
            "ending_time": time(8, 3),
            "jitter": FIVE,
        }
    )
    at = utc(2026, 11, 21, 8, 1)
    assert recurrence.jitter_limit(windowed, at) == timedelta(minutes=1, seconds=59)
    for n in range(50):
        offset = recurrence.jitter_offset(windowed, at, str(n))
        assert recurrence.within_window(windowed, at + offset)
    assert recurrence.jitter_limit(windowed, utc(2026, 11, 21, 9)) == timedelta(0)  # outside


def test_window_across_midnight_ends_the_next_day():
    rec = {"every": timedelta(hours=6), "starting_time": time(22), "ending_time": time(2)}
    spec_ = job(recurrence={**rec, "jitter": timedelta(hours=5)})
    assert recurrence.jitter_limit(spec_, utc(2026, 11, 21, 23)) == timedelta(hours=3) - timedelta(
        seconds=1
    )
    assert recurrence.jitter_limit(spec_, utc(2026, 11, 22, 1)) == timedelta(hours=1) - timedelta(
        seconds=1
    )


def test_a_window_without_end_ends_at_midnight():
    spec_ = job(recurrence={"starting_time": time(23, 58), "jitter": FIVE})
    at = utc(2026, 11, 21, 23, 58)
    assert recurrence.jitter_limit(spec_, at) == timedelta(minutes=2) - timedelta(milliseconds=1)


@given(st.integers(0, 10_000), st.integers(1, 600), st.integers(1, 3000))
def test_property_within_limit(salt, jitter_s, every_s):
    spec_ = job(
        recurrence={"every": timedelta(seconds=every_s), "jitter": timedelta(seconds=jitter_s)}
    )
    offset = recurrence.jitter_offset(spec_, AT, str(salt))
    assert timedelta(0) <= offset < min(timedelta(seconds=jitter_s), timedelta(seconds=every_s))


def test_task_is_jittered_entry_is_not():
    e = entry(daily())
    task = lifecycle.platform_task(e)
    assert task is not None
    assert task.not_before is not None
    assert e.earliest_start == AT
    assert AT <= task.not_before < AT + FIVE
    assert task.not_before == lifecycle.due_at(e)
    assert task.not_before != AT  # (this salt's offset is not zero)


def test_a_host_is_a_creation_instant():
    one = lifecycle.due_at(entry(daily(), created_at=utc(2026, 11, 1)))
    two = lifecycle.due_at(entry(daily(), created_at=utc(2026, 11, 1, 0, 0, 1)))
    assert one != two


@pytest.mark.parametrize(
    "kw", [{"attempts": 1}, {"session_retries": 1}, {"status": S.ON_HOLD_INACTIVITY}]
)
def test_retries_and_inactivity_reruns_are_not_jittered(kw):
    e = dataclasses.replace(entry(daily()), **kw)
    assert lifecycle.due_at(e) == AT


def test_next_run_counts_from_the_occurrence():
    # the run starts jittered, but the entry's next occurrence is the next 02:00
    e = entry(daily())
    due = lifecycle.due_at(e)
    assert due is not None
    log = model.LogEntry(entry_id="job", start_at=due)
    done = scheduler.finished(e, log, model.Outcome(ok=True), due, scheduler.Settings())
    assert done.entry is not None
    assert done.entry.earliest_start == utc(2026, 11, 22, 2)


def test_misfire_grace_counts_from_the_jittered_start():
    e = entry(daily(misfire_grace=timedelta(seconds=1)))
    due = lifecycle.due_at(e)
    assert due is not None
    assert due - AT > timedelta(seconds=1)
    assert scheduler.dispatch(e, due, set()).kind == "start"
    assert scheduler.dispatch(e, due + timedelta(seconds=2), set()).kind == "misfire"


def test_builder_reads_jitter_and_bounds_it():
    built = spec.parse_spec(
        "object_id: 1\nrecurrence:\n  cron: '0 2 * * *'\n  jitter: 5m\n",
        "jobs.d/j.yaml",
        default_id="j",
        timezone="UTC",
    )
    assert built.recurrence is not None
    assert built.recurrence.jitter == FIVE
    with pytest.raises(errors.SpecError) as caught:
        spec.parse_spec(
            "object_id: 1\nrecurrence:\n  every: 1h\n  jitter: 2d\n",
            "jobs.d/j.yaml",
            default_id="j",
            timezone="UTC",
        )
    assert [p.format() for p in caught.value.problems] == [
        "jobs.d/j.yaml:4: recurrence.jitter: '2d' is more than the maximum 1d"
    ]
    with pytest.raises(errors.SpecError) as caught:
        spec.parse_spec(
            "object_id: 1\nrecurrence:\n  every: 1h\n  jitter: soon\n",
            "jobs.d/j.yaml",
            default_id="j",
            timezone="UTC",
        )
    assert caught.value.problems[0].path == "recurrence.jitter"
