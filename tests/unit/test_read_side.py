"""The read side without the command line: queries over the reference store, and the
plan and next-run shapes and text built from pure values."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from jobrunner import errors, model, reconcile, spec
from jobrunner.store.memory import MemoryStore
from jobrunner.testing import job, utc
from jobrunner.views import queries, shapes, text

NOW = utc(2026, 1, 5, 12)


def stored(*entries: model.Entry, logs: tuple[model.LogEntry, ...] = ()) -> MemoryStore:
    db = MemoryStore()
    db.commit(model.Transition(reason="test", put=entries, log_insert=logs))
    return db


def entry(entry_id: str, status: model.EntryStatus, category: str = "") -> model.Entry:
    return model.Entry(spec=job(id=entry_id, category=category), status=status)


def test_listing_filters_entries_and_shows_every_pause():
    db = stored(
        entry("a", model.EntryStatus.READY, "x"), entry("b", model.EntryStatus.ON_HOLD, "x")
    )
    db.commit(
        model.Transition(reason="test", pause_put=(model.Pause(category="y", by="u", at=NOW),))
    )
    found = queries.listing(db, status=model.EntryStatus.READY, category="x")
    assert [e.id for e in found.entries] == ["a"]
    assert [p.category for p in found.paused] == ["y"]


def test_detail_of_an_unknown_id_names_the_nearest():
    db = stored(entry("nightly-sync", model.EntryStatus.READY))
    with pytest.raises(errors.UnknownEntry, match="did you mean 'nightly-sync'"):
        queries.detail(db, "nightly-snyc")


def test_detail_has_the_last_log_entries_newest_first():
    logs = tuple(
        model.LogEntry(entry_id="a", start_at=NOW + timedelta(minutes=n)) for n in range(7)
    )
    found = queries.detail(stored(entry("a", model.EntryStatus.READY), logs=logs), "a", logs=5)
    assert [log.entry_no for log in found.logs] == [7, 6, 5, 4, 3]


def test_a_removed_entrys_log_is_still_known():
    db = stored(logs=(model.LogEntry(entry_id="gone", start_at=NOW),))
    queries.check_log_id(db, "gone")
    with pytest.raises(errors.UnknownEntry):
        queries.check_log_id(db, "never")


def parsed(path: str, source: str) -> reconcile.FileResult:
    name = path.rsplit("/", 1)[-1].removesuffix(".yaml")
    try:
        found = spec.parse_spec(source, path, default_id=name, timezone="UTC")
    except errors.SpecError as exc:
        return reconcile.FileResult(path=path, problems=tuple(exc.problems))
    return reconcile.FileResult(path=path, spec=found)


def test_a_plan_reads_the_same_as_text_and_as_json():
    old = parsed("jobs.d/old.yaml", "object_id: 1\n")
    stale = reconcile.diff([old], {}, NOW).changes[0].after
    assert stale is not None
    results = [
        parsed("jobs.d/new.yaml", "object_id: 2\n"),
        parsed("jobs.d/bad.yaml", "object_id: 3\nrecurrence:\n  every: often\n"),
    ]
    plan = reconcile.diff(results, {"old": stale}, NOW)
    data = shapes.plan_json(plan)
    assert [c["id"] for c in data["add"]] == ["new"]
    assert data["remove"] == [{"id": "old", "file": "jobs.d/old.yaml", "after_run": False}]
    assert [r["file"] for r in data["rejected"]] == ["jobs.d/bad.yaml"]
    lines = text.plan_text(plan).splitlines()
    assert lines[0] == "+ new  (jobs.d/new.yaml)  ready, next run 2026-01-05 12:00:01 UTC"
    assert "! jobs.d/bad.yaml  rejected" in lines
    assert "- old  (jobs.d/old.yaml)" in lines
    assert lines[-1] == "Plan: 1 to add, 0 to change, 1 to remove, 1 rejected, 0 unchanged."


def test_next_runs_show_the_zone_and_the_jitter():
    berlin = ZoneInfo("Europe/Berlin")
    runs = [utc(2026, 7, 1, 12)]
    shown = shapes.next_json(runs, berlin, timedelta(minutes=5))
    assert shown == [
        {"local": "2026-07-01T14:00:00+02:00", "utc": "2026-07-01T12:00:00Z", "jitter": "5m"}
    ]
    lines = text.next_text(job(timezone="Europe/Berlin"), runs, berlin, None).splitlines()
    assert lines == [
        "job (Europe/Berlin)",
        "   1  Wed 2026-07-01 14:00:00 CEST   2026-07-01 12:00:00 UTC",
    ]
    assert text.next_text(job(), [], ZoneInfo("UTC"), None).endswith("no further runs (expired)")
