"""Real Unix accounts for the tests of who runs what (made with useradd; root only)."""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

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


def as_account(account: pwd.struct_passwd, *command: str) -> list[str]:
    """`command` run as `account` (runuser: the real and effective uid are its)."""
    return ["runuser", "-u", account.pw_name, "--", *command]
