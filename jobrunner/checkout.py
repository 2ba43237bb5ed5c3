"""This runner's checkout of the job files: its revision, and how a store's revision
stands to it. The revision is the config's deploy number ($JOBRUNNER_REVISION, else
`revision:`) when it gives one; else, for a store several runners share, the git commit
checked out (HEAD) in the repository that holds jobs_dir; else none. (A single runner's
own store has no other checkout to be older than: its git checkout may move back.)
Thin shell over `revision` (the rule): git is run, never read by hand; its answers about
two commits are kept where they never change.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from jobrunner import config, revision

GIT_TIMEOUT = 10.0  # seconds; a git that does not answer counts as no answer
_KEPT = 256  # pairs of commits whose ancestry is kept


class Checkout:
    def __init__(self, *, git: bool) -> None:
        """`git`: take the git commit for the revision when the config gives none."""
        self.git = git
        self._ancestry: dict[tuple[str, str], revision.Ancestry] = {}

    def read(self, cfg: config.Config) -> str | None:
        """The checkout's revision now (git is asked each time: a pull moves it)."""
        if cfg.revision is not None:
            return cfg.revision
        if not self.git:
            return None
        head = _git(cfg.jobs_dir, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        if head is None:
            return None
        found = head.stdout.strip()
        return found if head.returncode == 0 and revision.is_commit(found) else None

    def standing(
        self, cfg: config.Config, stored: str | None, own: str | None
    ) -> revision.Standing:
        """How the store's revision `stored` stands to this checkout's `own`; for two
        commits, git says which came first (a commit this repository does not have came
        first of nothing: it may be a newer one, fetched elsewhere)."""
        ancestry = None
        commits = bool(stored and own) and revision.is_commit(stored or "")
        if commits and stored != own and revision.is_commit(own or ""):
            ancestry = self._ancestry_of(cfg.jobs_dir, stored or "", own or "")
        return revision.standing(stored, own, ancestry)

    def _ancestry_of(self, folder: Path, stored: str, own: str) -> revision.Ancestry:
        key = (stored, own)
        found = self._ancestry.get(key)
        if found is not None:
            return found
        found = revision.Ancestry(
            stored_first=_is_ancestor(folder, stored, own),
            own_first=_is_ancestor(folder, own, stored),
        )
        # An answer holds for good, but "neither" about a commit this repository does
        # not have yet: a fetch may bring it, and show it to be a descendant.
        if found.stored_first or found.own_first or _has(folder, stored):
            if len(self._ancestry) >= _KEPT:
                self._ancestry.clear()
            self._ancestry[key] = found
        return found


def _is_ancestor(folder: Path, first: str, then: str) -> bool:
    """Whether commit `first` is `then` or an ancestor of it (exit 0; 1: not; 128: a
    commit the repository does not have)."""
    done = _git(folder, "merge-base", "--is-ancestor", first, then)
    return done is not None and done.returncode == 0


def _has(folder: Path, commit: str) -> bool:
    done = _git(folder, "cat-file", "-e", f"{commit}^{{commit}}")
    return done is not None and done.returncode == 0


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """git in `folder`, with none of the caller's GIT_* settings (a hook's GIT_DIR would
    point it elsewhere); None when git cannot be run or does not answer in time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=GIT_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
