"""Problems with a document (a job file, the config): where they are and how they read.
Pure."""

from __future__ import annotations

import copy
from typing import Any

from jobrunner import errors, model

DOCUMENT = "<document>"
"""The path of a problem with the whole document rather than one key."""
MAX_PROBLEMS = 20
"""Problems listed per file; more are summed up in one last line."""


def shown(value: Any, limit: int = 60) -> str:
    """A value's repr for a message, cut short: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def format_path(where: list[str | int]) -> str:
    out = ""
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or DOCUMENT


def problem(source: str, message: str, line: int = 1, where: str = DOCUMENT) -> errors.SpecError:
    """A job file's one problem, as the error that reports it."""
    return errors.SpecError([model.Problem(file=source, line=line, path=where, message=message)])


def without(raw: dict[str, Any], paths: list[list[str | int]]) -> dict[str, Any]:
    """A copy of `raw` without the keys at `paths` (a path into a list leaves out the
    whole list; the document's own path, [], leaves out nothing)."""
    out = copy.deepcopy(raw)
    for where in paths:
        keys: list[str] = []
        for part in where:
            if not isinstance(part, str):
                break
            keys.append(part)
        node: Any = out
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if keys and isinstance(node, dict):
            node.pop(keys[-1], None)
    return out
