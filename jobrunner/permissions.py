"""Users and what they may run (BC: the user who sets the job to Ready). Pure.

The config's `users:` maps a user to the objects it may run (object ids or
'module:function' patterns, fnmatch-style) and whether it may create tasks. Without a
`users:` section everyone may run everything (a single-user install).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any


def describe(object_id: int | str) -> str:
    return f"codeunit {object_id}" if isinstance(object_id, int) else repr(object_id)


def run_refusal(
    users: Mapping[str, Any] | None, user: str, object_id: int | str, ref: str
) -> str | None:
    """None when `user` may run the object, else the message that fails the run."""
    if not users:
        return None
    grants = users.get(user)
    if grants is not None:
        for pattern in grants.get("objects", []):
            text = str(pattern)
            if text == str(object_id) or fnmatch.fnmatchcase(ref, text):
                return None
    return f"User {user!r} has no permission to run {describe(object_id)}."


def may_create_tasks(users: Mapping[str, Any] | None, user: str) -> bool:
    if not users:
        return True
    return bool(users.get(user, {}).get("create_tasks", False))
