"""Reading job files for a reconcile: paths -> FileResults. Thin: only the reads."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from jobrunner import errors, reconcile, spec


def display(path: Path, base: Path | None = None) -> str:
    """How a job file is named in messages and in the store: relative to `base` (the
    current folder by default) when it is inside it."""
    base = base or Path.cwd()
    try:
        return os.path.relpath(path, base) if path.is_relative_to(base) else str(path)
    except ValueError:  # pragma: no cover - other drive
        return str(path)


def read(path: Path, timezone: str, base: Path | None = None) -> reconcile.FileResult:
    name = display(path, base)
    if not path.exists():
        return reconcile.FileResult(path=name, deleted=True)
    try:
        return reconcile.FileResult(
            path=name, spec=spec.load_file(path, timezone=timezone, display=name)
        )
    except errors.SpecError as exc:
        return reconcile.FileResult(path=name, problems=tuple(exc.problems))


def scan(jobs_dir: Path, timezone: str, base: Path | None = None) -> list[reconcile.FileResult]:
    """Every job file of the folder."""
    if not jobs_dir.is_dir():
        return []
    return [read(p, timezone, base) for p in spec.job_files(jobs_dir)]


def read_paths(
    paths: Iterable[Path], timezone: str, base: Path | None = None
) -> list[reconcile.FileResult]:
    """Just these files (a partial reconcile after file events)."""
    return [
        read(p, timezone, base)
        for p in sorted(set(paths))
        if p.suffix in spec.JOB_SUFFIXES and not p.name.startswith((".", "#"))
    ]
