"""Job modules that use work items, for the end-to-end tests."""

from __future__ import annotations

import os
import time
from pathlib import Path

from jobrunner import tasks


def _mark(name: str, line: str) -> None:
    with open(Path(os.environ["JOBRUNNER_TEST_MARKS"]) / f"{name}.marks", "a") as f:
        f.write(line + "\n")


def slow_items(ctx) -> None:
    """Stages N items (the parameter), then works on each for 30 ms, marking its start
    and end: a kill -9 of the runner lands while items are in process."""
    work = ctx.items("work", max_attempts=10)
    work.add_many((f"k{n:03}", {"n": n}) for n in range(int(ctx.parameter or 40)))
    for item in work.claim(limit=1000):
        with item:
            _mark("items", f"start {item.key} {ctx.session_id} {item.attempt}")
            time.sleep(0.03)
            _mark("items", f"end {item.key} {ctx.session_id}")


def fan_out(ctx) -> None:
    """Stages 30 items and hands them to three tasks of this entry."""
    work = ctx.items("work")
    work.add_many((f"k{n:02}", n) for n in range(30))
    for _ in range(3):
        tasks.create_task("tests.entrypoints.items_jobs:fan_worker", record=ctx.entry["id"])


def fan_worker(ctx) -> None:
    """A task: claims items of its entry's queue a few at a time until none is left."""
    work = ctx.items("work")
    while found := work.claim(limit=3):
        for item in found:
            with item:
                _mark("fan", f"{item.key} {ctx.session_id}")
                time.sleep(0.01)


def too_large(ctx) -> None:
    """Stages a payload over the limit: the job raises, so the run fails."""
    ctx.items("work").add("big", payload="x" * 70_000)


def no_entry(ctx) -> None:
    """A task without a record names no entry: ctx.items refuses."""
    ctx.items("work")


def stuck(ctx) -> None:
    """Claims three items and hangs in the first block (its timeout ends the session)."""
    work = ctx.items("work")
    work.add_many((k, None) for k in ("a", "b", "c"))
    for item in work.claim(limit=3):
        with item:
            time.sleep(30)


def keeps_one(ctx) -> None:
    """Claims two items and returns having finished only the first."""
    work = ctx.items("work")
    work.add_many((k, None) for k in ("a", "b"))
    first, second = work.claim(limit=2)
    with first:
        pass
    second.__enter__()  # begun, never ended: its session's end releases it


def fails_once_for_good(ctx) -> None:
    """An item of a queue with one attempt, whose block raises."""
    orders = ctx.items("orders", max_attempts=1)
    orders.add("SO-1")
    for item in orders.claim():
        with item:
            raise ValueError("bad order")


GATED = 12  # items gated_items stages
GATE_AT = "k05"  # the item whose block waits for the gate


def gated_items(ctx) -> None:
    """Stages GATED items and works through them, marking each block's begin and, as it
    is about to end, the item's effect (key, session, runner); GATE_AT's block waits for
    the file `gate` in the marks folder (for up to 60 s), so a test knows where the run
    is when it kills its runner."""
    marks = Path(os.environ["JOBRUNNER_TEST_MARKS"])
    runner = os.environ.get("JOBRUNNER_TEST_RUNNER", "-")
    work = ctx.items("work", max_attempts=5)
    work.add_many((f"k{n:02}", n) for n in range(GATED))
    for item in work.claim(limit=100):
        with item:
            _mark("begin", f"{item.key} {ctx.session_id} {runner} {item.attempt}")
            deadline = time.monotonic() + 60
            while item.key == GATE_AT and not (marks / "gate").exists():
                assert time.monotonic() < deadline, "no gate"
                time.sleep(0.01)
            _mark("effects", f"{item.key} {ctx.session_id} {runner}")


def chunked_items(ctx) -> None:
    """Stages GATED items and claims them 3 at a time, recording each item's effect;
    after its first chunk the session marks `between` and waits (outside any item's
    block) for the file `gate` in the marks folder, for up to 60 s."""
    marks = Path(os.environ["JOBRUNNER_TEST_MARKS"])
    runner = os.environ.get("JOBRUNNER_TEST_RUNNER", "-")
    work = ctx.items("work", max_attempts=5)
    work.add_many((f"k{n:02}", n) for n in range(GATED))
    first = True
    while found := work.claim(limit=3):
        for item in found:
            with item:
                _mark("effects", f"{item.key} {ctx.session_id} {runner}")
        if first:
            _mark("between", f"{ctx.session_id} {runner}")
            deadline = time.monotonic() + 60
            while not (marks / "gate").exists():
                assert time.monotonic() < deadline, "no gate"
                time.sleep(0.01)
            first = False
