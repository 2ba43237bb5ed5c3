"""Rows of the dashboard's reads <-> their values: entries' states (no definition is
built) and the log taken together (`Store.entry_states`, `Store.log_stats`); by column
name, as `rows` reads (the aggregates are named in `queries`: each bound's count is a
column named `within`, in the order of the bounds)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from jobrunner import model, store
from jobrunner.store.sql import rows


@functools.lru_cache(maxsize=16)
def state_reader(description: rows.Description) -> rows.Reader:
    i, status, category, earliest, rejected = rows.at(
        description, ("id", "status", "category", "earliest_start", "rejected")
    )

    def state(r: Sequence[Any]) -> store.EntryState:
        return store.EntryState(
            id=r[i],
            status=model.EntryStatus(r[status]),
            category=r[category],
            earliest_start=rows.dt(r[earliest]),
            rejected=bool(r[rejected]),
        )

    return state


@functools.lru_cache(maxsize=16)
def stats_reader(description: rows.Description) -> rows.Reader:
    entry, status, runs, last_no, last_end, ended, took = rows.at(
        description, ("entry_id", "status", "runs", "last_no", "last_end", "ended", "took")
    )
    within = tuple(n for n, d in enumerate(description) if d[0] == "within")

    def stats(r: Sequence[Any]) -> store.LogStats:
        return store.LogStats(
            entry_id=r[entry],
            status=model.LogStatus(r[status]),
            count=int(r[runs]),
            last_no=int(r[last_no]),
            last_end=rows.dt(r[last_end]),
            ended=int(r[ended]),
            took=timedelta(microseconds=int(r[took] or 0)),
            within=tuple(int(r[n] or 0) for n in within),
        )

    return stats
