"""A report's result as a Table: the shapes a report object may return, and the rest."""

from __future__ import annotations

import pytest

from jobrunner.reports import ReportError
from jobrunner.reports.table import Table, table_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            [{"a": 1, "b": 2}, {"b": 3, "c": 4}],
            Table(columns=("a", "b", "c"), rows=((1, 2, None), (None, 3, 4))),
            id="mappings-columns-in-first-seen-order",
        ),
        pytest.param(
            ({"n": i} for i in range(2)),
            Table(columns=("n",), rows=((0,), (1,))),
            id="any-iterable",
        ),
        pytest.param([], Table(columns=(), rows=()), id="no-rows"),
        pytest.param(
            {"columns": ["x", "y"], "rows": []},
            Table(columns=("x", "y"), rows=()),
            id="explicit-empty-keeps-its-columns",
        ),
        pytest.param(
            {"columns": ["x"], "rows": [[1], (2,)]},
            Table(columns=("x",), rows=((1,), (2,))),
            id="explicit",
        ),
        pytest.param([{1: "one"}], Table(columns=("1",), rows=(("one",),)), id="keys-as-text"),
    ],
)
def test_table_of_the_shapes_a_report_returns(value, expected):
    assert table_of(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(42, "this one returned int", id="a-number"),
        pytest.param(None, "this one returned NoneType", id="nothing"),
        pytest.param("a,b", "this one returned str", id="text"),
        pytest.param([{"a": 1}, [1]], "row 2 is list", id="a-row-not-a-mapping"),
        pytest.param({"rows": []}, "this mapping has the keys ['rows']", id="no-columns"),
        pytest.param({"columns": ["a"], "rows": [[1, 2]]}, "row 1 has 2 values for 1", id="long"),
        pytest.param({"columns": ["a"], "rows": ["x"]}, "row 1 is str", id="row-text"),
        pytest.param({"columns": ["a", "a"], "rows": []}, "name one column twice", id="twice"),
    ],
)
def test_table_of_anything_else_says_what_a_report_returns(value, message):
    with pytest.raises(ReportError) as caught:
        table_of(value)
    assert message in str(caught.value)
