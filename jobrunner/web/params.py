"""Query parameters, checked: a bad value is a 400 that says which and why."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TypeVar

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

from jobrunner import config, errors

E = TypeVar("E", bound=enum.Enum)


def integer(query: QueryParams, name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise HTTPException(400, f"{name}: {text!r} is not a whole number from {low} to {high}")
    return int(text)


def choice(query: QueryParams, name: str, kind: type[E]) -> E | None:
    text = query.get(name) or None
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise HTTPException(400, f"{name}: {text!r} is not one of: {allowed}") from None


def since(query: QueryParams, cfg: config.Config) -> datetime | None:
    """`since`: an ISO-8601 time or how long ago (`-1h`, `2d`), as `jobrunner log --since`."""
    from jobrunner import cli

    text = query.get("since") or None
    try:
        return cli._since(text, cfg)
    except errors.JobRunnerError as exc:
        raise HTTPException(400, str(exc).replace("--since", "since")) from None
    except (ValueError, OverflowError):
        raise HTTPException(400, f"since: {text!r} is out of range") from None


def text(query: QueryParams, name: str, limit: int = 200) -> str | None:
    value = query.get(name) or None
    if value is not None and len(value) > limit:
        raise HTTPException(400, f"{name}: longer than {limit} characters")
    return value
