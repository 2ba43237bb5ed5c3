"""A session switched to another account gets that account's own clean environment (as
`su -` and cron give it), not the runner's with its secrets; the config names what else
passes through, and an entry's `environment` is set over it, switched or not."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.accounts import made, needs_root


@pytest.fixture(scope="module")
def users():
    with made("e") as found:
        yield found


@needs_root
def test_a_switched_session_sees_only_its_accounts_environment(env, users):
    (alice,) = users
    job = env.world_readable_job().replace(":whoami", ":environment")
    env.configure("session_environment: [JR_PASSED, JR_UNSET]\n")
    env.env.update(JR_SECRET="s3cret", JR_PASSED="visible", LANG="C.UTF-8", LC_TIME="C")
    env.env.update(LOGNAME="root", USER="root", HOME="/root", SHELL="/bin/bash")
    env.job("j", f"object_id: {job}\nuser: {alice.pw_name}\n")
    env.job("mine", f"object_id: {job}\n")  # the runner's own account: its environment
    code, _, err = env.run()
    assert code == 0, err
    (log,) = env.log("j")
    assert log.status.value == "success", log.error_message
    seen = dict(line.split("=", 1) for line in log.output.splitlines())
    config = str(env.root / "jobrunner.yaml")
    assert seen == {
        "HOME": alice.pw_dir,
        "USER": alice.pw_name,
        "LOGNAME": alice.pw_name,
        "SHELL": "/bin/sh",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_TIME": "C",
        "TZ": "UTC",
        "JR_PASSED": "visible",
        "JOBRUNNER_CONFIG": config,
        "JOBRUNNER_STATE_DIR": str(env.root / ".jobrunner"),
    }
    (own,) = env.log("mine")
    assert "JR_SECRET=s3cret" in own.output.splitlines()


def _seen(log) -> dict[str, str]:
    return dict(line.split("=", 1) for line in log.output.splitlines())


@needs_root
def test_a_switched_session_gets_its_entrys_environment(env, users):
    """The entry's variables are set over the account's environment (and over what the
    config passes through); the runner's secret still stays out."""
    (alice,) = users
    job = env.world_readable_job().replace(":whoami", ":environment")
    env.configure("session_environment: [JR_PASSED]\n")
    env.env.update(JR_SECRET="s3cret", JR_PASSED="runner's")
    env.job(
        "j",
        f"object_id: {job}\nuser: {alice.pw_name}\nenvironment:\n"
        "  APP_MODE: nightly\n  JR_PASSED: the entry's\n  PATH: /opt/app/bin:/usr/bin\n"
        "  LANG: C.UTF-8\n",
    )
    code, _, err = env.run()
    assert code == 0, err
    (log,) = env.log("j")
    assert log.status.value == "success", log.error_message
    seen = _seen(log)
    assert "JR_SECRET" not in seen
    assert {k: seen[k] for k in ("APP_MODE", "JR_PASSED", "PATH", "LANG", "HOME", "USER")} == {
        "APP_MODE": "nightly",
        "JR_PASSED": "the entry's",
        "PATH": "/opt/app/bin:/usr/bin",
        "LANG": "C.UTF-8",
        "HOME": alice.pw_dir,
        "USER": alice.pw_name,
    }


@needs_root
def test_the_failure_handler_gets_its_entrys_environment(env, users):
    (alice,) = users
    ref = env.world_readable_job()
    env.env.update(JR_SECRET="s3cret")
    env.job(
        "j",
        f"object_id: {ref.replace(':whoami', ':fail')}\nuser: {alice.pw_name}\n"
        f"failure_handler: {ref.replace(':whoami', ':environment')}\n"
        "environment:\n  APP_MODE: nightly\n",
    )
    code, _, err = env.run()
    assert code == 0, err
    failed, handled = sorted(env.log("j"), key=lambda log: log.entry_no)
    assert failed.status.value == "error", failed.output
    assert handled.status.value == "success", handled.error_message
    seen = _seen(handled)
    assert (seen["APP_MODE"], seen["USER"]) == ("nightly", alice.pw_name)
    assert "JR_SECRET" not in seen


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_a_session_of_the_runners_account_gets_its_entrys_environment_too(env, mode):
    """Not switched, the session keeps the runner's environment, with the entry's
    variables added and set over it."""
    job = env.world_readable_job().replace(":whoami", ":environment")
    env.configure(f"session_mode: {mode}\n")
    env.env.update(JR_INHERITED="kept", JR_OVERRIDDEN="runner's")
    env.job(
        "mine",
        f"object_id: {job}\nenvironment:\n  APP_MODE: nightly\n  JR_OVERRIDDEN: the entry's\n",
    )
    code, _, err = env.run()
    assert code == 0, err
    (log,) = env.log("mine")
    assert log.status.value == "success", log.error_message
    seen = _seen(log)
    assert (seen["APP_MODE"], seen["JR_INHERITED"], seen["JR_OVERRIDDEN"]) == (
        "nightly",
        "kept",
        "the entry's",
    )


@needs_root
def test_a_task_of_another_account_naming_the_entry_does_not_get_its_environment(env, users):
    """Anyone allowed to create tasks may name an entry as its record: a failure object
    that does not run as the entry's account never sees the entry's variables."""
    (alice,) = users
    ref = env.world_readable_job()
    env.job("j", f"object_id: {ref}\nuser: {alice.pw_name}\nenvironment:\n  APP_KEY: k\n")
    assert env.run()[0] == 0
    created = subprocess.run(
        env.command(
            "task", "create", ref.replace(":whoami", ":fail"),
            "--failure", ref.replace(":whoami", ":environment"), "--record", "j",
        ),
        cwd=env.root, env=env.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    code, _, err = env.run("--horizon", "3s")
    assert code == 0, err
    handled = max(env.log("j"), key=lambda log: log.entry_no)
    assert handled.status.value == "success", handled.error_message
    assert handled.user == "root"  # the task's creator, not the entry's account
    assert not any(line.startswith("APP_KEY=") for line in handled.output.splitlines())
