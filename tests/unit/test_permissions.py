"""Who a job file runs as (permissions.run_as): cron's rule, as a table."""

from __future__ import annotations

import pytest

from jobrunner import permissions
from jobrunner.permissions import Holder, RunAs

ROOT, ALICE, BOB = 0, 1001, 1002
NAMES = {ROOT: "root", ALICE: "alice", BOB: "bob"}
UIDS = {"root": ROOT, "alice": ALICE, "bob": BOB}


def file(uid: int, mode: int = 0o644, name: str = "jobs.d/x.yaml") -> Holder:
    return Holder(kind="file", name=name, uid=uid, mode=0o100000 | mode)


def folder(uid: int = ROOT, mode: int = 0o755, name: str = "jobs.d") -> Holder:
    return Holder(kind="folder", name=name, uid=uid, mode=0o040000 | mode)


def link(uid: int) -> Holder:
    return Holder(kind="symlink", name="jobs.d/x.yaml", uid=uid, mode=0)


def decide(holders: list[Holder], named: str | None) -> RunAs:
    return permissions.run_as(
        holders, named, named_uid=UIDS.get(named) if named else None, names=NAMES
    )


OWNED_BY_ALICE = (
    "the file names user {named!r} but the file jobs.d/x.yaml is owned by 'alice'; only a "
    "file that root controls may name another user"
)


@pytest.mark.parametrize(
    ("holders", "named", "expected"),
    [
        pytest.param([file(ROOT), folder()], None, RunAs(user=None), id="root-file-no-user"),
        pytest.param([file(ROOT), folder()], "root", RunAs(user="root"), id="root-file-root"),
        pytest.param([file(ROOT), folder()], "alice", RunAs(user="alice"), id="root-file-other"),
        pytest.param([file(ALICE), folder()], None, RunAs(user="alice"), id="user-file-no-user"),
        pytest.param([file(ALICE), folder()], "alice", RunAs(user="alice"), id="user-file-self"),
        pytest.param(
            [file(ALICE), folder()],
            "root",
            RunAs(refusal=OWNED_BY_ALICE.format(named="root")),
            id="user-file-names-root",
        ),
        pytest.param(
            [file(ALICE), folder()],
            "bob",
            RunAs(refusal=OWNED_BY_ALICE.format(named="bob")),
            id="user-file-names-other",
        ),
        pytest.param(
            [file(ROOT, 0o664), folder()],
            "alice",
            RunAs(
                refusal="the file jobs.d/x.yaml is writable by group or others "
                "(chmod go-w jobs.d/x.yaml)"
            ),
            id="group-writable",
        ),
        pytest.param(
            [file(ALICE, 0o646), folder()],
            None,
            RunAs(
                refusal="the file jobs.d/x.yaml is writable by group or others "
                "(chmod go-w jobs.d/x.yaml)"
            ),
            id="world-writable-no-user",
        ),
        pytest.param(
            [file(ROOT), folder(mode=0o777)],
            None,
            RunAs(refusal="its folder jobs.d is writable by group or others (chmod go-w jobs.d)"),
            id="world-writable-folder",
        ),
        pytest.param(
            [file(ROOT), folder(mode=0o775)],
            "root",
            RunAs(refusal="its folder jobs.d is writable by group or others (chmod go-w jobs.d)"),
            id="group-writable-folder",
        ),
        pytest.param(
            [file(ROOT), folder(mode=0o1777)], "bob", RunAs(user="bob"), id="sticky-folder"
        ),
        pytest.param(
            [file(ALICE), folder(mode=0o1777)], None, RunAs(user="alice"), id="sticky-user-file"
        ),
        pytest.param(
            [file(ROOT), folder(ALICE)],
            "root",
            RunAs(
                refusal="the file names user 'root' but its folder jobs.d is owned by 'alice'; "
                "only a file that root controls may name another user"
            ),
            id="user-folder-names-root",
        ),
        pytest.param([file(ROOT), folder(ALICE)], None, RunAs(user="alice"), id="user-folder"),
        pytest.param(
            [file(ALICE, name="/home/alice/x.yaml"), folder(), link(ROOT)],
            "root",
            RunAs(
                refusal="the file names user 'root' but the file /home/alice/x.yaml is owned by "
                "'alice'; only a file that root controls may name another user"
            ),
            id="root-link-to-user-file",
        ),
        pytest.param(
            [file(ALICE, name="/home/alice/x.yaml"), folder(), link(ROOT)],
            None,
            RunAs(user="alice"),
            id="root-link-to-user-file-no-user",
        ),
        pytest.param(
            [file(ROOT, name="/etc/x.yaml"), folder(), link(ALICE)],
            "root",
            RunAs(
                refusal="the file names user 'root' but its symlink jobs.d/x.yaml is owned by "
                "'alice'; only a file that root controls may name another user"
            ),
            id="user-link-to-root-file",
        ),
        pytest.param(
            [file(ROOT), folder(), link(ROOT)], "bob", RunAs(user="bob"), id="root-link-root-file"
        ),
        pytest.param(
            [file(BOB), folder(ALICE)],
            None,
            RunAs(
                refusal="the file is controlled by two accounts ('alice' and 'bob': the file "
                "jobs.d/x.yaml is owned by 'bob', its folder jobs.d is owned by 'alice'); it "
                "must be controlled by root or by one account"
            ),
            id="two-accounts",
        ),
        pytest.param(
            [file(ROOT), folder()],
            "ghost",
            RunAs(refusal="user 'ghost' does not exist on this machine"),
            id="no-such-user",
        ),
        pytest.param(
            [file(4242), folder()],
            None,
            RunAs(refusal="the file is owned by uid 4242, which has no account here"),
            id="owner-without-account",
        ),
    ],
)
def test_run_as(holders: list[Holder], named: str | None, expected: RunAs) -> None:
    assert decide(holders, named) == expected


def test_run_as_refuses_a_writable_holder_before_anything_else() -> None:
    """A file anyone may write is refused whoever it names and whoever owns it."""
    for owner in (ROOT, ALICE):
        for named in (None, "root", "alice"):
            found = decide([file(owner, 0o666), folder()], named)
            assert found.user is None
            assert found.refusal is not None
            assert "writable by group or others" in found.refusal


@pytest.mark.parametrize("mode", range(0o000, 0o1000, 0o001))
def test_run_as_every_file_mode(mode: int) -> None:
    """Every permission mode of a root-owned file naming alice: refused exactly when group
    or others may write."""
    found = decide([file(ROOT, mode), folder()], "alice")
    assert (found.refusal is not None) == bool(mode & 0o022)
    assert (found.user == "alice") == (not mode & 0o022)
