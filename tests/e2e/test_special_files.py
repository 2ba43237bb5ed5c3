"""Only regular files are job files: a FIFO, a device behind a symlink, a name that is not
UTF-8 or an oversized file is a located problem for `validate` and for a running runner,
which keeps running and runs the good entries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.e2e.runner_env import Env

J = "tests.entrypoints.jobs"
NOT_REGULAR = "not a regular file ({}); a job file must be one"
BAD_NAME = b"bad\xff.yaml"
LIMIT = 1 << 20  # the documented size limit of a job file


def special_files(env: Env) -> None:
    os.mkfifo(env.jobs / "fifo.yaml")
    (env.jobs / "zero.yaml").symlink_to("/dev/zero")
    (env.jobs / "random.yaml").symlink_to("/dev/urandom")
    with open(os.path.join(os.fsencode(env.jobs), BAD_NAME), "w") as f:
        f.write(f"id: bad_name\nobject_id: {J}:ok\n")
    big = "# padding\n" * (LIMIT // 10) + f"object_id: {J}:ok\n"
    (env.jobs / "big.yaml").write_text(big)


EXPECTED = [
    "jobs.d/bad\\xff.yaml:1: <document>: the file name is not UTF-8 text; rename the file",
    "jobs.d/big.yaml:1: <document>: larger than 1024 KiB; a job file must not be",
    f"jobs.d/fifo.yaml:1: <document>: {NOT_REGULAR.format('a FIFO')}",
    f"jobs.d/random.yaml:1: <document>: {NOT_REGULAR.format('a character device')}",
    f"jobs.d/zero.yaml:1: <document>: {NOT_REGULAR.format('a character device')}",
]


def validate(env: Env, *paths: str | bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobrunner", "validate", "--no-resolve", *paths],
        cwd=env.root,
        env=env.env,
        capture_output=True,
        text=True,
        timeout=20,  # a FIFO used to block here until someone wrote to it
    )


def test_validate_locates_each_special_file_and_never_blocks(env):
    special_files(env)
    env.job("good", f"object_id: {J}:ok\n")
    found = validate(env)
    assert "Traceback" not in found.stderr, found.stderr
    assert (found.returncode, found.stdout.splitlines()) == (1, EXPECTED)
    one = validate(env, "jobs.d/fifo.yaml", "jobs.d/zero.yaml", b"jobs.d/" + BAD_NAME)
    assert one.stdout.splitlines() == [EXPECTED[0], EXPECTED[2], EXPECTED[4]]


def test_a_runner_at_start_skips_them_and_runs_the_good_entry(env):
    special_files(env)
    env.job("good", f"object_id: {J}:ok\n")
    code, _, _ = env.run(timeout=30)
    assert code == 0
    assert env.marks_of("good")[0].startswith("ok")
    assert [e.id for e in env.store().list_entries()] == ["good"]


def test_a_running_runner_rejects_them_as_they_appear_and_goes_on(env):
    env.job("first", f"object_id: {J}:ok\n")
    proc = env.start()
    try:
        env.wait_for_mark("first", "ok")
        special_files(env)
        time.sleep(0.3)  # the watcher hands them on; a read that blocked would hang here
        env.job("good", f"object_id: {J}:ok\n")
        env.wait_for_mark("good", "ok")
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    rejected = [line for line in out.splitlines() if '"job_file_rejected"' in line]
    for expected in EXPECTED:
        assert any(expected.replace("\\", "\\\\") in line for line in rejected), expected
