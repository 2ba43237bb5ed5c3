"""`jobrunner nodes`: the runners sharing a store, as JSON and as a table (the read
side of the nodes table; see cluster.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jobrunner import model, wallclock
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
    }


def nodes_table(
    nodes: Sequence[model.Node], running: dict[str, int], tz: ZoneInfo, now: datetime
) -> str:
    def lease(n: model.Node) -> str:
        if n.lease_until is None:
            return "-"
        left = (n.lease_until - now).total_seconds()
        return f"{left:.1f}s left" if n.alive else "lapsed"

    return text.table(
        ["RUNNER", "HOST", "PID", "VERSION", "STARTED", "LEASE", "RUNNING", "STATE_DIR"],
        [
            (
                n.runner_id[:12],
                n.host,
                str(n.pid),
                n.version,
                times.local(n.started_at, tz),
                lease(n),
                str(running.get(n.runner_id, 0)),
                n.state_dir,
            )
            for n in nodes
        ],
        colour=False,
    )
