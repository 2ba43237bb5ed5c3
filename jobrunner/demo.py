"""Small demo jobs for the example entries in jobs.d/: they do visible work, quickly.

Each takes the session context and writes what it did through the context's logger (or
prints when run without one); `run_statistics` is a report object: it returns rows.
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def _say(ctx: Any, event: str, **fields: Any) -> None:
    log = getattr(ctx, "log", None)
    if log is not None:
        log.info(event, **fields)
    else:
        print(event, fields)


def sync_customers(ctx: Any) -> None:
    """Nightly sync: pretends to copy a batch of customer records."""
    count = int(getattr(ctx, "parameter", "") or 25)
    for batch in range(0, count, 10):
        time.sleep(0.01)
        _say(ctx, "customers_synced", batch=batch // 10 + 1, records=min(10, count - batch))


def poll_inbox(ctx: Any) -> None:
    """Office-hours poll: checks an inbox; reports no activity when it is empty."""
    found = random.randint(0, 3)
    _say(ctx, "inbox_polled", messages=found)
    if found == 0 and hasattr(ctx, "no_activity"):
        ctx.no_activity()


def close_month(ctx: Any) -> None:
    """Month-end close: posts a summary line."""
    _say(ctx, "month_closed", parameter=getattr(ctx, "parameter", ""))


def rotate_reports(ctx: Any) -> None:
    """Cron job: keeps the newest reports."""
    _say(ctx, "reports_rotated", kept=7)


def send_reminder(ctx: Any) -> None:
    """One-off: sends a reminder once."""
    _say(ctx, "reminder_sent", to=getattr(ctx, "parameter", "") or "ops")


def run_statistics(ctx: Any) -> list[dict[str, Any]]:
    """Report: the runs of every entry over the last `days` (a report parameter; default
    7) from the runner's own log: how many, how many failed, how long they took."""
    from jobrunner.store import open as store_open

    days = int(getattr(ctx, "report_parameters", {}).get("days", 7))
    since = datetime.now(UTC) - timedelta(days=days)
    db = store_open.open_at(_state_dir())
    try:
        logs = db.list_log(since=since)
    finally:
        db.close()
    by_entry: dict[str, list[Any]] = {}
    for log in logs:
        if log.end_at is not None:
            by_entry.setdefault(log.entry_id, []).append(log)
    _say(ctx, "run_statistics_read", days=days, runs=len(logs))
    return [_statistics(entry_id, runs) for entry_id, runs in sorted(by_entry.items())]


def _statistics(entry_id: str, runs: list[Any]) -> dict[str, Any]:
    failed = sum(1 for r in runs if r.status.value == "error")
    seconds = [(r.end_at - r.start_at).total_seconds() for r in runs]
    return {
        "entry": entry_id,
        "runs": len(runs),
        "succeeded": len(runs) - failed,
        "failed": failed,
        "success_rate": round(100 * (len(runs) - failed) / len(runs), 1),
        "average_seconds": round(sum(seconds) / len(seconds), 3),
        "last_run": max(r.start_at for r in runs),
    }


def _state_dir() -> Path:
    """The runner's state: named by the runner in its sessions, else the config's."""
    from jobrunner import config, tasks

    if os.environ.get(tasks.STATE_ENV):
        return Path(os.environ[tasks.STATE_ENV])
    named = os.environ.get(tasks.CONFIG_ENV)
    return config.load(Path(named) if named else None).state_dir
