"""Small demo jobs for the example entries in jobs.d/: they do visible work, quickly.

Each takes the session context and writes what it did through the context's logger (or
prints when run without one).
"""

from __future__ import annotations

import random
import time
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
