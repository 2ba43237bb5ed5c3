"""Sessions started through each executor: every end is seen, none is lost."""

from __future__ import annotations

import os
import selectors
import time

import pytest

from jobrunner import executor


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_every_session_end_is_reported(tmp_path, mode):
    runner = executor.make(mode)
    count = 120 if mode == "fork" else 12
    started, ended = set(), {}
    try:
        for n in range(count):
            request = {
                "session_id": f"s{n}",
                "ref": "tests.entrypoints.jobs:ok",
                "result_path": str(tmp_path / f"{n}.result"),
                "output_path": str(tmp_path / f"{n}.out"),
                "parent_pid": os.getpid(),
            }
            started.add(runner.start(request))
            ended.update(runner.collect())
        deadline = time.monotonic() + 30
        while set(ended) != started:
            assert time.monotonic() < deadline, f"lost: {started - set(ended)}"
            if not runner.pending():
                with selectors.DefaultSelector() as sel:
                    for fd in runner.fds():
                        sel.register(fd, selectors.EVENT_READ)
                    sel.select(1.0)
            ended.update(runner.collect())
    finally:
        runner.close()
    assert all(os.WIFEXITED(s) and os.WEXITSTATUS(s) == 0 for s in ended.values())
