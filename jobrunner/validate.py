"""`jobrunner validate`: the config and every job file, schema first, then meaning.

Thin over `spec`: reads files, checks what needs the whole set (unique ids) or the
environment (objects resolve, without importing them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jobrunner import config, jobfiles, model, objects, permissions, problems, yamltext


@dataclass(kw_only=True)
class Report:
    """What validation found: the entries that passed and every problem, in file order."""

    specs: list[model.JobSpec] = field(default_factory=list)
    problems: list[model.Problem] = field(default_factory=list)
    files: int = 0


def expand(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        out.extend(jobfiles.job_files(p) if p.is_dir() else [p])
    return out


def run(cfg: config.Config, paths: list[Path] | None = None, *, resolve: bool = True) -> Report:
    """Validate job files (default: the configured jobs_dir) against `cfg`."""
    report = Report()
    if paths is None:
        if not cfg.jobs_dir.is_dir():
            report.problems.append(
                model.Problem(
                    file=jobfiles.display(cfg.jobs_dir),
                    line=1,
                    path=problems.DOCUMENT,
                    message="the jobs folder does not exist",
                )
            )
            return report
        paths = [cfg.jobs_dir]
    files = expand(paths)
    report.files = len(files)
    for result in jobfiles.read_all(files, cfg.timezone, owners=resolve):
        if result.spec is not None:
            report.specs.append(result.spec)
        report.problems.extend(result.problems)
        if result.deleted:  # gone since it was listed
            report.problems.append(
                model.Problem(
                    file=result.path, line=1, path=problems.DOCUMENT, message="cannot read: deleted"
                )
            )
    report.problems.extend(duplicate_ids(report.specs))
    if resolve:
        report.problems.extend(unresolved(report.specs, cfg))
    report.problems.sort(key=lambda p: (p.file, p.line))
    return report


def duplicate_ids(specs: Iterable[model.JobSpec]) -> list[model.Problem]:
    first: dict[str, model.JobSpec] = {}
    problems = []
    for s in specs:
        if s.id in first:
            problems.append(
                model.Problem(
                    file=s.source,
                    line=_line(s, "id"),
                    path="id",
                    message=f"id {s.id!r} is already used by {first[s.id].source}",
                )
            )
        else:
            first[s.id] = s
    return problems


def unresolved(specs: Iterable[model.JobSpec], cfg: config.Config) -> list[model.Problem]:
    """Objects that do not resolve, and objects the entry's user may not run."""
    problems = []
    for s in specs:
        for key, object_id in (("object_id", s.object_id), ("failure_handler", s.failure_handler)):
            if object_id is None:
                continue
            reason = objects.check(object_id, cfg.objects) or _refusal(s, object_id, cfg)
            if reason:
                problems.append(
                    model.Problem(file=s.source, line=_line(s, key), path=key, message=reason)
                )
    return problems


def _refusal(s: model.JobSpec, object_id: int | str, cfg: config.Config) -> str | None:
    if not s.user or not cfg.users:
        return None
    ref = objects.resolve_ref(object_id, cfg.objects)
    return permissions.run_refusal(cfg.users, s.user, object_id, ref)


def _line(s: model.JobSpec, key: str) -> int:
    try:
        return yamltext.locate(Path(s.source).read_text(encoding="utf-8"), [key])
    except (OSError, ValueError):  # gone or changed since it was read
        return 1
