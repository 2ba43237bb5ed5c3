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
    asked, pids, ended = set(), {}, {}

    def take(events):
        for event in events:
            if isinstance(event, executor.Started):
                assert event.session_id in asked
                pids[event.pid] = event.session_id
            else:
                assert event.pid in pids, "an end reported before its start"
                ended[pids[event.pid]] = event.status

    try:
        for n in range(count):
            request = executor.SessionRequest(
                session_id=f"s{n}",
                ref="tests.entrypoints.jobs:ok",
                result_path=str(tmp_path / f"{n}.result"),
                output_path=str(tmp_path / f"{n}.out"),
            )
            runner.start(request)
            asked.add(f"s{n}")
            take(runner.collect())
        deadline = time.monotonic() + 30
        while set(ended) != asked:
            assert time.monotonic() < deadline, f"lost: {asked - set(ended)}"
            with selectors.DefaultSelector() as sel:
                for fd in runner.fds():
                    sel.register(fd, selectors.EVENT_READ)
                sel.select(1.0)
            take(runner.collect())
    finally:
        runner.close()
    assert all(os.WIFEXITED(s) and os.WEXITSTATUS(s) == 0 for s in ended.values())


def test_a_torn_result_file_is_no_result(tmp_path):
    """A session killed while writing its result leaves a file that is not whole: it is
    never taken for an outcome (the run counts as interrupted)."""
    from jobrunner import session as session_module

    path = tmp_path / "s.result"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    session_module.write_result(fd, {"ok": False, "message": "boom", "stack": "s"})
    whole = path.read_bytes()
    assert executor.read_result(path) == {"ok": False, "message": "boom", "stack": "s"}
    for cut in range(len(whole)):
        path.write_bytes(whole[:cut])
        assert executor.read_result(path) is None
    path.write_bytes(whole + b"x")
    assert executor.read_result(path) is None
