"""Pure decisions of the operator's requests to a runner: run an entry now (`trigger`),
end a run (`cancel`), pause and resume. Functions of (entry, who, now) returning new
values; the CLI commits them and wakes the runner, the runner carries them out."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jobrunner import model, wallclock

S = model.EntryStatus
CANCELLED = "Cancelled by {user}."
_PENDING = (S.READY, S.WAITING, S.ON_HOLD_INACTIVITY)  # a run is (or may be) scheduled


class Refused(ValueError):
    """The request cannot be carried out; the message says why."""


def trigger(entry: model.Entry, by: str, now: datetime) -> model.Entry:
    """The entry with a run asked for now (`kubectl create job --from=cronjob/x`): due at
    once, in its category like any run; its status and next run are kept and it goes
    back to them after that run (see `after_trigger`)."""
    if entry.status is S.IN_PROCESS:
        raise Refused(f"{entry.id} is in process; an entry never runs beside itself")
    if entry.trigger is not None and entry.status in (S.READY, S.WAITING):
        raise Refused(
            f"{entry.id} already has a run asked for by {entry.trigger.by} "
            f"at {entry.trigger.at:%Y-%m-%d %H:%M:%S} UTC"
        )
    kept = model.Trigger(
        by=by,
        at=now,
        status=S.READY if entry.status is S.WAITING else entry.status,
        next_run=entry.earliest_start if entry.status in _PENDING else None,
    )
    return dataclasses.replace(
        entry,
        status=S.WAITING if entry.status is S.WAITING else S.READY,
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
    if ended.status not in (S.READY, S.FINISHED, S.ON_HOLD_INACTIVITY):
        return cleared
    if kept.status in (S.ON_HOLD, S.FINISHED):
        return dataclasses.replace(cleared, status=kept.status, earliest_start=None)
    if kept.status in _PENDING and kept.next_run is not None and kept.next_run > now:
        return dataclasses.replace(cleared, status=kept.status, earliest_start=kept.next_run)
    return cleared


def cancel(entry: model.Entry, by: str, now: datetime) -> model.Entry:
    """The entry in process with its run asked to end (the runner ends the session)."""
    if entry.status is not S.IN_PROCESS or entry.session_id is None:
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


def trigger_json(entry: model.Entry, woken: bool) -> dict[str, Any]:
    """`trigger --json`: what was asked for."""
    t = entry.trigger
    assert t is not None
    return {
        "requested": "trigger",
        "entry_id": entry.id,
        "by": t.by,
        "at": wallclock.iso(t.at),
        "status": t.status.value,
        "next_run": wallclock.iso(t.next_run),
        "runner": woken,
    }


def cancel_json(entry: model.Entry) -> dict[str, Any]:
    """`cancel --json`: what was asked for."""
    return {
        "requested": "cancel",
        "entry_id": entry.id,
        "session_id": entry.session_id,
        "by": entry.cancel,
    }


def pause_json(p: model.Pause) -> dict[str, Any]:
    """A pause in `pause --json`, `resume --json` and `list`/`show`'s `paused`."""
    return {"category": p.category, "by": p.by, "since": wallclock.iso(p.at)}
