"""The configuration file (jobrunner.yaml): where things live and runner-wide settings.

Thin: reads one YAML file (or none, for the built-in defaults) and validates it against
`schemas/config.schema.json`. Paths in the file are relative to the file's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobrunner import errors, model, schemas, spec, wallclock

SCHEMA = "config.schema.json"
DEFAULT_NAME = "jobrunner.yaml"


@dataclass(frozen=True, kw_only=True, slots=True)
class Config:
    """Runner-wide settings, with every path absolute."""

    path: Path | None
    base: Path
    jobs_dir: Path
    state_dir: Path
    timezone: str
    objects: dict[int, str] = field(default_factory=dict)


def load(path: Path | None = None, *, cwd: Path | None = None) -> Config:
    """The config at `path`; else `jobrunner.yaml` in `cwd` when present; else defaults."""
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
            [_problem(path, 1, spec.DOCUMENT, f"cannot read: {exc}")]
        ) from None
    try:
        raw = spec.read_yaml(text)
    except yaml.YAMLError as exc:
        raise errors.ConfigError([spec.yaml_problem(exc, str(path))]) from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise errors.ConfigError([_problem(path, 1, spec.DOCUMENT, "must be a mapping of keys")])
    problems = [
        _problem(path, spec.locate(text, where), spec.format_path(where), message)
        for where, message in schemas.errors(SCHEMA, raw)
    ]
    if "timezone" in raw and not problems:
        try:
            wallclock.zone(raw["timezone"])
        except wallclock.UnknownZone as exc:
            problems.append(_problem(path, spec.locate(text, ["timezone"]), "timezone", str(exc)))
    if problems:
        raise errors.ConfigError(problems)
    return _build(raw, base=path.resolve().parent, path=path.resolve())


def _problem(path: Path, line: int, where: str, message: str) -> model.Problem:
    return model.Problem(file=str(path), line=line, path=where, message=message)


def _build(raw: dict[str, Any], *, base: Path, path: Path | None) -> Config:
    return Config(
        path=path,
        base=base,
        jobs_dir=(base / raw.get("jobs_dir", "jobs.d")).resolve(),
        state_dir=(base / raw.get("state_dir", ".jobrunner")).resolve(),
        timezone=raw.get("timezone") or wallclock.local_zone_name(),
        objects={int(k): v for k, v in raw.get("objects", {}).items()},
    )
