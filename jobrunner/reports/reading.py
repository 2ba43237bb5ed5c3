"""Reading documents back for the commands: `jobrunner output`, and the marks `log` and
`show` give the runs that kept one. Thin: the store and `outputs` do the work (the
documents are where `outputs.of(cfg, db)` says: in a store that keeps them, or in the
config's folder on this machine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobrunner import config, errors, model, store
from jobrunner.reports import outputs


def document(cfg: config.Config, db: store.Store, log_no: int) -> outputs.Kept:
    """The document of log entry `log_no`; JobRunnerError saying why there is none."""
    log = db.get_log(log_no)
    if log is None:
        raise errors.JobRunnerError(f"no log entry number {log_no}")
    kept = _index(cfg, db).get(log_no)
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


def save(cfg: config.Config, db: store.Store, kept: outputs.Kept, folder: Path) -> Path:
    """A copy of the document in `folder` under its own name (replacing one there)."""
    if not folder.is_dir():
        raise errors.JobRunnerError(f"--save: {folder} is not a folder")
    target = folder / kept.name
    data = content(cfg, db, kept)
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise errors.JobRunnerError(f"--save: {exc}") from None
    return target


def content(cfg: config.Config, db: store.Store, kept: outputs.Kept) -> bytes:
    """The document's bytes (JobRunnerError when it went meanwhile: pruned)."""
    try:
        return outputs.of(cfg, db).read(kept)
    except OSError as exc:
        raise errors.JobRunnerError(f"cannot read {kept.name}: {exc}") from None


def marks(cfg: config.Config, db: store.Store) -> dict[int, str]:
    """The format of each log entry's document, by log entry number."""
    return {no: kept.format for no, kept in _index(cfg, db).items()}


def described(cfg: config.Config, db: store.Store) -> dict[int, dict[str, Any]]:
    """Each log entry's document as `--json` gives it, by log entry number."""
    return {no: kept.as_dict() for no, kept in _index(cfg, db).items()}


def _index(cfg: config.Config, db: store.Store) -> dict[int, outputs.Kept]:
    try:
        return outputs.of(cfg, db).index()
    except OSError as exc:  # (a report_dir this account may not read; a store gone)
        raise errors.JobRunnerError(f"cannot read the report documents: {exc}") from None
