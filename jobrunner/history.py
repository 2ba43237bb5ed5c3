"""History limits of an entry's log (Kubernetes' Job history limits), decided purely.

Functions of (the oldest end per entry and status, the policies, now) with no clock, I/O
or logging: which trims a pass makes, the global cutoffs, and when the next pass is due.
The shell (`pruning.Pruner`) reads the store and carries them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobrunner import model

OK, ERR = model.LogStatus.SUCCESS, model.LogStatus.ERROR
_JUST_AFTER = timedelta(milliseconds=1)
Ends = Mapping[tuple[str, model.LogStatus], datetime]


@dataclass(frozen=True, kw_only=True, slots=True)
class Policy:
    """An entry's effective limits: counts (None: none) and the two retentions."""

    keep_successful: int | None = None
    keep_failed: int | None = None
    retention: timedelta = timedelta(days=30)
    failed_retention: timedelta = timedelta(days=30)

    def keep(self, status: model.LogStatus) -> int | None:
        return self.keep_failed if status is ERR else self.keep_successful

    def kept_for(self, status: model.LogStatus) -> timedelta:
        return self.failed_retention if status is ERR else self.retention

    @property
    def counted(self) -> bool:
        return self.keep_successful is not None or self.keep_failed is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class Trim:
    """One `Store.trim_log` call."""

    entry_id: str
    status: model.LogStatus
    keep: int | None = None
    before: datetime | None = None


def policy(
    log_retention: timedelta, default: model.History, own: model.History | None = None
) -> Policy:
    """The config's history keys overridden key by key by the entry's own."""

    def pick(name: str) -> object:
        mine = getattr(own, name) if own is not None else None
        return mine if mine is not None else getattr(default, name)

    failed = pick("failed_retention")
    return Policy(
        keep_successful=pick("keep_successful"),  # type: ignore[arg-type]
        keep_failed=pick("keep_failed"),  # type: ignore[arg-type]
        retention=log_retention,
        failed_retention=failed if isinstance(failed, timedelta) else log_retention,
    )


def orphan(log_retention: timedelta, policies: Iterable[Policy]) -> Policy:
    """The policy of log entries whose entry is gone: no counts; failed ones kept as long
    as the longest failed retention (what the global prune keeps)."""
    longest = max((p.failed_retention for p in policies), default=log_retention)
    return Policy(retention=log_retention, failed_retention=max(longest, log_retention))


def cutoffs(lost: Policy, now: datetime) -> tuple[datetime, datetime]:
    """`Store.prune`'s (before, failed_before) at `now`: nothing any policy keeps."""
    return now - lost.retention, now - lost.failed_retention


def count_trims(entry_id: str, pol: Policy) -> list[Trim]:
    """The trims after a run of the entry ended: its count limits."""
    return [
        Trim(entry_id=entry_id, status=s, keep=pol.keep(s))
        for s in (OK, ERR)
        if pol.keep(s) is not None
    ]


def pass_trims(
    ends: Ends, policies: Mapping[str, Policy], lost: Policy, now: datetime
) -> list[Trim]:
    """A pass's per-entry trims beyond the global prune (`lost`'s cutoffs): an entry's
    failed runs past its own, shorter, failed retention. Orphans and successful runs go
    by the global prune."""
    trims = []
    for (entry_id, status), oldest in sorted(
        ends.items(), key=lambda kv: (kv[0][0], kv[0][1].value)
    ):
        pol = policies.get(entry_id)
        if pol is None or status is not ERR or pol.failed_retention >= lost.failed_retention:
            continue
        if oldest < now - pol.failed_retention:
            trims.append(Trim(entry_id=entry_id, status=status, before=now - pol.failed_retention))
    return trims


def next_pass(ends: Ends, policies: Mapping[str, Policy], lost: Policy) -> datetime | None:
    """When the oldest kept log entry is older than its retention (just after it reaches
    it: a prune deletes what ended before its cutoff). None: no ended entries."""
    due = [
        oldest + policies.get(entry_id, lost).kept_for(status) + _JUST_AFTER
        for (entry_id, status), oldest in ends.items()
    ]
    return min(due, default=None)
