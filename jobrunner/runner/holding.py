"""The entries a runner leaves to others: those found due whose stored definition its own
checkout does not hold (mid-deploy: the store has a newer revision's, `Reconciler.holds`).
Dispatch passes over their runs, which keep their due times for a runner that holds
them; the set is checked again after each reconcile and, with a shared store, each
sweep (when it is also published on the runner's row: `jobrunner nodes`, `show`)."""

from __future__ import annotations

from jobrunner import reconciler
from jobrunner.runner.shared import Shared


def recheck(shared: Shared, rec: reconciler.Reconciler) -> None:
    """Keep of `shared.unheld` the entries still stored that this checkout still does not
    hold (one read of every entry's file and digest, and only while there are any)."""
    if not shared.unheld:
        return
    stored = {
        found.entry_id: (source, found.digest) for source, found in shared.store.sources().items()
    }
    shared.unheld = {
        entry_id
        for entry_id in shared.unheld
        if entry_id in stored
        and not rec.holds_definition(stored[entry_id][0], entry_id, stored[entry_id][1])
    }
