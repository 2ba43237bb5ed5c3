"""Jobs for the tests of several runners on one store: each records its start and end
(with the occurrence it runs and its runner) in one shared file."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _record(ctx, what: str) -> None:
    folder = os.environ.get("JOBRUNNER_TEST_MARKS")
    if folder:
        line = (
            f"{what} {ctx.entry.get('id')} {ctx.entry.get('earliest_start')} {ctx.attempt} "
            f"{os.environ.get('JOBRUNNER_TEST_RUNNER', '-')} {time.time():.6f} {ctx.fence}\n"
        )
        with open(Path(folder) / "runs.log", "a") as f:
            f.write(line)


def occurrence(ctx) -> None:
    """Records its start and end around a short sleep (the parameter, default 0.05 s)."""
    _record(ctx, "start")
    time.sleep(float(ctx.parameter or 0.05))
    _record(ctx, "end")


def versioned(ctx) -> None:
    """Records its start in versions.log: the entry, the definition's version (its
    parameter), its runner and its own pid."""
    folder = os.environ.get("JOBRUNNER_TEST_MARKS")
    if folder:
        line = (
            f"{ctx.entry.get('id')} {ctx.parameter} "
            f"{os.environ.get('JOBRUNNER_TEST_RUNNER', '-')} {os.getpid()} {time.time():.6f}\n"
        )
        with open(Path(folder) / "versions.log", "a") as f:
            f.write(line)
