"""Who a job file runs as, with real accounts: `validate` locates each refusal and the
real runner runs each file as the account it may, or never."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.e2e.accounts import made, needs_root
from tests.e2e.runner_env import ROOT, Env

pytestmark = needs_root


@pytest.fixture(scope="module")
def users():
    with made("a", "b") as found:
        yield found


@pytest.fixture
def make_env():
    """Env(folder) for a folder of the test's choosing; its extra folders removed after."""
    made: list[Env] = []

    def make(folder: Path) -> Env:
        made.append(Env(folder))
        return made[-1]

    yield make
    for env in made:
        for path in env.cleanup:
            shutil.rmtree(path, ignore_errors=True)


def validate(env: Env, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "jobrunner", "validate", *args],
        cwd=env.root,
        env=env.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def put(path: Path, text: str, uid: int = 0, mode: int = 0o644) -> None:
    path.write_text(text)
    os.chown(path, uid, -1)
    os.chmod(path, mode)


def ran_as(env: Env, entry_id: str) -> int | None:
    """The uid the entry's one run ran as; None when it never ran."""
    log = env.log(entry_id)
    if not log:
        return None
    assert len(log) == 1, log
    assert log[0].status.value == "success", log[0].error_message
    return int(log[0].output.split()[0].removeprefix("uid="))


def test_a_file_runs_as_its_owner_and_only_roots_may_name_another_user(env, tmp_path, users):
    alice, bob = users
    job = env.world_readable_job()
    put(env.jobs / "owner_names_root.yaml", f"object_id: {job}\nuser: root\n", alice.pw_uid)
    put(env.jobs / "owner_names_none.yaml", f"object_id: {job}\n", alice.pw_uid)
    put(env.jobs / "owner_names_self.yaml", f"object_id: {job}\nuser: {alice.pw_name}\n",
        alice.pw_uid)  # fmt: skip
    put(env.jobs / "owner_names_other.yaml", f"object_id: {job}\nuser: {bob.pw_name}\n",
        alice.pw_uid)  # fmt: skip
    put(env.jobs / "root_names_bob.yaml", f"object_id: {job}\nuser: {bob.pw_name}\n")
    put(env.jobs / "root_names_none.yaml", f"object_id: {job}\n")
    put(env.jobs / "group_writable.yaml", f"object_id: {job}\nuser: {bob.pw_name}\n", 0, 0o664)
    put(env.jobs / "world_writable.yaml", f"object_id: {job}\n", alice.pw_uid, 0o646)
    theirs = tmp_path / "alice"
    theirs.mkdir()
    os.chown(theirs, alice.pw_uid, -1)
    put(theirs / "target.yaml", f"object_id: {job}\nuser: root\n", alice.pw_uid)
    put(theirs / "plain.yaml", f"id: root_link_no_user\nobject_id: {job}\n", alice.pw_uid)
    (env.jobs / "root_link.yaml").symlink_to(theirs / "target.yaml")
    (env.jobs / "root_link_no_user.yaml").symlink_to(theirs / "plain.yaml")
    mine = tmp_path / "root"
    mine.mkdir()
    put(mine / "target.yaml", f"id: user_link\nobject_id: {job}\nuser: root\n")
    (env.jobs / "user_link.yaml").symlink_to(mine / "target.yaml")
    os.lchown(env.jobs / "user_link.yaml", alice.pw_uid, -1)

    a, b = alice.pw_name, bob.pw_name
    found = validate(env)
    only_root = "only a file that root controls may name another user"
    assert found.splitlines() == [
        "jobs.d/group_writable.yaml:2: user: the file jobs.d/group_writable.yaml is writable "
        "by group or others (chmod go-w jobs.d/group_writable.yaml)",
        f"jobs.d/owner_names_other.yaml:2: user: the file names user {b!r} but the file "
        f"jobs.d/owner_names_other.yaml is owned by {a!r}; {only_root}",
        "jobs.d/owner_names_root.yaml:2: user: the file names user 'root' but the file "
        f"jobs.d/owner_names_root.yaml is owned by {a!r}; {only_root}",
        f"jobs.d/root_link.yaml:2: user: the file names user 'root' but the file "
        f"{theirs}/target.yaml is owned by {a!r}, its folder {theirs} is owned by {a!r}; "
        f"{only_root}",
        "jobs.d/user_link.yaml:3: user: the file names user 'root' but its symlink "
        f"jobs.d/user_link.yaml is owned by {a!r}; {only_root}",
        "jobs.d/world_writable.yaml:1: <document>: the file jobs.d/world_writable.yaml is "
        "writable by group or others (chmod go-w jobs.d/world_writable.yaml)",
    ]
    code, _, _ = env.run()
    assert code == 0
    assert {
        name: ran_as(env, name)
        for name in (
            "owner_names_root",
            "owner_names_none",
            "owner_names_self",
            "owner_names_other",
            "root_names_bob",
            "root_names_none",
            "group_writable",
            "world_writable",
            "root_link",
            "root_link_no_user",
            "user_link",
        )
    } == {
        "owner_names_root": None,
        "owner_names_none": alice.pw_uid,
        "owner_names_self": alice.pw_uid,
        "owner_names_other": None,
        "root_names_bob": bob.pw_uid,
        "root_names_none": 0,
        "group_writable": None,
        "world_writable": None,
        "root_link": None,
        "root_link_no_user": alice.pw_uid,
        "user_link": None,
    }
    # the account a file runs as is stored with its definition, and shown
    stored = env.entry("owner_names_none")
    assert stored is not None
    assert stored.spec.user == a


