"""Tiny job modules for the integration and end-to-end tests."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import jobrunner


def _mark(ctx, what: str) -> None:
    folder = os.environ.get("JOBRUNNER_TEST_MARKS")
    if folder:
        with open(Path(folder) / f"{ctx.entry.get('id', 'x')}.marks", "a") as f:
            f.write(f"{what} {ctx.attempt} {os.getpid()}\n")


def ok(ctx) -> None:
    _mark(ctx, "ok")
    print(f"ok ran with parameter {ctx.parameter!r}")


def fail(ctx) -> None:
    _mark(ctx, "fail")
    raise ValueError(f"boom: {ctx.parameter}\nsecond line of the message")


class Flaky(ConnectionError):
    pass


def flaky(ctx) -> None:
    """Fails with a ConnectionError until the attempt named by the parameter."""
    _mark(ctx, "flaky")
    marks = Path(os.environ["JOBRUNNER_TEST_MARKS"]) / f"{ctx.entry['id']}.marks"
    if len(marks.read_text().splitlines()) <= int(ctx.parameter or 1):
        raise Flaky("connection reset")


def slow(ctx) -> None:
    _mark(ctx, "slow")
    print(f"sleeping {ctx.parameter or 1} s", flush=True)
    time.sleep(float(ctx.parameter or 1))
    _mark(ctx, "slow-done")


def hang(ctx) -> None:
    _mark(ctx, "hang")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL ends it
    while True:
        time.sleep(1)


def crash(ctx) -> None:
    _mark(ctx, "crash")
    sys.stdout.flush()
    os._exit(3)


def killed(ctx) -> None:
    _mark(ctx, "killed")
    os.kill(os.getpid(), signal.SIGKILL)


def asks(ctx) -> None:
    input("Proceed? ")


def asks_confirm(ctx) -> None:
    jobrunner.confirm("Delete everything?")


def guarded_confirm(ctx) -> None:
    if jobrunner.gui_allowed():
        jobrunner.confirm("Delete everything?")
    _mark(ctx, "guarded")


def inactive(ctx) -> None:
    _mark(ctx, "inactive")
    ctx.no_activity()


def chatty(ctx) -> None:
    sys.stdout.write("x" * 200_000)
    ctx.log.info("job_said_hello", n=1)


def handler(ctx) -> None:
    """A failure handler: records what it was told."""
    error = ctx.error or {}
    _mark(ctx, f"handler {error.get('last_attempt')} {error.get('message')!r}")


def imports(ctx) -> None:
    heavy = sorted(
        m
        for m in (
            "yaml",
            "jsonschema",
            "structlog",
            "fastjsonschema",
            "watchdog",
            "jobrunner.spec",
            "jobrunner.store",
            "json",
        )
        if m in sys.modules
    )
    print("heavy modules:", heavy)
    _mark(ctx, "imports " + ",".join(heavy))


def makes_task(ctx) -> None:
    """Splits its work: one task per part, each recording which part it did."""
    from jobrunner import tasks

    for part in ctx.parameter.split(","):
        tasks.create_task("tests.entrypoints.jobs:part", record=ctx.entry["id"], parameter=part)


def part(ctx) -> None:
    _mark(ctx, f"part {ctx.parameter}")


def starts_session(ctx) -> None:
    from jobrunner import tasks

    tasks.start_session("tests.entrypoints.jobs:part", parameter="session")


def may_create(ctx) -> None:
    from jobrunner import tasks

    _mark(ctx, f"may_create {tasks.can_create_task()}")


def loud(ctx) -> None:
    """Writes as many bytes of output as the parameter says (a large log entry)."""
    _mark(ctx, "loud")
    sys.stdout.write("x" * int(ctx.parameter or 1000))


def tally(ctx) -> None:
    """Appends its parameter to marks/tally.marks (one line a run)."""
    folder = Path(os.environ["JOBRUNNER_TEST_MARKS"])
    with open(folder / "tally.marks", "a") as f:
        f.write(f"{ctx.parameter} {os.getpid()}\n")
