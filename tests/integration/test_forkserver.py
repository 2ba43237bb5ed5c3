"""The fork server's preloading: job modules imported ahead in the fork server, changed
job code picked up at the next session, and a module that starts threads left alone;
and the lines it tells the runner (a start held briefly for its end)."""

from __future__ import annotations

import os
import selectors
import textwrap
import time
from pathlib import Path

import pytest

from jobrunner import executor, forkserver

JOB = """
import os, sys, threading
IMPORTED_IN = os.getpid()
VERSION = {version}
{extra}

def job(ctx):
    print("version", VERSION, "imported in", IMPORTED_IN, "session", os.getpid(),
          "threads", threading.active_count())
"""


@pytest.fixture
def jobs_path(tmp_path, monkeypatch):
    folder = tmp_path / "code"
    folder.mkdir()
    monkeypatch.setenv("PYTHONPATH", f"{folder}:{os.environ.get('PYTHONPATH', '')}")
    return folder


def write_job(folder: Path, version: int, extra: str = "") -> None:
    path = folder / "fsjob.py"
    path.write_text(textwrap.dedent(JOB.format(version=version, extra=extra)))
    stamp = time.time() + version  # a new mtime even within one clock tick
    os.utime(path, (stamp, stamp))


def run_session(ex: executor.Executor, tmp_path: Path, n: int) -> tuple[int, str]:
    out = tmp_path / f"{n}.out"
    ex.start(
        executor.SessionRequest(
            session_id=f"s{n}",
            ref="fsjob:job",
            result_path=str(tmp_path / f"{n}.result"),
            output_path=str(out),
        )
    )
    deadline = time.monotonic() + 30
    while True:
        assert time.monotonic() < deadline, "the session did not end"
        with selectors.DefaultSelector() as sel:
            for fd in ex.fds():
                sel.register(fd, selectors.EVENT_READ)
            sel.select(1.0)
        for event in ex.collect():
            if isinstance(event, executor.Exited):
                return event.status, out.read_text()


def fork_server_pid(ex: executor.Executor) -> int:
    assert isinstance(ex, executor.ForkServerExecutor)
    return ex._proc.pid


def test_a_module_prepared_ahead_is_imported_in_the_fork_server(tmp_path, jobs_path):
    write_job(jobs_path, 1)
    ex = executor.make("fork")
    try:
        ex.prepare("fsjob:job")
        status, output = run_session(ex, tmp_path, 0)
        server = fork_server_pid(ex)
    finally:
        ex.close()
    assert status == 0
    words = output.split()
    assert words[words.index("imported") + 2] == str(server)
    assert words[words.index("session") + 1] != str(server)


def test_changed_job_code_is_picked_up_at_the_next_session(tmp_path, jobs_path):
    write_job(jobs_path, 1)
    ex = executor.make("fork")
    try:
        outputs = [run_session(ex, tmp_path, n)[1] for n in range(2)]  # then preloaded
        write_job(jobs_path, 2)
        outputs += [run_session(ex, tmp_path, n)[1] for n in range(2, 4)]
        server = fork_server_pid(ex)
    finally:
        ex.close()
    versions = [o.split()[1] for o in outputs]
    assert versions == ["1", "1", "2", "2"]
    assert f"imported in {server}" in outputs[1]  # preloaded after its first session
    assert f"imported in {server}" in outputs[3]  # by the fork server started afresh


def test_a_module_that_starts_threads_is_not_preloaded(tmp_path, jobs_path):
    extra = "threading.Thread(target=threading.Event().wait, daemon=True).start()"
    write_job(jobs_path, 1, extra)
    ex = executor.make("fork")
    try:
        ex.prepare("fsjob:job")
        outputs = [run_session(ex, tmp_path, n)[1] for n in range(3)]
        server = fork_server_pid(ex)
        threads = len(os.listdir(f"/proc/{server}/task"))
    finally:
        ex.close()
    assert threads == 1  # the fork server stays single-threaded
    assert all(f"imported in {server}" not in o for o in outputs)
    assert all(o.split()[1] == "1" for o in outputs)


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param("HELD = open(os.devnull)", id="opens-a-file"),
        pytest.param("import time; time.sleep(2.5)", id="slow-import"),
    ],
)
def test_a_module_that_would_be_unsafe_or_slow_to_share_is_not_preloaded(
    tmp_path, jobs_path, extra
):
    write_job(jobs_path, 1, extra)
    ex = executor.make("fork")
    try:
        ex.prepare("fsjob:job")
        status, output = run_session(ex, tmp_path, 0)
        status2, output2 = run_session(ex, tmp_path, 1)
        server = fork_server_pid(ex)
    finally:
        ex.close()
    assert (status, status2) == (0, 0)
    assert f"imported in {server}" not in output + output2


def test_a_started_line_waits_briefly_for_its_exited_line_and_no_longer():
    """What the fork server tells the runner: a session's start is held up to HOLD so
    that a short session's start and end go in one write; its end waits only for the
    end of the loop's round (the other ends found by the same poll go with it)."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    try:
        tell = forkserver.Tell(w)
        tell.started("s1", 101)
        assert 0 <= tell.wait_ms() <= forkserver.HOLD * 1000
        with pytest.raises(BlockingIOError):
            os.read(r, 100)  # held
        tell.exited(101, 0)
        tell.exited(103, 0)  # found in the same round
        with pytest.raises(BlockingIOError):
            os.read(r, 100)  # held to the round's end
        tell.ended_round()
        assert os.read(r, 100) == b"started s1 101\nexited 101 0\nexited 103 0\n"  # together
        tell.started("s2", 102)
        time.sleep(forkserver.HOLD * 2)
        assert tell.wait_ms() == 0
        tell.due()
        assert os.read(r, 100) == b"started s2 102\n"  # a long session's start: told
        assert tell.wait_ms() == -1  # nothing held: the fork server may wait for ever
    finally:
        os.close(r)
        os.close(w)
