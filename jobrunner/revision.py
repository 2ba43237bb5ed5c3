"""Revisions of the job files, and the rule that keeps a store from going backwards.

A checkout of the job files has a revision: an explicit deploy number (decimal digits,
compared as integers) or a git commit (its object name; git answers which of two commits
came first). The store keeps the revision of the newest checkout that reconciled it.
A checkout writes definitions only while the store's revision is not newer than its own
(`WRITES`): an older checkout, or one that cannot tell (a commit it does not have, a
revision of another kind, none of its own), leaves the store's definitions as they are.

Pure: the shell (`checkout`) reads a checkout's revision and, for two commits, asks git
about their ancestry before calling `standing`; `guard` applies the rule to a reconcile's
plan.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobrunner import model

if TYPE_CHECKING:  # (imported by `guard`: the config, which reads revisions, needs none)
    from jobrunner import reconcile

MAX_DIGITS = 18  # a deploy number fits a signed 64-bit integer
_NUMBER = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 object names


class Standing(enum.StrEnum):
    """How the store's revision stands to a checkout's (the value is logged)."""

    NONE = "none"  # the store has none yet
    OLDER = "older"  # the store's is older: a lower number, or an ancestor commit
    EQUAL = "equal"
    NEWER = "newer"  # the store's is newer: a higher number, or a descendant commit
    UNRELATED = "unrelated"  # neither, or this checkout cannot tell (see `standing`)


WRITES = frozenset({Standing.NONE, Standing.OLDER, Standing.EQUAL})
"""The standings in which a checkout writes (and removes) the store's definitions."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Ancestry:
    """What git says of two different commits: whether each is an ancestor of the
    other (a commit the repository does not have is an ancestor of nothing)."""

    stored_first: bool
    own_first: bool


def number(text: str) -> str:
    """A deploy number as stored (leading zeros dropped); ValueError when `text` is not
    a whole number of at most MAX_DIGITS digits."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a deploy number (a whole number of at most {MAX_DIGITS} digits)"
        )
    return str(int(text))


def is_number(revision: str) -> bool:
    return _NUMBER.fullmatch(revision) is not None


def is_commit(revision: str) -> bool:
    return _COMMIT.fullmatch(revision) is not None


def standing(stored: str | None, own: str | None, ancestry: Ancestry | None = None) -> Standing:
    """How the store's revision `stored` stands to this checkout's `own` (None: none).
    Two deploy numbers compare as integers; two different commits by their `ancestry`
    (UNRELATED without it: diverged, or a commit not in this repository). A checkout
    with no revision cannot tell unless the store has none either; revisions of two
    kinds never compare."""
    if stored is None:
        return Standing.NONE
    if own is None:
        return Standing.UNRELATED
    if stored == own:
        return Standing.EQUAL
    if is_number(stored) and is_number(own):
        return Standing.OLDER if int(stored) < int(own) else Standing.NEWER
    if not (is_commit(stored) and is_commit(own)) or ancestry is None:
        return Standing.UNRELATED
    if ancestry.stored_first:
        return Standing.OLDER
    return Standing.NEWER if ancestry.own_first else Standing.UNRELATED


def short(revision: str | None) -> str:
    """A revision as people read it: a commit's first 12 characters, a number whole."""
    if revision is None:
        return "-"
    return revision[:12] if is_commit(revision) else revision


@dataclass(frozen=True, kw_only=True, slots=True)
class Guarded:
    """A reconcile's plan as the rule lets a checkout write it: `plan` is what it
    writes, `kept` the changes it does not make (the store keeps its definitions), with
    the store's revision, the checkout's and how the one stands to the other."""

    plan: reconcile.Plan
    kept: tuple[reconcile.Change, ...]
    standing: Standing
    stored: str | None = None
    own: str | None = None


def guard(plan: reconcile.Plan, stored: str | None, own: str | None, found: Standing) -> Guarded:
    """What a checkout at revision `own` writes of `plan` while the store's revision is
    `stored` and stands to `own` as `found`. In a standing of WRITES: the whole plan,
    with the store's revision moved to `own` by compare-and-set from `stored` (a checkout
    that committed another revision meanwhile makes it a conflict: read again, decide
    again); a checkout with no revision on a store with none writes as it always did.
    Otherwise nothing: every change it would make is `kept`, a rejected file is still
    reported but its entry is not marked, and a touched file is not restamped."""
    from jobrunner import reconcile

    if found in WRITES:
        move = None if own is None else model.RevisionMove(expected=stored, to=own)
        moved = dataclasses.replace(plan, revision=move)
        return Guarded(plan=moved, kept=(), standing=found, stored=stored, own=own)
    kept = tuple(c for c in plan.changes if c.kind in reconcile.CHANGING)
    reported = tuple(
        dataclasses.replace(c, before=None, after=None)
        for c in plan.changes
        if c.kind is reconcile.ChangeKind.REJECT
    )
    held_back = reconcile.Plan(changes=reported, unchanged=plan.unchanged)
    return Guarded(plan=held_back, kept=kept, standing=found, stored=stored, own=own)
