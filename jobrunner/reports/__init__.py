"""Report objects (BC's "Object Type to Run: Report"): an entry whose object returns rows
that jobrunner renders as a document (csv, xlsx, pdf), kept with the run's log entry.

The package's modules, each with one job: `table` (a report's rows as a Table, pure),
`render` (one renderer per format: a Table to the document's bytes), `produce` (the
session side: the object's result written as the document), `outputs` (where documents
are kept, their names, reading back and pruning), `runs` (the runner side: the request
a session gets, the document kept when a run ends). Imports only `errors` here, so the
spec reader, the executor and the session can name the formats and the request without
loading a library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobrunner import errors

FORMATS = ("csv", "xlsx", "pdf", "none")
"""The values of `report_output`; `none` runs the report for its effects alone."""
DOCUMENTS = ("csv", "xlsx", "pdf")
"""The formats that make a document (a file named with the format as its extension)."""
DEFAULT_OUTPUT = "csv"
"""A report entry that names no `report_output`: the format that needs no library."""
DEFAULT_LIMIT = 10 * 1024 * 1024
"""`report_output_limit`: the largest document kept, in bytes."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportRequest:
    """The report part of a session's request: the format, the report's parameters, the
    largest document kept, the document's title and (a format that makes a document)
    the file the session writes it to."""

    format: str
    parameters: dict[str, Any] = field(default_factory=dict)
    limit: int = DEFAULT_LIMIT
    title: str = ""
    path: str | None = None

    def wire(self) -> dict[str, Any]:
        """As the session reads it (see `produce`): no `path` when there is no file."""
        out: dict[str, Any] = {
            "format": self.format,
            "parameters": dict(self.parameters),
            "limit": self.limit,
            "title": self.title,
        }
        if self.path is not None:
            out["path"] = self.path
        return out


class ReportError(errors.JobRunnerError):
    """A report's result cannot become its document; the message says why."""


class ReportTooLarge(ReportError):
    """A document is larger than `report_output_limit`."""

    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        super().__init__(
            f"The report's output is {size:,} bytes, over the limit of {limit:,} bytes "
            "(report_output_limit)."
        )


class MissingLibrary(ReportError, ImportError):
    """The library that renders a format is not installed."""

    def __init__(self, fmt: str, package: str, extra: str) -> None:
        self.format, self.package = fmt, package
        super().__init__(
            f"report_output: {fmt} needs the package {package!r}, which is not installed "
            f"(pip install 'jobrunner[{extra}]')"
        )
