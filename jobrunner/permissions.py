"""Users and what they may run (BC: the user who sets the job to Ready). Pure, but for
`current_user`, which asks the kernel who this process is.

The config's `users:` maps a user to the objects it may run (object ids or
'module:function' patterns, fnmatch-style) and whether it may create tasks. Without a
`users:` section everyone may run everything (a single-user install).

`run_as` decides who a job file runs as from who owns it, its symlink and its folders
(cron's rule); `jobrunner.ownership` does the stats.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Mapping, Sequence
from typing import Any


def current_user() -> str:
    """The account of this process's real uid: the kernel's word, never the environment's
    (LOGNAME and USER are whatever the caller set them to). A uid without an account is
    named by its number."""
    return account_name(os.getuid())


def account_name(uid: int) -> str:
    """The name of the account of `uid` (its number when it has none)."""
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


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


# --- who a job file runs as (cron's rule) -----------------------------------------------

ROOT = 0
_GROUP_OTHER_WRITE = 0o022
_STICKY = 0o1000


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Holder:
    """Something whose owner controls what a job file says: the file itself, the
    symlink naming it, or a folder holding either (its owner can replace them)."""

    kind: str  # "file", "symlink" or "folder"
    name: str  # as shown in messages
    uid: int
    mode: int


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class RunAs:
    """Who a job file runs as: `user` (None: the runner's own account), or `refusal`."""

    user: str | None = None
    refusal: str | None = None


def run_as(
    holders: Sequence[Holder],
    named: str | None,
    *,
    named_uid: int | None,
    names: Mapping[int, str],
) -> RunAs:
    """Who a job file may run as, from who controls it (cron's rule for crontabs).

    A file, its symlink, or a folder holding either that is writable by group or others
    (a folder with the sticky bit excepted) is refused. Its controller is the one
    account other than root among the holders' owners (two such accounts: refused);
    a file only root controls runs as the user it names (who must exist: `named_uid`
    is None when the account lookup failed), else as the runner's own account (user
    None); a file an account controls runs as that account and may name no other.
    `names` maps owners' uids to account names (missing: no account)."""
    refusal = _refusal(holders, names)
    if refusal is not None:
        return RunAs(refusal=refusal)
    controllers = {h.uid for h in holders if h.uid != ROOT}
    if named is not None and named_uid is None:
        return RunAs(refusal=f"user {named!r} does not exist on this machine")
    if not controllers:
        return RunAs(user=named)
    (uid,) = controllers
    owner = names.get(uid)
    if owner is None:
        return RunAs(refusal=f"the file is owned by uid {uid}, which has no account here")
    if named is None or named_uid == uid:
        return RunAs(user=owner)
    return RunAs(
        refusal=f"the file names user {named!r} but {_owners(holders, names)}; only a file "
        "that root controls may name another user"
    )


def _refusal(holders: Sequence[Holder], names: Mapping[int, str]) -> str | None:
    """Why whoever the file names, it runs as nobody: a holder others may write, or two
    accounts that control it."""
    for holder in holders:
        if holder.mode & _GROUP_OTHER_WRITE and not (
            holder.kind == "folder" and holder.mode & _STICKY
        ):
            return _writable(holder)
    controllers = {h.uid for h in holders if h.uid != ROOT}
    if len(controllers) > 1:
        a, b = sorted(controllers)
        return (
            f"the file is controlled by two accounts ({_account(a, names)} and "
            f"{_account(b, names)}: {_owners(holders, names)}); it must be controlled "
            "by root or by one account"
        )
    return None


def _writable(holder: Holder) -> str:
    what = {"file": "the file", "symlink": "its symlink", "folder": "its folder"}[holder.kind]
    fix = f"chmod go-w {holder.name}"
    return f"{what} {holder.name} is writable by group or others ({fix})"


def _account(uid: int, names: Mapping[int, str]) -> str:
    return repr(names[uid]) if uid in names else f"uid {uid}"


def _owners(holders: Sequence[Holder], names: Mapping[int, str]) -> str:
    what = {"file": "the file", "symlink": "its symlink", "folder": "its folder"}
    return ", ".join(
        f"{what[h.kind]} {h.name} is owned by {_account(h.uid, names)}"
        for h in holders
        if h.uid != ROOT
    )
