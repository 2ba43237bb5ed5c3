"""The project's error types: one root, a few leaves named for what went wrong.

A failing job is not an exception in the runner; these are for bad input and misuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobrunner.model import Problem


class JobRunnerError(Exception):
    """Something jobrunner cannot do; the message says what and where."""


class ConfigError(JobRunnerError, ValueError):
    """The configuration file is missing, unreadable or invalid."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


class SpecError(JobRunnerError, ValueError):
    """A job file is invalid; `problems` holds every located problem found in it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


class RecurrenceError(JobRunnerError, ValueError):
    """A run time cannot be computed (a date out of range, an expression that never matches)."""


class UnknownEntry(JobRunnerError, LookupError):
    """No job queue entry has this id; the message names the nearest of `known`."""

    def __init__(self, entry_id: str, known: Iterable[str] = ()) -> None:
        self.entry_id = entry_id
        import difflib  # (only for a message: not in every process that imports this)

        near = difflib.get_close_matches(entry_id, sorted(set(known)), n=3)
        hint = f"; did you mean {' or '.join(map(repr, near))}?" if near else ""
        super().__init__(f"no job queue entry with id {entry_id!r}{hint}")
