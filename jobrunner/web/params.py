"""Query parameters, checked: a bad value is a 400 that says which and why."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TypeVar

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

from jobrunner import config, timetext

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
    """`since`: how long ago (`-1h`, `2d`, `1h30m`; the sign optional) or an ISO-8601
    time (wall time in the configured zone without an offset): `jobrunner log --since`'s
    rules."""
    text = query.get("since") or None
    if text is None:
        return None
    try:
        return timetext.parse_since(text, cfg.timezone, datetime.now(UTC))
    except ValueError:
        raise HTTPException(
            400,
            f"since: {text!r} is neither a time ago (-1h, 2d, 30m) nor an ISO-8601 date and time",
        ) from None


def text(query: QueryParams, name: str, limit: int = 200) -> str | None:
    value = query.get(name) or None
    if value is not None and len(value) > limit:
        raise HTTPException(400, f"{name}: longer than {limit} characters")
    return value
