"""A document's name: the entry, the run and its start, read back from the name alone."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from jobrunner.reports.outputs import file_name, parsed_name
from jobrunner.testing import utc

AT = utc(2026, 11, 30, 7, 0, 5)


@pytest.mark.parametrize("entry_id", ["weekly", "a_b_c", "x.y-z", "7", "run_12_3"])
def test_a_name_reads_back_as_what_it_names(entry_id):
    name = file_name(entry_id, 4711, AT, "xlsx")
    assert parsed_name(name) == (entry_id, 4711, AT, "xlsx")


def test_the_time_in_a_name_is_utc():
    local = AT.astimezone(timezone(timedelta(hours=-5)))
    assert file_name("weekly", 3, local, "pdf") == "weekly_3_20261130T070005Z.pdf"


@pytest.mark.parametrize(
    "name",
    [
        "weekly_3_20261130T070005Z.docx",
        "weekly_x_20261130T070005Z.csv",
        "weekly_3_2026-11-30.csv",
        "_3_20261130T070005Z.csv",
        "3_20261130T070005Z.csv",
        "weekly_3_20261130T070005Z.csv.partial",
        "0123abcd.report.csv",
    ],
)
def test_other_names_are_not_documents(name):
    assert parsed_name(name) is None