def test_a_chown_changes_who_the_entry_runs_as(env, users):
    alice, _ = users
    job = env.world_readable_job()
    put(env.jobs / "j.yaml", f"object_id: {job}\nrecurrence:\n  every: 1h\n")
    env.run()
    assert env.entry("j").spec.user is None
    os.chown(env.jobs / "j.yaml", alice.pw_uid, -1)
    env.run()
    assert env.entry("j").spec.user == alice.pw_name


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_a_folder_others_may_write_runs_none_of_its_files(tmp_path, users, mode, make_env):
    _, bob = users
    env = make_env(tmp_path)
    job = env.world_readable_job()
    put(env.jobs / "j.yaml", f"object_id: {job}\nuser: {bob.pw_name}\n")
    os.chmod(env.jobs, mode)
    assert validate(env).splitlines() == [
        "jobs.d/j.yaml:2: user: its folder jobs.d is writable by group or others "
        "(chmod go-w jobs.d)"
    ]
    env.run()
    assert env.entry("j") is None
    assert ran_as(env, "j") is None


def test_a_folder_an_account_owns_runs_its_files_as_that_account(tmp_path, users, make_env):
    alice, bob = users
    env = make_env(tmp_path)
    job = env.world_readable_job()
    os.chown(env.jobs, alice.pw_uid, -1)
    put(env.jobs / "names_bob.yaml", f"object_id: {job}\nuser: {bob.pw_name}\n")
    put(env.jobs / "names_none.yaml", f"object_id: {job}\n")
    assert validate(env).splitlines() == [
        f"jobs.d/names_bob.yaml:2: user: the file names user {bob.pw_name!r} but its folder "
        f"jobs.d is owned by {alice.pw_name!r}; only a file that root controls may name "
        "another user"
    ]
    env.run()
    assert ran_as(env, "names_bob") is None
    assert ran_as(env, "names_none") == alice.pw_uid


def test_no_resolve_skips_the_machine_checks_and_a_strict_validate_makes_them(env, users):
    """On a CI machine (`--no-resolve`) neither owners nor modes nor accounts are judged;
    without it they are."""
    alice, _ = users
    put(env.jobs / "j.yaml", "object_id: 1\nuser: someone-on-the-host\n", alice.pw_uid, 0o666)
    assert validate(env, "--no-resolve") == ""
    assert "jobs.d/j.yaml:2: user: the file jobs.d/j.yaml is writable" in validate(env)


def test_a_non_root_reader_accepts_its_own_files(users):
    """`validate` as an ordinary account of its own files in its own folder."""
    alice, _ = users
    home = Path(tempfile.mkdtemp(prefix="jobrunner-own-", dir="/tmp"))
    try:
        jobs = home / "jobs.d"
        jobs.mkdir()
        put(jobs / "j.yaml", "object_id: 1\n", alice.pw_uid)
        put(jobs / "named.yaml", f"object_id: 1\nuser: {alice.pw_name}\n", alice.pw_uid)
        (home / "jobrunner.yaml").write_text("timezone: UTC\nobjects:\n  1: os:getcwd\n")
        for path in (home, jobs, home / "jobrunner.yaml"):
            os.chown(path, alice.pw_uid, -1)
        proc = subprocess.run(
            [sys.executable, "-m", "tests.e2e.as_user", alice.pw_name, "cli", "validate"],
            cwd=home,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    finally:
        shutil.rmtree(home)


def test_a_parent_folder_counts_as_a_holder(tmp_path, users, make_env):
    """Whoever owns a folder above the jobs folder can rename it and put another in its
    place; a parent others may write (no sticky bit) refuses every file."""
    alice, bob = users
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, alice.pw_uid, -1)
    env = make_env(theirs)
    job = env.world_readable_job()
    put(env.jobs / "names_bob.yaml", f"object_id: {job}\nuser: {bob.pw_name}\n")
    put(env.jobs / "names_none.yaml", f"object_id: {job}\n")
    assert validate(env).splitlines() == [
        f"jobs.d/names_bob.yaml:2: user: the file names user {bob.pw_name!r} but its folder "
        f"{theirs} is owned by {alice.pw_name!r}; only a file that root controls may name "
        "another user"
    ]
    env.run()
    assert ran_as(env, "names_bob") is None
    assert ran_as(env, "names_none") == alice.pw_uid
    os.chown(theirs, 0, -1)
    theirs.chmod(0o777)
    assert validate(env).splitlines() == [
        f"jobs.d/{name}.yaml:{line}: {where}: its folder {theirs} is writable by group or "
        f"others (chmod go-w {theirs})"
        for name, line, where in (("names_bob", 2, "user"), ("names_none", 1, "<document>"))
    ]
