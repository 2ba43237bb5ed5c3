"""The runner side of a report: the `report` part of a session's request, and the
document taken into `outputs` when the run ends (dropped when it failed)."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from jobrunner import model
from jobrunner.reports import DEFAULT_OUTPUT, DOCUMENTS, ReportRequest, outputs


def session_file(sessions_dir: Path, session_id: str, fmt: str) -> Path:
    """Where a session writes its document, beside its output and result files."""
    return sessions_dir / f"{session_id}.report.{fmt}"


def request(
    spec: model.JobSpec, sessions_dir: Path, session_id: str, limit: int
) -> ReportRequest | None:
    """The `report` of a session's request (None: the entry is not a report)."""
    if spec.object_type != "report":
        return None
    fmt = spec.report_output or DEFAULT_OUTPUT
    path = session_file(sessions_dir, session_id, fmt) if fmt in DOCUMENTS else None
    return ReportRequest(
        format=fmt,
        parameters=dict(spec.report_parameters),
        limit=limit,
        title=spec.description or spec.id,
        path=None if path is None else str(path),
    )


def kept(
    docs: outputs.Outputs,
    sessions_dir: Path,
    session_id: str,
    log: model.LogEntry,
    result: model.Outcome,
) -> model.Outcome:
    """After a report's run: its document kept with `log` when the run succeeded, else
    dropped. A document that cannot be kept fails the run, with the reason."""
    for fmt in DOCUMENTS:
        source = session_file(sessions_dir, session_id, fmt)
        if not source.exists():  # none written, or kept already (a redo, a recovery)
            continue
        if not result.ok or not source.stat().st_size:  # (empty: the report never finished)
            with contextlib.suppress(OSError):
                source.unlink()
            continue
        try:
            docs.keep(source, log, fmt)
        except OSError as exc:
            message = f"The report's output could not be kept: {exc}"
            return dataclasses.replace(
                result, ok=False, message=message, cause=model.Cause.EXCEPTION
            )
    return result
