"""Report objects for the report tests: rows, a layout of their own, bad results."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

ROWS = [
    {"region": "North", "orders": 3, "amount": Decimal("1250.50"), "closed": True},
    {"region": "Süd", "orders": 0, "amount": 0.0, "closed": False},
    {"region": "East", "orders": 12, "amount": 99.25, "day": dt.date(2026, 11, 30)},
]


def sales(ctx):
    """The rows above, the first `rows` (a report parameter) of them."""
    count = int(ctx.report_parameters.get("rows", len(ROWS)))
    return ROWS[:count]


def table(ctx):
    """Explicit columns and rows: an empty report still names its columns."""
    return {"columns": ["entry", "runs"], "rows": [["a", 1], ["b", 2]] if ctx.parameter else []}


def own(ctx):
    """A layout of its own: it writes the document and returns None."""
    with ctx.report_file() as out:
        out.write(b"custom;layout\r\n1;2\r\n")


def effects(ctx):
    """report_output: none: its effect is a file in JOBRUNNER_TEST_MARKS."""
    Path(os.environ["JOBRUNNER_TEST_MARKS"], "effects.marks").write_text("ran\n")
    return ROWS


def number(ctx):
    return 42


def big(ctx):
    return [{"text": "x" * 1000} for _ in range(int(ctx.parameter or 100))]


def fail(ctx):
    raise RuntimeError("no data")


def both(ctx):
    """Wrong: writes its own file and returns rows as well."""
    ctx.report_file().write(b"x")
    return ROWS


def late(ctx):
    """Marks `late` (with its pid), sleeps a little, then returns the rows."""
    import time

    from tests.entrypoints.jobs import _mark

    _mark(ctx, "late")
    time.sleep(0.3)
    return ROWS
