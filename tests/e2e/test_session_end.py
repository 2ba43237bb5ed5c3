"""Whatever a job starts ends with its session (success, timeout, the runner's death),
and Ctrl-C on `jobrunner run` drains without a traceback from any process."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from jobrunner import model
from tests.e2e.runner_env import Env

J = "tests.entrypoints.jobs"
GONE_WITHIN = 5.0  # seconds


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _stat(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return " ".join(f.read().split()[:5])
    except OSError:
        return "gone"


def _children(env: Env) -> list[int]:
    pids = [int(line) for line in (env.marks / "children").read_text().split()]
    assert len(pids) == 2, pids  # the plain child and the setsid one
    return pids


def _assert_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + GONE_WITHIN
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            left = {p: _stat(p) for p in pids if _alive(p)}
            for pid in pids:  # not to leave them to the next tests
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            pytest.fail(f"outlived their session: {left}")
        time.sleep(0.02)


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_what_a_job_started_ends_when_it_succeeds(env, mode):
    env.configure(f"session_mode: {mode}\n")
    env.job("j", f"object_id: {J}:leaves_children\nparameter_string: ok\n")
    env.run()
    assert env.entry("j").status is model.EntryStatus.FINISHED
    _assert_gone(_children(env))


def test_what_a_job_started_ends_when_it_times_out(env):
    env.job("j", f"object_id: {J}:leaves_children\nparameter_string: hang\ntimeout: 1s\n")
    env.run(timeout=30)
    assert env.entry("j").error_message.startswith("The job ran longer than its timeout")
    _assert_gone(_children(env))


def test_what_a_job_started_ends_when_the_runner_is_killed(env):
    env.job("j", f"object_id: {J}:leaves_children\nparameter_string: wait\n")
    proc = env.start()
    try:
        env.wait_for_mark("j", "children")
        session = int(env.marks_of("j")[0].split(" ")[2])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
    _assert_gone([session, *_children(env)])


def test_ctrl_c_drains_without_a_traceback(env):
    env.job("j", f"object_id: {J}:slow\nparameter_string: '30'\n")
    proc = subprocess.Popen(
        env.command("run"),
        cwd=env.root,
        env=env.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's foreground process group, as Ctrl-C sees it
    )
    try:
        env.wait_for_mark("j", "slow")
        time.sleep(0.2)  # the fork server's waiting children are there too
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert "Traceback" not in out + err, err
    assert proc.returncode == 0
    assert '"event": "runner_draining"' in out
    (log,) = env.log("j")
    assert log.error_message == "The runner stopped while the job was running."
