"""Real git repositories of job files for the tests of checkouts at different revisions:
an origin to commit to, and clones of it (one per runner) that pull, or fetch only."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, env=_ENV, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


class Origin:
    """A repository whose root holds the job files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True)
        git(folder, "init", "-q", "-b", "main")

    def commit(self, files: dict[str, str | None], message: str = "deploy") -> str:
        """Write (text) or delete (None) these job files, commit; the new commit."""
        for name, text in files.items():
            path = self.folder / name
            if text is None:
                git(self.folder, "rm", "-q", name)
            else:
                path.write_text(text)
                git(self.folder, "add", name)
        git(self.folder, "commit", "-q", "-m", message)
        return git(self.folder, "rev-parse", "HEAD")

    def clone(self, into: Path) -> Path:
        """A checkout of main at `into` (an empty or missing folder)."""
        into.parent.mkdir(parents=True, exist_ok=True)
        git(into.parent, "clone", "-q", str(self.folder), str(into))
        return into


def pull(checkout: Path) -> str:
    """Bring the checkout to the origin's main; its new HEAD."""
    git(checkout, "pull", "-q", "--ff-only")
    return git(checkout, "rev-parse", "HEAD")


def fetch(checkout: Path) -> None:
    """Learn the origin's commits without checking them out."""
    git(checkout, "fetch", "-q")
