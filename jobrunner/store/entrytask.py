"""An entry's task follows the entry: the rule every store applies to each entry it
writes (`Store.list_tasks`), written once. Pure: a store calls it and writes the result.
"""

from __future__ import annotations

from typing import NamedTuple

from jobrunner import lifecycle, model


class EntryTask(NamedTuple):
    """What a write of an entry does to the task backing it: `task` is stored under
    `task_id` in its place (None: no task backs it now, and a stored one goes), in the
    dispatch order `rank` (the entry's priority), then `seq` (the entry's number). The
    task has no compare-and-set of its own: it is the entry's."""

    task_id: str
    task: model.Task | None
    rank: int
    seq: int


def of(entry: model.Entry, entry_no: int) -> EntryTask:
    """The task that follows `entry`, stored with the number `entry_no`."""
    task = lifecycle.platform_task(entry)
    return EntryTask(
        task_id=task.id if task is not None else lifecycle.system_task_id(entry.id),
        task=task,
        rank=entry.spec.priority.rank,
        seq=entry_no,
    )


def removed(entry_id: str) -> str:
    """The id of the task that goes with a removed entry."""
    return lifecycle.system_task_id(entry_id)
