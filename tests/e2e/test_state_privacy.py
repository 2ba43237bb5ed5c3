"""The state folder is the runner's account's alone, whatever the umask: no other account
reads the store, the log or a session's output, nor holds the runner's lock."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.accounts import as_user, made, needs_root, reachable_env
from tests.e2e.runner_env import Env

pytestmark = needs_root
J = "tests.entrypoints.jobs"


@pytest.fixture(scope="module")
def users():
    with made("s") as found:
        yield found


@pytest.fixture
def env():
    with reachable_env() as found:
        yield found


def start(env: Env, umask: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["sh", "-c", f'umask {umask:03o} && exec "$0" -m jobrunner run', sys.executable],
        cwd=env.root,
        env=env.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def modes(state: Path) -> dict[str, str]:
    out = {".": f"{stat.S_IMODE(state.stat().st_mode):04o}"}
    for folder, dirs, files in os.walk(state):
        for name in dirs + files:
            path = Path(folder, name)
            if not path.is_socket():
                out[str(path.relative_to(state))] = f"{stat.S_IMODE(path.lstat().st_mode):04o}"
    return out


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_every_state_file_is_private_whatever_the_umask(env, users, umask):
    (other,) = users
    env.job("j", f"object_id: {J}:slow\nparameter_string: '30'\n")
    proc = start(env, umask)
    try:
        env.wait_for_mark("j", "slow")
        state = env.root / ".jobrunner"
        (out,) = (state / "sessions").glob("*.out")
        found = modes(state)
        for path in (".", "jobrunner.sqlite3", "runner.lock", "log", "log/jobrunner.jsonl"):
            assert as_user(other, env, "read", str(state / path)).stdout == "PermissionError\n"
        assert as_user(other, env, "read", str(out)).stdout == "PermissionError\n"
        assert as_user(other, env, "flock", str(state / "runner.lock")).stdout == (
            "PermissionError\n"
        )
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert found == {
        ".": "0711",  # others reach tasks.sock by name, and nothing else
        "jobrunner.sqlite3": "0600",
        "jobrunner.sqlite3-wal": "0600",
        "jobrunner.sqlite3-shm": "0600",
        "runner.lock": "0600",
        "log": "0700",
        "log/jobrunner.jsonl": "0600",
        "sessions": "0700",
        f"sessions/{out.name}": "0600",
    }


def test_a_start_tightens_what_others_could_read_and_says_so(env):
    env.store().close()
    state = env.root / ".jobrunner"
    (state / "log").mkdir(mode=0o755)
    (state / "log" / "jobrunner.jsonl").write_text("")
    for path, mode in (
        (state, 0o755),
        (state / "log", 0o755),
        (state / "jobrunner.sqlite3", 0o644),
    ):
        path.chmod(mode)
    (state / "log" / "jobrunner.jsonl").chmod(0o640)
    code, found, err = env.run()
    assert code == 0, err
    tightened = {
        e["path"]: (e["mode"], e["now"]) for e in found if e["event"] == "state_mode_tightened"
    }
    assert tightened == {
        str(state): ("0755", "0711"),
        str(state / "log"): ("0755", "0700"),
        str(state / "jobrunner.sqlite3"): ("0644", "0600"),
        str(state / "log" / "jobrunner.jsonl"): ("0640", "0600"),
    }
    assert all(e["level"] == "warning" for e in found if e["event"] == "state_mode_tightened")
    assert modes(state)["."] == "0711"


def test_a_state_folder_others_control_is_refused(env, users):
    (other,) = users
    state = env.root / ".jobrunner"
    state.mkdir()
    os.chown(state, other.pw_uid, -1)
    code, _, err = env.run()
    assert (code, err.strip()) == (
        2,
        f"jobrunner: the state folder {state} is owned by {other.pw_name!r}, not by 'root' "
        "that runs the runner: chown it, or use a state_dir of its own",
    )
    assert list(state.iterdir()) == []  # nothing was opened in it
    os.chown(state, 0, -1)
    state.chmod(0o770)
    code, _, err = env.run()
    assert (code, err.strip()) == (
        2,
        f"jobrunner: the state folder {state} is writable by group or others (mode 0770): "
        f"anyone there could replace its files; check what is in it, then chmod 0700 {state}",
    )
