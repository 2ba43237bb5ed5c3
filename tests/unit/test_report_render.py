"""Each renderer's document, opened with the reading side of its library (in memory)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from decimal import Decimal

import openpyxl
import pypdf
import pytest

from jobrunner.reports import MissingLibrary, ReportError, render
from jobrunner.reports.table import Table

TABLE = Table(
    columns=("region", "orders", "amount", "closed", "at"),
    rows=(
        ("North", 3, Decimal("1250.50"), True, dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)),
        ("Süd", 0, 0.5, False, None),
        ('East, "quoted"', 12, 99.25, None, dt.date(2026, 12, 1)),
    ),
)


def test_csv_is_rfc4180_with_a_header_row():
    data = render.render("csv", TABLE, title="Sales")
    assert data.count(b"\r\n") == 4
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows == [
        ["region", "orders", "amount", "closed", "at"],
        ["North", "3", "1250.50", "true", "2026-11-30T08:00:00+00:00"],
        ["Süd", "0", "0.5", "false", ""],
        ['East, "quoted"', "12", "99.25", "", "2026-12-01"],
    ]


def test_xlsx_keeps_excels_own_types_and_a_bold_frozen_header():
    book = openpyxl.load_workbook(io.BytesIO(render.render("xlsx", TABLE, title="Sales: Q4")))
    assert book.sheetnames == ["Sales_ Q4"]
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows == [
        ("region", "orders", "amount", "closed", "at"),
        ("North", 3, 1250.5, True, dt.datetime(2026, 11, 30, 8)),
        ("Süd", 0, 0.5, False, None),
        ('East, "quoted"', 12, 99.25, None, dt.datetime(2026, 12, 1)),
    ]
    assert sheet["A1"].font.b
    assert sheet.freeze_panes == "A2"
    assert book.properties.title == "Sales: Q4"


def test_xlsx_of_an_aware_time_is_the_utc_time():
    zone = dt.timezone(dt.timedelta(hours=2))
    table = Table(columns=("at",), rows=((dt.datetime(2026, 1, 1, 10, tzinfo=zone),),))
    book = openpyxl.load_workbook(io.BytesIO(render.render("xlsx", table, title="t")))
    assert book.active["A2"].value == dt.datetime(2026, 1, 1, 8)


def test_pdf_holds_the_title_the_header_and_every_row():
    reader = pypdf.PdfReader(io.BytesIO(render.render("pdf", TABLE, title="Weekly sales")))
    assert reader.metadata.title == "Weekly sales"
    words = reader.pages[0].extract_text()
    assert words.splitlines()[0] == "Weekly sales"
    for cell in ("region", "orders", "North", "1250.50", "Süd", "99.25", "2026-12-01"):
        assert cell in words


def test_pdf_pages_repeat_the_header():
    table = Table(columns=("number",), rows=tuple((i,) for i in range(200)))
    reader = pypdf.PdfReader(io.BytesIO(render.render("pdf", table, title="Long")))
    assert len(reader.pages) > 1
    assert all("number" in page.extract_text() for page in reader.pages)
    assert "199" in reader.pages[-1].extract_text()


def test_pdf_shows_what_latin_1_cannot_hold_as_a_question_mark():
    table = Table(columns=("name",), rows=(("Ωmega ü",),))
    words = pypdf.PdfReader(io.BytesIO(render.render("pdf", table, title="t"))).pages[0]
    assert "?mega ü" in words.extract_text()


@pytest.mark.parametrize(
    ("fmt", "module", "package", "extra"),
    [("pdf", "fpdf", "fpdf2", "pdf"), ("xlsx", "openpyxl", "openpyxl", "xlsx")],
)
def test_a_missing_library_names_the_package_to_install(monkeypatch, fmt, module, package, extra):
    monkeypatch.setitem(sys.modules, module, None)  # what Python does for a missing one
    with pytest.raises(MissingLibrary) as caught:
        render.render(fmt, TABLE, title="t")
    assert str(caught.value) == (
        f"report_output: {fmt} needs the package {package!r}, which is not installed "
        f"(pip install 'jobrunner[{extra}]')"
    )


def test_an_unknown_format_has_no_renderer():
    with pytest.raises(ReportError, match="no renderer for report_output 'docx'"):
        render.render("docx", TABLE, title="t")
