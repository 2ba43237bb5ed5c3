"""A running runner (the real CLI) fed malformed job files and configs keeps running:
each file is rejected with its located problem, a config on SIGHUP is rejected and the
running one kept, and a good entry goes on running."""

from __future__ import annotations

import signal
import time

from tests import malformed
from tests.e2e.runner_env import events, named

J = "tests.entrypoints.jobs"
GOOD = f"object_id: {J}:ok\nrecurrence:\n  every: 1s\n"
BATCH = 6


def _runs(env) -> int:
    return len(env.marks_of("good"))


def _wait_for_runs(env, proc, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while _runs(env) < count:
        assert proc.poll() is None, "the runner died"
        assert time.monotonic() < deadline, "the good entry stopped running"
        time.sleep(0.05)


def test_runner_survives_malformed_job_files_and_configs(env):
    env.job("good", GOOD)
    proc = env.start()
    try:
        _wait_for_runs(env, proc, 1)
        files = [(name, text) for name, text, _ in malformed.JOB_FILES]
        for start in range(0, len(files), BATCH):
            batch = files[start : start + BATCH]
            for name, text in batch:
                env.job(name, text)
            env.job("good", batch[0][1])  # the good entry's own file turns bad too
            time.sleep(0.2)
            assert proc.poll() is None, f"the runner died on {[n for n, _ in batch]}"
            env.job("good", GOOD)
        for _, text, _ in malformed.CONFIGS:
            env.configure(text)
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.1)
            assert proc.poll() is None, f"the runner died on the config {text[:40]!r}"
        _wait_for_runs(env, proc, _runs(env) + 2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    found = events(out)
    rejected = {e["file"] for e in named(found, "job_file_rejected")}
    assert {f"jobs.d/{name}.yaml" for name, _ in files} <= rejected
    for event in named(found, "job_file_rejected"):
        assert all(line.startswith(event["file"] + ":") for line in event["problems"]), event
    configs = named(found, "config_rejected")
    assert len(configs) == len(malformed.CONFIGS)
    assert all(":" in e["problems"][0] for e in configs)
    assert not any("internal error" in line for e in found for line in e.get("problems", []))
