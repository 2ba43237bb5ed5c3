"""A report's result as a Table: named columns and rows of values. Pure: no I/O.

A report object returns its rows as a list (any iterable) of mappings, column name to
value, the columns in the order they are first seen; or as a mapping with `columns` (the
names) and `rows` (sequences of values in that order), which also names the columns of
an empty report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobrunner.reports import ReportError

MAX_COLUMNS = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class Table:
    """Column names and rows (each as long as `columns`; a missing value is None)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


SHAPE = (
    "a report returns its rows as a list of mappings (column: value), or "
    "{'columns': [...], 'rows': [[...], ...]}"
)


def table_of(value: Any) -> Table:
    """The Table of what a report object returned; ReportError for any other shape."""
    if isinstance(value, Mapping):
        return _explicit(value)
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ReportError(f"{SHAPE}; this one returned {type(value).__name__}")
    return _of_mappings(list(value))


def _explicit(value: Mapping[Any, Any]) -> Table:
    if set(value) != {"columns", "rows"}:
        raise ReportError(f"{SHAPE}; this mapping has the keys {sorted(map(str, value))}")
    columns = tuple(str(c) for c in value["columns"])
    _check_columns(columns)
    rows = []
    for number, row in enumerate(value["rows"], 1):
        if not isinstance(row, Sequence) or isinstance(row, str | bytes):
            raise ReportError(f"row {number} is {type(row).__name__}, not a list of values")
        if len(row) != len(columns):
            raise ReportError(f"row {number} has {len(row)} values for {len(columns)} columns")
        rows.append(tuple(row))
    return Table(columns=columns, rows=tuple(rows))


def _of_mappings(rows: list[Any]) -> Table:
    seen: dict[str, None] = {}
    for number, row in enumerate(rows, 1):
        if not isinstance(row, Mapping):
            raise ReportError(f"{SHAPE}; row {number} is {type(row).__name__}")
        seen.update(dict.fromkeys(map(str, row)))
    columns = tuple(seen)
    _check_columns(columns)
    return Table(
        columns=columns,
        rows=tuple(tuple(_by_name(row).get(c) for c in columns) for row in rows),
    )


def _by_name(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in row.items()}


def _check_columns(columns: tuple[str, ...]) -> None:
    if len(columns) > MAX_COLUMNS:
        raise ReportError(f"{len(columns)} columns; a report has at most {MAX_COLUMNS}")
    if len(set(columns)) != len(columns):
        raise ReportError(f"the columns {list(columns)} name one column twice")
