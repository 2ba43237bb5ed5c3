"""Structured logs: structlog JSON lines to stdout (journald) and to a size-rotated file,
and the vocabulary of event names, which is public API.

Event names are snake_case, past tense, one per state transition. BC's telemetry ids go
with the events BC has (`bc_event`).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any, TextIO

import structlog

# event name -> BC telemetry id (None: our own)
EVENTS: dict[str, str | None] = {
    "runner_started": None,
    "runner_draining": None,
    "runner_stopped": None,
    "config_reloaded": None,
    "config_rejected": None,
    "executor_lost": None,
    "entry_added": None,
    "entry_changed": None,
    "entry_removed": None,
    "job_file_rejected": None,
    "job_file_accepted": None,
    "entry_enqueued": "AL0000E24",
    "run_started": "AL0000E25",
    "run_finished": "AL0000E26",
    "run_failed": "AL0000HE7",
    "run_failed_finally": "AL0000JRG",
    "rescheduled_for_window": "AL0000P9D",
    "entry_waiting": "AL0000P9F",
    "waiting_activated": "AL0000P9G",
    "entry_expired": "AL0000P9E",
    "misfire": None,
    "retry_scheduled": None,
    "session_logon": None,
    "session_logoff": None,
    "run_recovered": None,
    "task_started": None,
    "task_finished": None,
    "task_retry_scheduled": None,
    "task_failure_object_scheduled": None,
    "task_failed": None,
    "log_pruned": None,
}

LOG_FILE = "jobrunner.jsonl"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5


def _add_bc_event(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    bc = EVENTS.get(str(event_dict.get("event")))
    if bc is not None:
        event_dict.setdefault("bc_event", bc)
    return event_dict


def processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_bc_event,
        structlog.processors.dict_tracebacks,
        structlog.processors.JSONRenderer(),
    ]


def configure(state_dir: Path | None, stream: TextIO | None = None) -> None:
    """JSON lines to `stream` (stdout) and to state_dir/log/jobrunner.jsonl, rotated."""
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stdout)]
    if state_dir is not None:
        log_dir = state_dir / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_dir / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        )
    # A closed stdout (journald gone) must not turn each event into a traceback.
    logging.raiseExceptions = False
    logger = logging.getLogger("jobrunner.events")
    logger.handlers = handlers
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(message)s"))
    structlog.configure(
        processors=processors(),
        logger_factory=lambda *_: logger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=False,
    )


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("jobrunner").bind(**bound)
