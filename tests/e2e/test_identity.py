"""Who is asking comes from the kernel (the process's real uid), never from LOGNAME or
USER: for the Task API and for the runner's own account."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import time

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
        f"is {alice.pw_name!r}; run this as 'root' (e.g. sudo -u root) (or ask its running "
        f"runner: no runner is running on {state})",
    )
    for command in (("list",), ("task", "list")):
        listed = cli_as(env, alice, *command)
        assert listed.returncode == 2
        assert listed.stderr.startswith("jobrunner: permission denied: the state in")


def test_another_account_asks_the_running_runner_which_knows_who_it_is(env, users):
    """Through the runner's task socket: the kernel names the sender, LOGNAME does not."""
    alice, bob = users
    env.configure(
        f"users:\n  {alice.pw_name}:\n    objects: ['*']\n    create_tasks: true\n"
        f"  {bob.pw_name}:\n    objects: ['*']\n    create_tasks: false\n"
        "  root:\n    objects: ['*']\n    create_tasks: true\n"
    )
    job = env.world_readable_job()
    proc = env.start()
    try:
        deadline = time.monotonic() + 15
        while not (env.root / ".jobrunner" / "tasks.sock").exists():
            assert time.monotonic() < deadline, "the runner did not start"
            time.sleep(0.02)
        made = cli_as(env, alice, "task", "create", job, LOGNAME="root", USER="root")
        assert made.returncode == 0, made.stderr
        task_id = made.stdout.strip()
        refused = cli_as(env, bob, "task", "create", job, LOGNAME="root", USER="root")
        assert (refused.returncode, refused.stderr.strip()) == (
            2,
            f"jobrunner: User {bob.pw_name!r} has no permission to create tasks.",
        )
        deadline = time.monotonic() + 15
        while not [r for r in env.log(f"task:{task_id}") if r.end_at is not None]:
            assert time.monotonic() < deadline, "the task did not run"
            time.sleep(0.05)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    (run,) = env.log(f"task:{task_id}")
    assert (run.user, run.status.value) == (alice.pw_name, "success"), run.error_message
    assert run.output.startswith(f"uid={alice.pw_uid} ")
    asked = [json.loads(line) for line in out.splitlines() if '"task_requested"' in line]
    assert [(e["uid"], "id" in e, e.get("error")) for e in asked] == [
        (alice.pw_uid, True, None),
        (bob.pw_uid, False, f"User {bob.pw_name!r} has no permission to create tasks."),
    ]


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
