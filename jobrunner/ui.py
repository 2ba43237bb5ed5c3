"""User interaction from job code: allowed in a foreground run, refused in a background
session (BC: "Callback functions are not allowed."). Stdlib only: sessions import this."""

from __future__ import annotations

import builtins

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sessions start faster)

if TYPE_CHECKING:
    from typing import Any

_GUI = True
NOT_ALLOWED = "Callback functions are not allowed."


class CallbackNotAllowed(RuntimeError):
    """Job code tried to interact with a user in a background session."""


def gui_allowed() -> bool:
    """False in a background session: guard every prompt with it (BC GuiAllowed)."""
    return _GUI


def confirm(question: str, default: bool = True) -> bool:
    """Ask a yes/no question in a foreground run; a background session fails the run."""
    if not _GUI:
        raise CallbackNotAllowed(f"{NOT_ALLOWED} The job asked to confirm: {question!r}")
    answer = builtins.input(f"{question} [{'Y/n' if default else 'y/N'}] ").strip().lower()
    return default if not answer else answer.startswith("y")


def background() -> None:
    """Enter background mode: no GUI, and input() fails the run."""
    global _GUI
    _GUI = False

    def refused(prompt: Any = "") -> str:
        raise CallbackNotAllowed(f"{NOT_ALLOWED} The job called input({str(prompt)!r})")

    builtins.input = refused
