"""Pure decisions of the operator's requests to a runner: run an entry now (`trigger`),
end a run (`cancel`), pause and resume. Functions of (entry, who, now) returning new
values; the CLI commits them and wakes the runner, the runner carries them out."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from jobrunner import model

CANCELLED = "Cancelled by {user}."
# a run is (or may be) scheduled
_PENDING = (
    model.EntryStatus.READY,
    model.EntryStatus.WAITING,
    model.EntryStatus.ON_HOLD_INACTIVITY,
)


class Refused(ValueError):
    """The request cannot be carried out; the message says why."""


def trigger(entry: model.Entry, by: str, now: datetime) -> model.Entry:
    """The entry with a run asked for now (`kubectl create job --from=cronjob/x`): due at
    once, in its category like any run; its status and next run are kept and it goes
    back to them after that run (see `after_trigger`)."""
    if entry.status is model.EntryStatus.IN_PROCESS:
        raise Refused(f"{entry.id} is in process; an entry never runs beside itself")
    waiting = entry.status is model.EntryStatus.WAITING
    if entry.trigger is not None and (waiting or entry.status is model.EntryStatus.READY):
        raise Refused(
            f"{entry.id} already has a run asked for by {entry.trigger.by} "
            f"at {entry.trigger.at:%Y-%m-%d %H:%M:%S} UTC"
        )
    kept = model.Trigger(
        by=by,
        at=now,
        status=model.EntryStatus.READY if waiting else entry.status,
        next_run=entry.earliest_start if entry.status in _PENDING else None,
    )
    return dataclasses.replace(
        entry,
        status=model.EntryStatus.WAITING if waiting else model.EntryStatus.READY,
        earliest_start=now,
        trigger=kept,
        updated_at=now,
    )


def after_trigger(ended: model.Entry, retried: bool, now: datetime) -> model.Entry:
    """The entry after a triggered run ended as an ordinary run would leave it (`ended`):
    a retry keeps the trigger (the retry is part of that run); otherwise where that end
    scheduled a next run (or finished a one-off), the entry goes back to the status and
    next run it had before the trigger, unless that next run passed meanwhile: then it
    stays as after an ordinary run. An end in error or on hold stays as it is."""
    kept = ended.trigger
    if kept is None or retried:
        return ended
    cleared = dataclasses.replace(ended, trigger=None)
    if ended.status not in (
        model.EntryStatus.READY,
        model.EntryStatus.FINISHED,
        model.EntryStatus.ON_HOLD_INACTIVITY,
    ):
        return cleared
    if kept.status in (model.EntryStatus.ON_HOLD, model.EntryStatus.FINISHED):
        return dataclasses.replace(cleared, status=kept.status, earliest_start=None)
    if kept.status in _PENDING and kept.next_run is not None and kept.next_run > now:
        return dataclasses.replace(cleared, status=kept.status, earliest_start=kept.next_run)
    return cleared


def cancel(entry: model.Entry, by: str, now: datetime) -> model.Entry:
    """The entry in process with its run asked to end (the runner ends the session)."""
    if entry.status is not model.EntryStatus.IN_PROCESS or entry.session_id is None:
        raise Refused(f"{entry.id} has no run in process (it is {entry.status.value})")
    if entry.cancel:
        raise Refused(f"{entry.id}: its run is being cancelled already (by {entry.cancel})")
    return dataclasses.replace(entry, cancel=by, updated_at=now)


def cancelled(by: str, output: str = "") -> model.Outcome:
    """The outcome of a run ended by `jobrunner cancel`: a failure that is never retried."""
    return model.Outcome(
        ok=False, message=CANCELLED.format(user=by), cause=model.Cause.CANCELLED, output=output
    )


def pause(
    paused: Sequence[model.Pause], category: str | None, by: str, now: datetime
) -> model.Pause:
    """A new pause of the runner (`category` None) or of a category."""
    for p in paused:
        if p.category == category:
            since = f"{p.at:%Y-%m-%d %H:%M:%S} UTC"
            raise Refused(f"{_what(category)} is paused already (by {p.by} since {since})")
    return model.Pause(category=category, by=by, at=now)


def resume(paused: Sequence[model.Pause], category: str | None) -> None:
    """Refused unless the runner (`category` None) or the category is paused."""
    if not any(p.category == category for p in paused):
        raise Refused(f"{_what(category)} is not paused")


def _what(category: str | None) -> str:
    return "the runner" if category is None else f"category {category!r}"


def paused_categories(paused: Sequence[model.Pause]) -> frozenset[str]:
    return frozenset(p.category for p in paused if p.category is not None)


def runner_paused(paused: Sequence[model.Pause]) -> model.Pause | None:
    return next((p for p in paused if p.category is None), None)
