"""Reading job files for a reconcile: paths -> FileResults. Thin: only the reads."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path

from jobrunner import errors, reconcile, spec


def display(path: Path, base: Path | None = None) -> str:
    """How a job file is named in messages and in the store: relative to `base` (the
    current folder by default) when it is inside it."""
    return os.path.join(_folder(str(path.parent), str(base or Path.cwd())), path.name)


@functools.lru_cache(maxsize=64)
def _folder(folder: str, base: str) -> str:
    if folder == base:
        return ""
    return os.path.relpath(folder, base) if folder.startswith(base.rstrip("/") + "/") else folder


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
    wanted = {
        str(p): p
        for p in paths
        if p.suffix in spec.JOB_SUFFIXES and not p.name.startswith((".", "#"))
    }
    return [read(wanted[name], timezone, base) for name in sorted(wanted)]


def stamps(jobs_dir: Path, base: Path | None = None) -> dict[str, tuple[str, str]]:
    """Display name -> (path, stamp) of every job file in the folder, without reading."""
    if not jobs_dir.is_dir():
        return {}
    prefix = _folder(str(jobs_dir), str(base or Path.cwd()))
    out = {}
    with os.scandir(jobs_dir) as listing:
        for item in listing:
            name = item.name
            if not name.endswith(spec.JOB_SUFFIXES) or name.startswith((".", "#")):
                continue
            try:
                if not item.is_file():
                    continue
                info = item.stat()
            except OSError:
                continue
            out[os.path.join(prefix, name)] = (item.path, spec.file_stamp(info))
    return out
