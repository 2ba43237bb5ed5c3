"""Run the CLI (or a small action) as another account: `python -m tests.e2e.as_user USER
ACTION ARGS...`. Started as root, it imports what it needs, then becomes USER (groups,
gid, uid: real and effective) and leaves the environment as it is (so LOGNAME and USER
are whatever the caller set). The interpreter's own files need not be readable by USER.

ACTION: `cli ARGS` runs `jobrunner ARGS`; `read PATH` and `flock PATH` try to read or
lock a file and print `ok` or the error's name.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import sys

import jobrunner.cli
import jobrunner.runner
import jobrunner.schemas
import jobrunner.tasks
import jobrunner.validate  # imported before the uid changes


def warm() -> None:
    """What the CLI loads lazily from the interpreter's files (USER may not read them)."""
    import importlib.readers  # noqa: F401
    import json  # noqa: F401
    import traceback  # noqa: F401

    for name in ("config.schema.json", "job.schema.json"):
        jobrunner.schemas.fast_validator(name)
        jobrunner.schemas.full_validator(name)


def become(name: str) -> None:
    account = pwd.getpwnam(name)
    os.initgroups(name, account.pw_gid)
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)


def attempt(action: str, path: str) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
        if action == "read":
            os.read(fd, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return type(exc).__name__
    return "ok"


def main(argv: list[str]) -> int:
    name, action, *rest = argv
    warm()
    become(name)
    if action == "cli":
        return jobrunner.cli.main(rest)
    print(attempt(action, rest[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
