"""The domain's values: frozen dataclasses and enums shared by every layer.

Imports only the stdlib and the pure expression modules (cron, dateformula); never storage.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from jobrunner import cron, dateformula

ALL_DAYS: frozenset[int] = frozenset(range(1, 8))
"""ISO weekdays, Monday = 1 ... Sunday = 7."""

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Priority(enum.Enum):
    """Priority Within Category; a lower rank runs first (BC: High 1000, Normal 2000, Low 3000)."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        return {"high": 1000, "normal": 2000, "low": 3000}[self.value]


class DesiredStatus(enum.Enum):
    """The status a job file asks for."""

    READY = "ready"
    ON_HOLD = "on_hold"


class EntryStatus(enum.Enum):
    """An entry's runtime status (BC table 472, field Status)."""

    READY = "ready"
    IN_PROCESS = "in_process"
    ERROR = "error"
    ON_HOLD = "on_hold"
    FINISHED = "finished"
    WAITING = "waiting"
    ON_HOLD_INACTIVITY = "on_hold_inactivity"


class FinalFailure(enum.Enum):
    """What a recurring entry does once its retries are spent."""

    ERROR = "error"
    NEXT_RECURRENCE = "next_recurrence"


@dataclass(frozen=True, kw_only=True, slots=True)
class Recurrence:
    """When a recurring entry runs again.

    Exactly one of three kinds: BC-style (`every`, `run_on`, the window), a date formula
    (with the window's starting time), or a cron expression. Wall-clock fields are in
    `timezone`; `every` is elapsed time. `every=None` is BC's 0 minutes: the next day.
    `starting_time`/`ending_time` are tri-state: None is BC's blank time, not midnight.
    """

    timezone: str
    every: timedelta | None = None
    run_on: frozenset[int] = ALL_DAYS
    starting_time: time | None = None
    ending_time: time | None = None
    date_formula: dateformula.DateFormula | None = None
    cron: cron.CronExpr | None = None
    misfire_grace: timedelta | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class JobSpec:
    """One validated job queue entry definition, as read from its file."""

    id: str
    object_id: int | str
    source: str = ""
    description: str = ""
    object_type: str = "codeunit"
    parameter_string: str = ""
    status: DesiredStatus = DesiredStatus.READY
    user: str | None = None
    timezone: str = "UTC"
    earliest_start: datetime | None = None
    expiration: datetime | None = None
    recurrence: Recurrence | None = None
    max_retries: int = 0
    rerun_delay: timedelta = timedelta(0)
    category: str | None = None
    priority: Priority = Priority.NORMAL
    timeout: timedelta = timedelta(hours=12)
    inactivity_timeout: timedelta = timedelta(minutes=5)
    manual_recurrence: bool = False
    failure_handler: int | str | None = None
    on_final_failure: FinalFailure = FinalFailure.ERROR
    digest: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def recurring(self) -> bool:
        return self.recurrence is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class Problem:
    """One located problem in an input file: what a person needs to fix it."""

    file: str
    line: int
    path: str
    message: str

    def format(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}
