"""The runner's log pruning: `history`'s decisions carried out against the store.

No loop of its own: the runner asks `wait` how long it may sleep and calls `tick` on each
pass; a pass runs when the oldest kept log entry reaches its retention (at most once per
MIN_GAP, and at least once a day for the session events), and an entry's count limits
are applied right after one of its runs ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jobrunner import config, history, model, store
from jobrunner.items import shell as items_shell
from jobrunner.reports import outputs

MIN_GAP = timedelta(hours=1)
"""Passes are at least this far apart: a log entry goes at most this late."""
MAX_GAP = timedelta(hours=24)
"""and at most this far (session events, and epoll's longest wait)."""


class Pruner:
    def __init__(self, st: store.Store, cfg: config.Config, log: Any) -> None:
        self.store, self.cfg, self.log = st, cfg, log
        self._ended: dict[str, model.Entry | None] = {}
        self._next: datetime | None = None  # None: a pass is due (the first at start)
        self._recount = True  # the next pass applies every entry's count limits

    def reconfigure(self, cfg: config.Config) -> None:
        """A reloaded config: its limits apply at once (a pass now, counts included)."""
        self.cfg, self._next, self._recount = cfg, None, True

    def ended(self, entry_id: str, kept: model.Entry | None = None) -> None:
        """A run of the entry ended: apply its count limits on the next tick. `kept`: the
        entry as that end committed it (None: it is read then; it may have gone)."""
        self._ended[entry_id] = kept

    def wait(self, now: datetime) -> float:
        """Seconds until the next tick has something to do."""
        if self._ended or self._next is None:
            return 0.0
        return max(0.0, (self._next - now).total_seconds())

    def tick(self, now: datetime) -> None:
        """Raises StoreUnwritable (the runner's to handle; the work is done again later)."""
        if self._ended:
            for entry_id, kept in sorted(self._ended.items()):
                entry = kept or self.store.get_entry(entry_id)
                own = entry.spec.history if entry else None
                pol = history.policy(self.cfg.log_retention, self.cfg.history, own)
                self._trim(history.count_trims(entry_id, pol))
            self._ended.clear()
        if self._next is None or now >= self._next:
            self._pass(now)

    def _policies(self) -> dict[str, history.Policy]:
        # Every entry's, from its own limits alone: no definition is built (a runner of
        # 10,000 entries would keep all of them built).
        retention, default = self.cfg.log_retention, self.cfg.history
        shared = history.policy(retention, default)
        return {
            entry_id: shared if own is None else history.policy(retention, default, own)
            for entry_id, own in self.store.entry_histories().items()
        }

    def _pass(self, now: datetime) -> None:
        policies = self._policies()
        lost = history.orphan(self.cfg.log_retention, policies.values())
        before, failed_before = history.cutoffs(lost, now)
        removed = self.store.prune(before, failed_before=failed_before)
        if removed:
            self.log.info("log_pruned", rows=removed)
            self._prune_outputs()
        ends = self.store.log_ends()
        trims = history.pass_trims(ends, policies, lost, now)
        if self._recount:  # at start and after a reload: limits lowered meanwhile
            trims += [t for e, p in sorted(policies.items()) for t in history.count_trims(e, p)]
        self._trim(trims)
        self._recount = False
        due = history.next_pass(self.store.log_ends() if trims else ends, policies, lost)
        items_due = items_shell.prune(self.store, now, self.log)
        due = min(due, items_due) if due and items_due else due or items_due
        self._next = min(max(due or now + MAX_GAP, now + MIN_GAP), now + MAX_GAP)

    def _trim(self, trims: list[history.Trim]) -> None:
        trimmed = 0
        for t in trims:
            gone = self.store.trim_log(t.entry_id, t.status, keep=t.keep, before=t.before)
            if gone:
                self.log.info("log_pruned", rows=gone, entry_id=t.entry_id, status=t.status.value)
            trimmed += gone
        if trimmed:
            self._prune_outputs()

    def _prune_outputs(self) -> None:
        """Report documents go with their log entries."""
        files = prune_outputs(self.cfg, self.store)
        if files:
            self.log.info("outputs_pruned", files=files)


def prune_outputs(cfg: config.Config, st: store.Store) -> int:
    """Delete the report documents whose log entry is gone; how many went."""
    return outputs.of(cfg, st).prune(lambda log_no: st.get_log(log_no) is not None)
