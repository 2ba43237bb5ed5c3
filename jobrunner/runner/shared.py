"""What the runner's parts share: the config (replaced on a reload), the store, the
logger, who the runner is, where ends go (pruning, alerts), the scheduler settings, the
pauses as last read and where report documents are kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobrunner import config, model, scheduler, wallclock
from jobrunner.reports import outputs as reports_outputs
from jobrunner.runner import sessions
from jobrunner.store import Store

# (entry id, the entry as the end left it (None: it went), as it was before, closed log,
# last attempt)
RunEnded = Callable[[str, model.Entry | None, model.Entry | None, model.LogEntry, bool], None]
ItemFailed = Callable[[dict[str, Any]], None]


def _alone(ending: str | None) -> set[str]:
    return set()


def _free(mono: float) -> bool:
    return True


def _held(entry: model.Entry) -> bool:
    return True


def settings(cfg: config.Config) -> scheduler.Settings:
    return scheduler.Settings(
        retry_profile=cfg.retry_profile, on_final_failure=cfg.on_final_failure
    )


@dataclass(kw_only=True)
class Shared:
    cfg: config.Config
    store: Store
    log: Any
    runner_id: str
    user: str  # the runner's account (the kernel's word, not $LOGNAME's)
    run_ended: RunEnded  # pruning, alerts
    item_failed_finally: ItemFailed | None = None  # a work item's final failure: alerts
    paused: list[model.Pause] = field(default_factory=list)  # as the store says
    settings: scheduler.Settings = field(default_factory=scheduler.Settings)
    outputs: reports_outputs.Outputs = field(init=False)  # report documents (see __post_init__)
    # With a store shared by other runners (runner/peers.py): the categories busy on any
    # runner (but the entry ending), and whether this runner's lease lets it start runs.
    busy_elsewhere: Callable[[str | None], set[str]] = _alone
    may_start: Callable[[float], bool] = _free
    # Whether this runner's checkout holds an entry's stored definition (the reconciler
    # says), and the entries found due that it does not: their runs are left to runners
    # that hold them (runner/holding.py).
    holds: Callable[[model.Entry], bool] = _held
    unheld: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.settings = settings(self.cfg)
        self.outputs = reports_outputs.of(self.cfg, self.store)  # a new report_dir takes a restart

    @property
    def sessions_dir(self) -> Path:
        return sessions.sessions_dir(self.cfg.state_dir)

    def reconfigure(self, cfg: config.Config) -> None:
        self.cfg, self.settings = cfg, settings(cfg)


def dims(entry: model.Entry) -> dict[str, Any]:
    """The standard dimensions of an entry's events (BC's SetJobQueueTelemetryDimensions)."""
    spec = entry.spec
    return {
        "entry_id": spec.id,
        "object_type": spec.object_type,
        "object_id": str(spec.object_id),  # one JSON type for codeunits and refs
        "status": entry.status.value,
        "recurring": spec.recurring,
        "earliest_start": wallclock.iso(entry.earliest_start),
        "attempts": entry.attempts,
        "max_retries": spec.max_retries,
        "category": spec.category,
        "session_id": entry.session_id,
        "system_task_id": entry.system_task_id,
    }
