"""Jobs for the tests of several runners on one store: each records its start and end
(with the occurrence it runs and its runner) in one shared file."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _append(name: str, line: str) -> None:
    """`line` appended to the marks file `name` in one write (the jobs of several
    runners append to the same file at once)."""
    folder = os.environ.get("JOBRUNNER_TEST_MARKS")
    if folder:
        fd = os.open(Path(folder) / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def _record(ctx, what: str) -> None:
    _append(
        "runs.log",
        f"{what} {ctx.entry.get('id')} {ctx.entry.get('earliest_start')} {ctx.attempt} "
        f"{os.environ.get('JOBRUNNER_TEST_RUNNER', '-')} {time.time():.6f} {ctx.fence}\n",
    )


def occurrence(ctx) -> None:
    """Records its start and end around a short sleep (the parameter, default 0.05 s)."""
    _record(ctx, "start")
    time.sleep(float(ctx.parameter or 0.05))
    _record(ctx, "end")


def versioned(ctx) -> None:
    """Records its start in versions.log: the entry, the definition's version (its
    parameter), its runner and its own pid."""
    _append(
        "versions.log",
        f"{ctx.entry.get('id')} {ctx.parameter} "
        f"{os.environ.get('JOBRUNNER_TEST_RUNNER', '-')} {os.getpid()} {time.time():.6f}\n",
    )


def torture(ctx) -> None:
    """For the kill -9 torture of a cluster: records its start as its first act (the
    occurrence's key: the task id, or the entry id and due instant; its session, fence
    and runner), works a moment (making a task per comma-separated part of its
    parameter), and records its completion as its last act. One O_APPEND line each."""
    import random

    from jobrunner import tasks

    key = ctx.entry.get("task_id") or f"{ctx.entry['id']}@{ctx.entry.get('earliest_start')}"
    _line(f"start {key} {ctx.session_id} {ctx.fence}")
    time.sleep(random.uniform(0.0, 0.05))
    for _ in filter(None, (ctx.parameter or "").split(",")):
        tasks.create_task(f"{__name__}:torture", record=ctx.entry.get("id"))
    _line(f"done {key} {ctx.session_id} {ctx.fence}")


def _line(text: str) -> None:
    runner = os.environ.get("JOBRUNNER_TEST_RUNNER", "-")
    _append("torture.log", f"{text} {runner} {time.time():.6f}\n")
