"""The configuration file (jobrunner.yaml): where things live and runner-wide settings.

Thin: reads one YAML file (or none, for the built-in defaults) and validates it against
`schemas/config.schema.json`. Paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from jobrunner import (
    errors,
    model,
    problems,
    revision,
    schemas,
    spec,
    timetext,
    wallclock,
    yamltext,
)

SCHEMA = "config.schema.json"
DEFAULT_NAME = "jobrunner.yaml"
STORE_ENV = "JOBRUNNER_STORE"
"""The store's connection string, over the config's `store:` (a password need not sit
in a file)."""
REVISION_ENV = "JOBRUNNER_REVISION"
"""The deploy number of the job files, over the config's `revision:`."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Config:
    """Runner-wide settings, with every path absolute."""

    path: Path | None
    base: Path
    jobs_dir: Path
    state_dir: Path
    timezone: str
    store: str | None = None
    """A PostgreSQL connection string (`postgresql://...`): the store several runners
    share; None: the SQLite file in `state_dir`. $JOBRUNNER_STORE wins over the file's."""
    revision: str | None = None
    """The job files' deploy number (decimal digits), $JOBRUNNER_REVISION over the
    file's `revision:`; None: the checkout's git commit, if any (`checkout`)."""
    objects: dict[int, str] = field(default_factory=dict)
    workers: int = 2
    session_mode: str = "fork"
    session_preload: bool = True
    max_runs_per_process: int = 1000
    session_environment: tuple[str, ...] = ()
    retriable_exceptions: tuple[str, ...] = ()
    retry_profile: tuple[timedelta, ...] = ()
    shutdown_grace: timedelta = timedelta(seconds=30)
    kill_grace: timedelta = timedelta(seconds=10)
    log_retention: timedelta = timedelta(days=30)
    output_limit: int = 65536
    report_dir: Path | None = None
    """Where report documents are kept; None: `state_dir/reports`."""
    report_output_limit: int = 10 * 1024 * 1024
    on_final_failure: str | None = None
    history: model.History = field(default_factory=model.History)
    notify: dict[str, Any] | None = None
    users: dict[str, Any] | None = None
    web: dict[str, Any] | None = None
    log_format: str = "auto"
    log_level: str = "info"
    log_file: bool = True


MAX_VALUES = 100_000
"""Values in the config (its users: lists can be long; job files are held to fewer)."""
MAX_GRACE = timedelta(days=1)
"""The longest shutdown_grace / kill_grace: the runner waits them out in one wait."""
_GRACES = ("shutdown_grace", "kill_grace")
ON_PREM = tuple(timedelta(minutes=m) for m in (2, 2, 4, 15, 15, 15, 15, 15, 15))
ONLINE = (
    tuple(timedelta(minutes=m) for m in (0.5, 0.5, 1, 1, 2, 2, 3, 3)) + (timedelta(minutes=5),) * 91
)


def load(path: Path | None = None, *, cwd: Path | None = None) -> Config:
    """The config at `path`; else `jobrunner.yaml` in `cwd` when present; else defaults.
    A file that is not valid raises ConfigError with every problem located; nothing
    else escapes for what the file says."""
    cwd = cwd or Path.cwd()
    if path is None:
        candidate = cwd / DEFAULT_NAME
        if not candidate.is_file():
            return _build({}, base=cwd, path=None)
        path = candidate
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.ConfigError(
            [_problem(path, 1, problems.DOCUMENT, f"cannot read: {exc}")]
        ) from None
    try:
        raw = _checked(path, text)
        return _build(raw, base=path.resolve().parent, path=path.resolve())
    except errors.ConfigError:
        raise
    except Exception as exc:  # a last resort: each cause found is handled where it arises
        message = f"internal error reading this file: {type(exc).__name__}: {exc}"
        raise errors.ConfigError([_problem(path, 1, problems.DOCUMENT, message[:500])]) from None


def _checked(path: Path, text: str) -> dict[str, Any]:
    try:
        raw = yamltext.read_yaml(text, max_values=MAX_VALUES)
    except yaml.YAMLError as exc:
        raise errors.ConfigError([yamltext.yaml_problem(exc, str(path))]) from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise errors.ConfigError(
            [_problem(path, 1, problems.DOCUMENT, "must be a mapping of keys")]
        )
    found = [] if schemas.is_valid(SCHEMA, raw) else list(schemas.errors(SCHEMA, raw))
    # the meaning of the keys the schema has no problem with: every problem at once
    rest = problems.without(raw, [where for where, _ in found]) if found else raw
    meaning = _meaning(rest) if schemas.is_valid(SCHEMA, rest) else []
    listed = yamltext.located(str(path), text, found + meaning)
    if listed:
        raise errors.ConfigError(listed)
    return raw


