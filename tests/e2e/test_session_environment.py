"""A session switched to another account gets that account's own clean environment (as
`su -` and cron give it), not the runner's with its secrets; the config names what else
passes through."""

from __future__ import annotations

import pytest

from tests.e2e.accounts import made, needs_root

pytestmark = needs_root


@pytest.fixture(scope="module")
def users():
    with made("e") as found:
        yield found


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
