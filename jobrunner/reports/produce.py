"""The session side of a report: what its object returned, written as its document.

A session imports this only for a report entry, after the object has returned. The
request's `report` says the format, the size limit and the file: opened by the session
before a user switch (its descriptor is `fd`) or, in a foreground run, here (`path`).
The object either returns rows (see `table`), rendered here, or writes a layout of its
own into `ctx.report_file()` and returns None. The document is on disk (fsync) before
the session writes its result.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, BinaryIO

from jobrunner.reports import ReportError, ReportTooLarge, render, table

OWN = "_own"  # the request's key for the file a report writes itself


def open_target(report: dict[str, Any]) -> int:
    """The descriptor of the document's file (opened now when the session did not)."""
    if "fd" not in report:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        report["fd"] = os.open(report["path"], flags, 0o600)
    fd: int = report["fd"]
    return fd


def preload(fmt: str) -> None:
    """Import everything rendering `fmt` needs, by rendering a one-cell table: a session
    that switches to another account does this first, as that account may not be able to
    read the interpreter's or the library's files (a missing library is reported when the
    real document is rendered)."""
    with contextlib.suppress(ReportError):
        render.render(fmt, table.Table(columns=("a",), rows=((1,),)), title="a")


def own_file(report: dict[str, Any] | None) -> BinaryIO:
    """`ctx.report_file()`: the document's file, for a report with a layout of its own."""
    if not report or report.get("format") == "none" or "path" not in report:
        raise ReportError("only a report entry with a report_output other than none has a file")
    if OWN not in report:
        report[OWN] = os.fdopen(os.dup(open_target(report)), "wb")
    own: BinaryIO = report[OWN]
    return own


def finish(report: dict[str, Any], value: Any) -> None:
    """Write the document of a report object that returned `value`; ReportError (and so
    a failed run) when it cannot be, or is larger than the limit."""
    if report["format"] == "none":
        return
    fd = open_target(report)
    own: BinaryIO | None = report.get(OWN)
    if own is not None:
        if not own.closed:  # (the report may have closed it)
            own.flush()
        if value is not None:
            raise ReportError(
                "a report that writes its own file (ctx.report_file()) returns None; "
                f"this one returned {type(value).__name__} too"
            )
        _check(fd, os.fstat(fd).st_size, report["limit"])
    else:
        data = render.render(report["format"], table.table_of(value), title=report["title"])
        _check(fd, len(data), report["limit"])
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    os.fsync(fd)


def _check(fd: int, size: int, limit: int) -> None:
    if size > limit:
        os.ftruncate(fd, 0)
        raise ReportTooLarge(size, limit)


def close(report: dict[str, Any]) -> None:
    """Close what `open_target` and `own_file` opened (a foreground run goes on)."""
    own = report.pop(OWN, None)
    if own is not None and not own.closed:
        own.close()
    fd = report.pop("fd", None)
    if fd is not None:
        os.close(fd)
