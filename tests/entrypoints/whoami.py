"""A job that imports nothing the session has not loaded: it must run as any user,
even when the interpreter's own files are not readable by that user."""

from __future__ import annotations

import os


def whoami(ctx) -> None:
    print(f"uid={os.getuid()} gid={os.getgid()} home={os.environ.get('HOME')}")


def environment(ctx) -> None:
    """Print the session's environment, one NAME=value a line."""
    for name in sorted(os.environ):
        print(f"{name}={os.environ[name]}")


def fail(ctx) -> None:
    """Fail (for a failure handler to run)."""
    raise RuntimeError("failed on purpose")
