"""What the runner's parts share: the config (replaced on a reload), the store, the
logger, who the runner is, the scheduler settings and the pauses as last read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobrunner import config, model, scheduler, wallclock
from jobrunner.runner import sessions
from jobrunner.store import Store

RunEnded = Callable[[str, model.Entry | None, model.LogEntry, bool], None]


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
    run_ended: RunEnded  # (entry id, entry, closed log, last attempt): pruning, alerts
    paused: list[model.Pause] = field(default_factory=list)  # as the store says
    settings: scheduler.Settings = field(default_factory=scheduler.Settings)

    def __post_init__(self) -> None:
        self.settings = settings(self.cfg)

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
