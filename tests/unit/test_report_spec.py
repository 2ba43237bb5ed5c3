"""Report entries in job files: what they become, and a located message for the report
keys where they do not belong."""

from __future__ import annotations

import pytest

from jobrunner import reports
from tests.unit.test_spec import parse, problems


def test_a_report_entry_keeps_its_format_and_parameters():
    entry = parse("""
        object_type: report
        object_id: "acme.reports:sales"
        report_output: xlsx
        report_parameters:
          days: 7
          regions: [north, south]
          detailed: true
    """)
    assert (entry.object_type, entry.report_output) == ("report", "xlsx")
    assert entry.report_parameters == {"days": 7, "regions": ["north", "south"], "detailed": True}


def test_a_report_that_names_no_format_is_rendered_as_csv():
    entry = parse("object_type: report\nobject_id: 1\n")
    assert entry.report_output == reports.DEFAULT_OUTPUT == "csv"
    assert entry.report_parameters == {}


def test_a_codeunit_has_no_report_format():
    for text in ("object_id: 1\n", "object_type: codeunit\nobject_id: 1\n"):
        entry = parse(text)
        assert (entry.object_type, entry.report_output, entry.report_parameters) == (
            "codeunit",
            None,
            {},
        )


def test_the_report_keys_take_part_in_the_digest():
    base = "object_type: report\nobject_id: 1\n"
    digests = {
        parse(base + extra).digest
        for extra in ("", "report_output: pdf\n", "report_parameters: {days: 7}\n")
    }
    assert len(digests) == 3


ONLY = "only a report entry (object_type: report) takes this key; this one runs a codeunit"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "object_id: 1\nreport_output: xlsx\n",
            [f"jobs.d/job.yaml:2: report_output: {ONLY}"],
            id="codeunit-with-report-output",
        ),
        pytest.param(
            "object_type: codeunit\nobject_id: 1\nreport_parameters: {days: 7}\n",
            [f"jobs.d/job.yaml:3: report_parameters: {ONLY}"],
            id="codeunit-with-report-parameters",
        ),
        pytest.param(
            "object_type: report\nobject_id: 1\nreport_output: docx\n",
            [
                "jobs.d/job.yaml:3: report_output: 'docx' is not a report output "
                "(csv, xlsx, pdf or none)"
            ],
            id="unknown-format",
        ),
        pytest.param(
            "object_type: report\nobject_id: 1\nreport_parameters: [days]\n",
            ["jobs.d/job.yaml:3: report_parameters: ['days'] should be a mapping of keys"],
            id="parameters-not-a-mapping",
        ),
        pytest.param(
            "object_type: page\nobject_id: 1\n",
            ["jobs.d/job.yaml:1: object_type: 'page' is not one of: codeunit, report"],
            id="unknown-object-type",
        ),
        pytest.param(
            "object_id: 1\nmax_retries: 99\nreport_output: pdf\n",
            [
                "jobs.d/job.yaml:2: max_retries: 99 is out of range 0..10",
                f"jobs.d/job.yaml:3: report_output: {ONLY}",
            ],
            id="with-another-problem",
        ),
    ],
)
def test_report_keys_where_they_do_not_belong_are_located(text, expected):
    assert problems(text) == expected