def _meaning(raw: dict[str, Any]) -> list[tuple[list[str | int], str]]:
    """What the schema cannot check: the zone exists, each duration is in range."""
    found: list[tuple[list[str | int], str]] = []
    if "timezone" in raw:
        try:
            wallclock.zone(raw["timezone"])
        except wallclock.UnknownZone as exc:
            found.append((["timezone"], str(exc)))
    durations: list[tuple[list[str | int], Any]] = [
        ([key], raw[key]) for key in ("shutdown_grace", "kill_grace", "log_retention") if key in raw
    ]
    if isinstance(raw.get("history"), dict) and "failed_retention" in raw["history"]:
        durations.append((["history", "failed_retention"], raw["history"]["failed_retention"]))
    notify: dict[str, Any] = raw["notify"] if isinstance(raw.get("notify"), dict) else {}
    durations += [(["notify", k], notify[k]) for k in ("throttle", "retry_delay") if k in notify]
    for name, channel in (notify.get("channels") or {}).items():
        if isinstance(channel, dict) and "throttle" in channel:
            durations.append((["notify", "channels", name, "throttle"], channel["throttle"]))
    if isinstance(raw.get("retry_profile"), list):
        durations += [(["retry_profile", i], v) for i, v in enumerate(raw["retry_profile"])]
    for where, value in durations:
        try:
            delta = timetext.parse_duration(value)
        except ValueError as exc:
            found.append((where, str(exc)))
            continue
        if where[0] in _GRACES and delta > MAX_GRACE:
            found.append((where, f"{problems.shown(value)} is more than the maximum 1d"))
    return found


def _problem(path: Path, line: int, where: str, message: str) -> model.Problem:
    return model.Problem(file=str(path), line=line, path=where, message=message)


POOL_WORKERS_PER_CORE = 4


def default_workers(session_mode: str, cores: int | None = None) -> int:
    """Sessions at once when the config does not say: one per core, as each is a
    process; `POOL_WORKERS_PER_CORE` per core in pool mode, whose sessions are many and
    small (mostly waiting on something else) and whose processes are forked ahead once:
    more at once lets the runner commit the starts and ends of many in each pass."""
    cores = cores or os.cpu_count() or 1
    return cores * POOL_WORKERS_PER_CORE if session_mode == "pool" else cores


def _build(raw: dict[str, Any], *, base: Path, path: Path | None) -> Config:
    return Config(
        path=path,
        base=base,
        jobs_dir=(base / raw.get("jobs_dir", "jobs.d")).resolve(),
        state_dir=(base / raw.get("state_dir", ".jobrunner")).resolve(),
        timezone=raw.get("timezone") or wallclock.local_zone_name(),
        store=os.environ.get(STORE_ENV) or raw.get("store") or None,
        revision=_revision(raw.get("revision")),
        objects={int(k): v for k, v in raw.get("objects", {}).items()},
        workers=raw.get("workers") or default_workers(raw.get("session_mode", "fork")),
        session_mode=raw.get("session_mode", "fork"),
        session_preload=raw.get("session_preload", True),
        max_runs_per_process=raw.get("max_runs_per_process", 1000),
        session_environment=tuple(raw.get("session_environment", ())),
        retriable_exceptions=tuple(
            p.strip() for p in raw.get("retriable_exceptions", "").split(";") if p.strip()
        ),
        retry_profile=_profile(raw.get("retry_profile", "on_prem")),
        shutdown_grace=timetext.parse_duration(raw.get("shutdown_grace", "30s")),
        kill_grace=timetext.parse_duration(raw.get("kill_grace", "10s")),
        log_retention=timetext.parse_duration(raw.get("log_retention", "30d")),
        output_limit=raw.get("output_limit", 65536),
        report_dir=(base / raw["report_dir"]).resolve() if "report_dir" in raw else None,
        report_output_limit=raw.get("report_output_limit", 10 * 1024 * 1024),
        on_final_failure=raw.get("on_final_failure"),
        history=_history(raw.get("history", {})),
        notify=raw.get("notify"),
        users=raw.get("users"),
        web=raw.get("web"),
        log_format=raw.get("log_format", "auto"),
        log_level=raw.get("log_level", "info"),
        log_file=raw.get("log_file", True),
    )


def _revision(value: int | None) -> str | None:
    given = os.environ.get(REVISION_ENV, "")
    if not given.strip():
        return None if value is None else str(value)
    try:
        return revision.number(given)
    except ValueError as exc:
        where = f"${REVISION_ENV}"
        raise errors.ConfigError(
            [model.Problem(file=where, line=1, path="revision", message=str(exc))]
        ) from None


def _history(value: dict[str, Any]) -> model.History:
    retention = value.get("failed_retention")
    return spec.history_of(value, None if retention is None else timetext.parse_duration(retention))


def _profile(value: str | list[str | int]) -> tuple[timedelta, ...]:
    if value == "online":
        return ONLINE
    if value == "on_prem":
        return ON_PREM
    assert isinstance(value, list)
    return tuple(timetext.parse_duration(v) for v in value)
