"""One renderer per document format, behind one small interface: a Table (and a title)
in, the document's bytes out. No files: the caller writes the bytes where they go.

csv needs only the stdlib; xlsx is rendered with openpyxl (a dependency), pdf with fpdf2
(the optional extra `jobrunner[pdf]`). Each library is imported on first use, so a
session that runs no report never loads one; one that is missing is a MissingLibrary
that names the extra to install.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
from decimal import Decimal
from typing import Any, Protocol

from jobrunner.reports import MissingLibrary, ReportError
from jobrunner.reports.table import Table


class Renderer(Protocol):
    """Renders a Table as one format's document."""

    extension: str

    def render(self, table: Table, *, title: str) -> bytes:
        """The document's bytes; `title` names it (a sheet, a heading)."""
        ...


def text(value: Any) -> str:
    """A value as a cell's text: None empty, booleans lowercase, dates ISO-8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


class CsvRenderer:
    """RFC 4180: a header row, comma-separated, CRLF line ends, UTF-8 (no BOM)."""

    extension = "csv"

    def render(self, table: Table, *, title: str) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(table.columns)
        writer.writerows([text(v) for v in row] for row in table.rows)
        return out.getvalue().encode("utf-8")


class XlsxRenderer:
    """One sheet: the header row in bold and frozen, numbers, booleans and dates as
    Excel's own types (an aware time in UTC: Excel has no time zones), the rest text."""

    extension = "xlsx"

    def render(self, table: Table, *, title: str) -> bytes:
        try:
            import openpyxl
            from openpyxl.cell import WriteOnlyCell
            from openpyxl.styles import Font
        except ImportError:
            raise MissingLibrary("xlsx", "openpyxl", "xlsx") from None
        book = openpyxl.Workbook(write_only=True)
        book.properties.title = title
        sheet = book.create_sheet(_sheet_name(title))
        sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for name in table.columns:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in table.rows:
            sheet.append([_excel(v) for v in row])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()


def _excel(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | Decimal | str):
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date | dt.time):
        return value.replace(tzinfo=None) if isinstance(value, dt.time) else value
    return text(value)


def _sheet_name(title: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in title).strip("'")
    return cleaned[:31] or "Report"


class PdfRenderer:
    """A4 landscape: the title, then the rows as a table with its header repeated on
    each page. The core font Helvetica holds Latin-1: other characters show as '?'."""

    extension = "pdf"

    def render(self, table: Table, *, title: str) -> bytes:
        try:
            from fpdf import FPDF
            from fpdf.enums import XPos, YPos
        except ImportError:
            raise MissingLibrary("pdf", "fpdf2", "pdf") from None
        pdf = FPDF(orientation="landscape", format="A4")
        pdf.set_title(_latin(title))
        pdf.set_creator("jobrunner")
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=14)
        pdf.cell(text=_latin(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
        pdf.set_font("Helvetica", size=8)
        with pdf.table(repeat_headings=1) as grid:
            for row in (table.columns, *table.rows):
                cells = grid.row()
                for value in row:
                    cells.cell(_latin(text(value)))
        return bytes(pdf.output())


def _latin(value: str) -> str:
    return value.encode("latin-1", "replace").decode("latin-1")


LIBRARIES = {"xlsx": ("openpyxl", "openpyxl", "xlsx"), "pdf": ("fpdf", "fpdf2", "pdf")}
"""Each format's library: (module, package, extra)."""


def missing(fmt: str) -> str | None:
    """What `validate` says of a format whose library is not installed (found without
    importing it), or None."""
    if fmt not in LIBRARIES:
        return None
    module, package, extra = LIBRARIES[fmt]
    try:
        found = importlib.util.find_spec(module)
    except ValueError:  # in sys.modules as None: taken for missing
        found = None
    if found is not None:
        return None
    return str(MissingLibrary(fmt, package, extra)).removeprefix("report_output: ")


RENDERERS: dict[str, Renderer] = {
    "csv": CsvRenderer(),
    "xlsx": XlsxRenderer(),
    "pdf": PdfRenderer(),
}


def render(fmt: str, table: Table, *, title: str) -> bytes:
    """`table` as a document in `fmt` (csv, xlsx or pdf)."""
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        raise ReportError(f"no renderer for report_output {fmt!r}")
    return renderer.render(table, title=title)
