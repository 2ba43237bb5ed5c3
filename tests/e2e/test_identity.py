"""Who is asking comes from the kernel (the process's real uid), never from LOGNAME or
USER: for the Task API and for the runner's own account."""

from __future__ import annotations

import os
import pwd
import shutil

import pytest

from tests.e2e.accounts import as_user, made, needs_root, reachable_env
from tests.e2e.runner_env import Env

pytestmark = needs_root
J = "tests.entrypoints.jobs"


@pytest.fixture(scope="module")
def users():
    with made("i", "j") as found:
        yield found


@pytest.fixture
def env():
    with reachable_env() as found:
        yield found


def cli_as(env: Env, account: pwd.struct_passwd, *args: str, **names: str):
    """`jobrunner ARGS` in env's folder as `account`, with LOGNAME and USER as given."""
    return as_user(account, env, "cli", *args, **names)


def hand_over(env: Env, account: pwd.struct_passwd) -> None:
    """The installation belongs to `account` (its own runner's state, its config)."""
    env.store().close()  # creates the state
    for folder, _, files in os.walk(env.root):
        for path in [folder, *(os.path.join(folder, f) for f in files)]:
            os.chown(path, account.pw_uid, account.pw_gid)
    shutil.chown(env.root, "root")


def test_a_task_runs_as_its_creator_whatever_logname_says(env, users):
    alice, _ = users
    hand_over(env, alice)
    created = cli_as(env, alice, "task", "create", f"{J}:ok", LOGNAME="root", USER="root")
    assert created.returncode == 0, created.stderr
    db = env.store()
    try:
        (task,) = db.list_tasks()
    finally:
        db.close()
    assert task.user == alice.pw_name


def test_logname_does_not_lend_another_users_permission(env, users):
    alice, bob = users
    env.configure(
        f"users:\n  {alice.pw_name}:\n    objects: ['*']\n    create_tasks: false\n"
        f"  {bob.pw_name}:\n    objects: ['*']\n    create_tasks: true\n"
    )
    hand_over(env, alice)
    for names in ({"LOGNAME": bob.pw_name}, {"LOGNAME": bob.pw_name, "USER": bob.pw_name}):
        refused = cli_as(env, alice, "task", "create", f"{J}:ok", **names)
        assert (refused.returncode, refused.stderr.strip()) == (
            2,
            f"jobrunner: User {alice.pw_name!r} has no permission to create tasks.",
        )


def test_another_account_gets_a_clear_refusal_from_a_private_state(env, users):
    alice, _ = users
    env.store().close()
    refused = cli_as(env, alice, "task", "create", f"{J}:ok", LOGNAME="root")
    state = env.root / ".jobrunner"
    assert (refused.returncode, refused.stderr.strip()) == (
        2,
        f"jobrunner: permission denied: the state in {state} is private to 'root', and this "
        f"is {alice.pw_name!r}; run this as 'root' (e.g. sudo -u root)",
    )
    listed = cli_as(env, alice, "list")
    assert listed.returncode == 2
    assert "Traceback" not in listed.stderr


def test_the_runner_is_who_the_kernel_says(env, users):
    """The runner's own account (entries that name no user) is its uid's, not LOGNAME's."""
    alice, _ = users
    env.configure(f"users:\n  {alice.pw_name}:\n    objects: ['*']\n")
    env.env.update(LOGNAME=alice.pw_name, USER=alice.pw_name)
    env.job("j", f"object_id: {J}:ok\n")
    env.run()
    entry = env.entry("j")
    assert entry is not None
    assert entry.error_message == f"User 'root' has no permission to run {J + ':ok'!r}."
    assert env.log("j")[0].user == "root"
