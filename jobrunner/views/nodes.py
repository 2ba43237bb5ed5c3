"""`jobrunner nodes`: the runners sharing a store, as JSON and as a table (the read
side of the nodes table; see cluster.py); and whether an entry's due run waits for a
runner whose checkout holds its definition (`show`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jobrunner import model, revision, wallclock
from jobrunner.views import text, times


def node_json(node: model.Node, running: int) -> dict[str, Any]:
    """One runner: who and where it is, its lease (on the store server's clock) and how
    many sessions it has running."""
    return {
        "runner_id": node.runner_id,
        "host": node.host,
        "pid": node.pid,
        "version": node.version,
        "state_dir": node.state_dir,
        "started_at": wallclock.iso(node.started_at),
        "lease_until": wallclock.iso(node.lease_until),
        "alive": node.alive,
        "running": running,
        "revision": node.revision,
        "unheld": list(node.unheld),
    }


NO_REVISION = "none"
"""`waiting_for`'s word for a definition written by a checkout with no revision."""


def waiting_for(entry: model.Entry, nodes: Sequence[model.Node], now: datetime) -> str | None:
    """The revision of the entry's stored definition when its run is due at `now` (the
    store server's) and every runner alive has said its checkout does not hold that
    definition (the run waits for one that does: mid-deploy); else None."""
    alive = [n for n in nodes if n.alive]
    due = entry.earliest_start is not None and entry.earliest_start <= now
    if entry.status is not model.EntryStatus.READY or not due or not alive:
        return None
    if any(entry.id not in n.unheld for n in alive):
        return None
    return entry.spec.revision or NO_REVISION


def nodes_table(
    nodes: Sequence[model.Node], running: dict[str, int], tz: ZoneInfo, now: datetime
) -> str:
    def lease(n: model.Node) -> str:
        if n.lease_until is None:
            return "-"
        left = (n.lease_until - now).total_seconds()
        return f"{left:.1f}s left" if n.alive else "lapsed"

    return text.table(
        [
            "RUNNER",
            "HOST",
            "PID",
            "VERSION",
            "REVISION",
            "STARTED",
            "LEASE",
            "RUNNING",
            "NOT HELD",
            "STATE_DIR",
        ],
        [
            (
                n.runner_id[:12],
                n.host,
                str(n.pid),
                n.version,
                revision.short(n.revision),
                times.local(n.started_at, tz),
                lease(n),
                str(running.get(n.runner_id, 0)),
                str(len(n.unheld)),
                n.state_dir,
            )
            for n in nodes
        ],
        colour=False,
    )
