"""How work items look to a reader: the JSON shapes and text of `jobrunner items`, and
what `list`, `show` and `log` add (an entry's item counts, what a run's chunk did; the
counts come from `queries`). Pure: values in, plain dicts and text out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jobrunner import model as jr_model
from jobrunner import wallclock
from jobrunner.items import model
from jobrunner.views import text

HEADERS = ("QUEUE", "KEY", "STATUS", "ATTEMPTS", "UPDATED", "NOTES", "ERROR")


def item_json(item: model.Item) -> dict[str, Any]:
    """An item as `items --json` lists it."""
    return {
        "entry_id": item.entry_id,
        "queue": item.queue,
        "key": item.key,
        "status": item.status.value,
        "attempts": item.attempts,
        "error": item.error_message or None,
        "created_at": wallclock.iso(item.created_at),
        "updated_at": wallclock.iso(item.updated_at),
        "claimed_at": wallclock.iso(item.claimed_at),
        "done_at": wallclock.iso(item.done_at),
        "notes": json.loads(item.notes),
        "discarded_by": item.discarded_by or None,
    }


def failure_json(f: model.Failure) -> dict[str, Any]:
    return {
        "at": wallclock.iso(f.at),
        "session_id": f.session_id,
        "attempt": f.attempt,
        "error": f.message,
        "final": f.final,
    }


def detail_json(item: model.Item, failures: Sequence[model.Failure]) -> dict[str, Any]:
    """An item as `items show --json` gives it: with its payload, call stack, failures."""
    return {
        **item_json(item),
        "payload": json.loads(item.payload),
        "error_call_stack": item.error_stack or None,
        "failures": [failure_json(f) for f in failures],
    }


def items_table(items: Sequence[model.Item]) -> str:
    rows = [
        (
            i.queue,
            i.key,
            i.status.value,
            str(i.attempts),
            wallclock.iso(i.updated_at) or "",
            "" if i.notes == "{}" else i.notes,
            i.error_message,
        )
        for i in items
    ]
    return text.table(HEADERS, rows, colour=False)


def detail_text(item: model.Item, failures: Sequence[model.Failure]) -> str:
    data = detail_json(item, failures)
    skip = {"payload", "error_call_stack", "failures"}
    width = max(len(k) for k in data)
    lines = [
        f"{k.ljust(width)}  {'-' if v is None else v}" for k, v in data.items() if k not in skip
    ]
    lines += [
        "",
        "payload:",
        *("  " + x for x in json.dumps(data["payload"], indent=2).splitlines()),
    ]
    if item.error_stack:
        lines += ["", "last error call stack:", *("  " + x for x in item.error_stack.splitlines())]
    if failures:
        lines += ["", "failures:"]
        lines += [f"  {wallclock.iso(f.at)}  attempt {f.attempt}  {f.message}" for f in failures]
    return "\n".join(lines)


def counts_json(counts: dict[str, int]) -> dict[str, int]:
    """An entry's item counts by status (every status, 0 when none)."""
    return {s.value: counts.get(s.value, 0) for s in model.ItemStatus}


def counts_text(counts: dict[str, int]) -> str:
    """`3 pending, 1 failed, 7 done`: pending and failed always, then the others held."""
    first = (model.ItemStatus.PENDING, model.ItemStatus.FAILED)
    rest = [s for s in model.ItemStatus if s not in first and counts.get(s.value)]
    return ", ".join(f"{counts.get(s.value, 0)} {s.value}" for s in (*first, *rest))


def run_json(counts: Sequence[model.RunCount]) -> list[dict[str, Any]]:
    """What a run's session did with each queue (a log entry's `items`)."""
    return [{"queue": c.queue, "done": c.done, "failed": c.failed, "left": c.left} for c in counts]


def run_text(counts: Sequence[model.RunCount]) -> str:
    return "; ".join(
        f"{c.queue}: {c.done} done, {c.failed} failed, "
        + ("?" if c.left is None else str(c.left))
        + " left"
        for c in counts
    )


# --- what `list`, `show` and `log` add --------------------------------------------------


def with_counts(data: dict[str, Any], counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """An entry's JSON with its work items' counts (`items`), when it has items."""
    if data["id"] in counts:
        data["items"] = counts_json(counts[data["id"]])
    return data


def log_with_items(data: dict[str, Any], runs: dict[str, list[model.RunCount]]) -> dict[str, Any]:
    """A log entry's JSON with what its session did with work items (`items`), when it
    did."""
    if data["session_id"] in runs:
        data["items"] = run_json(runs[data["session_id"]])
    return data


def show_with_items(
    data: dict[str, Any], counts: dict[str, dict[str, int]], runs: dict[str, list[model.RunCount]]
) -> dict[str, Any]:
    """`show --json` (`shapes.show_json`) with the entry's item counts and what the runs
    of its log entries did with work items."""
    data["log"] = [log_with_items(row, runs) for row in data["log"]]
    return with_counts(data, counts)


def counts_lines(entry_ids: Sequence[str], counts: dict[str, dict[str, int]]) -> list[str]:
    """The lines below an entry table: these entries' item counts (none without items)."""
    shown = [i for i in entry_ids if i in counts]
    if not shown:
        return []
    lines = ["", "work items (jobrunner items ID):"]
    return lines + [f"  {entry_id}: {counts_text(counts[entry_id])}" for entry_id in shown]


def run_lines(
    rows: Sequence[jr_model.LogEntry], runs: dict[str, list[model.RunCount]]
) -> list[str]:
    """The lines below a log table: what each row's run did with work items."""
    shown = [r for r in rows if r.session_id in runs]
    if not shown:
        return []
    lines = ["", "work items:"]
    return lines + [f"  log entry {r.entry_no}: {run_text(runs[r.session_id])}" for r in shown]
