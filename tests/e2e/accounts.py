"""Real Unix accounts for the tests of who runs what (made with useradd; root only)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.runner_env import Env

Completed = subprocess.CompletedProcess[str]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="makes real accounts (useradd)")


@contextmanager
def made(*tags: str) -> Iterator[list[pwd.struct_passwd]]:
    """Accounts that exist for the block, one per tag (no home folder)."""
    names = [f"jrt{os.getpid()}{tag}" for tag in tags]
    made: list[str] = []
    try:
        for name in names:
            subprocess.run(
                ["useradd", "--no-create-home", "--shell", "/bin/sh", name],
                check=True,
                capture_output=True,
            )
            made.append(name)
        yield [pwd.getpwnam(n) for n in names]
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True, check=False)


@contextmanager
def reachable_env() -> Iterator[Env]:
    """An installation in a folder other accounts can reach (a tmp_path's parents are
    root's only), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="jobrunner-accounts-", dir="/tmp"))
    folder.chmod(0o755)
    found = Env(folder)
    try:
        yield found
    finally:
        for path in [*found.cleanup, folder]:
            shutil.rmtree(path, ignore_errors=True)


def as_user(account: pwd.struct_passwd, env: Env, *args: str, **names: str) -> Completed:
    """`python -m tests.e2e.as_user USER ARGS` in env's folder (see that module), with
    the environment variables `names` set."""
    return subprocess.run(
        [sys.executable, "-m", "tests.e2e.as_user", account.pw_name, *args],
        cwd=env.root,
        env={**env.env, **names},
        capture_output=True,
        text=True,
        timeout=60,
    )
