"""Reading documents back for the commands: `jobrunner output`, and the marks `log` and
`show` give the runs that kept one. Thin: the store and `outputs` do the work."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from jobrunner import config, errors, model, store
from jobrunner.reports import outputs


def document(cfg: config.Config, db: store.Store, log_no: int) -> outputs.Kept:
    """The document of log entry `log_no`; JobRunnerError saying why there is none."""
    log = db.get_log(log_no)
    if log is None:
        raise errors.JobRunnerError(f"no log entry number {log_no}")
    kept = outputs.of(cfg).find(log_no)
    if kept is None:
        raise errors.JobRunnerError(f"log entry {log_no} ({log.entry_id}) has no output{_why(log)}")
    return kept


def _why(log: model.LogEntry) -> str:
    if log.object_type != "report":
        return ": it ran a codeunit, not a report"
    if log.status is model.LogStatus.IN_PROCESS:
        return " yet: the run is in process"
    if log.status is model.LogStatus.ERROR:
        return ": the run failed"
    return " (report_output: none)"


def save(kept: outputs.Kept, folder: Path) -> Path:
    """A copy of the document in `folder` under its own name (replacing one there)."""
    if not folder.is_dir():
        raise errors.JobRunnerError(f"--save: {folder} is not a folder")
    target = folder / kept.name
    shutil.copyfile(kept.path, target)
    return target


def marks(cfg: config.Config) -> dict[int, str]:
    """The format of each log entry's document, by log entry number."""
    return {no: kept.format for no, kept in outputs.of(cfg).index().items()}


def described(cfg: config.Config) -> dict[int, dict[str, Any]]:
    """Each log entry's document as `--json` gives it, by log entry number."""
    return {no: kept.as_dict() for no, kept in outputs.of(cfg).index().items()}
