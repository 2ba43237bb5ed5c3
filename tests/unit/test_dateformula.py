"""BC DateFormula (CalcDate) evaluation and parsing."""

from __future__ import annotations

from datetime import date

import pytest

from jobrunner import dateformula


@pytest.mark.parametrize(
    ("formula", "start", "expected"),
    [
        pytest.param("<1D+CM>", date(2012, 3, 31), date(2012, 4, 30), id="1D+CM"),
        pytest.param("CM", date(2026, 2, 10), date(2026, 2, 28), id="CM"),
        pytest.param("-CM", date(2026, 2, 10), date(2026, 2, 1), id="-CM"),
        pytest.param("CW", date(2026, 11, 21), date(2026, 11, 22), id="CW-sunday"),
        pytest.param("-CW", date(2026, 11, 21), date(2026, 11, 16), id="-CW-monday"),
        pytest.param("CQ", date(2026, 11, 21), date(2026, 12, 31), id="CQ"),
        pytest.param("-CQ", date(2026, 11, 21), date(2026, 10, 1), id="-CQ"),
        pytest.param("CY", date(2026, 11, 21), date(2026, 12, 31), id="CY"),
        pytest.param("-CY", date(2026, 11, 21), date(2026, 1, 1), id="-CY"),
        pytest.param("CD", date(2026, 11, 21), date(2026, 11, 21), id="CD"),
        pytest.param("1M", date(2024, 1, 31), date(2024, 2, 29), id="1M-leap-clamp"),
        pytest.param("1M", date(2023, 1, 31), date(2023, 2, 28), id="1M-clamp"),
        pytest.param("-1M", date(2024, 3, 31), date(2024, 2, 29), id="-1M"),
        pytest.param("1Q", date(2026, 11, 30), date(2027, 2, 28), id="1Q"),
        pytest.param("1Y", date(2024, 2, 29), date(2025, 2, 28), id="1Y"),
        pytest.param("-1W", date(2026, 11, 21), date(2026, 11, 14), id="-1W"),
        pytest.param("30D", date(2026, 11, 21), date(2026, 12, 21), id="30D"),
        pytest.param("WD2", date(1996, 5, 21), date(1996, 5, 28), id="WD2-from-tuesday"),
        pytest.param("-WD2", date(1996, 5, 21), date(1996, 5, 14), id="-WD2-bc-docs"),
        pytest.param("WD5", date(1996, 5, 21), date(1996, 5, 24), id="WD5"),
        pytest.param("CQ+1M-10D", date(1996, 5, 21), date(1996, 7, 20), id="CQ+1M-10D"),
        pytest.param("CM+30D", date(1996, 5, 21), date(1996, 6, 30), id="CM+30D"),
        pytest.param("D15", date(2026, 11, 21), date(2026, 12, 15), id="D15-next-month"),
        pytest.param("D15", date(2026, 11, 10), date(2026, 11, 15), id="D15-this-month"),
        pytest.param("D31", date(2026, 11, 5), date(2026, 12, 31), id="D31-skips-short"),
        pytest.param("-D15", date(2026, 11, 21), date(2026, 11, 15), id="-D15"),
        pytest.param(" <1d + cm> ", date(2012, 3, 31), date(2012, 4, 30), id="case-spaces"),
        pytest.param("CW+1D", date(2026, 11, 18), date(2026, 11, 23), id="CW+1D"),
    ],
)
def test_evaluate(formula, start, expected):
    assert dateformula.evaluate(dateformula.parse(formula), start) == expected


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("<>", "empty", id="empty-brackets"),
        pytest.param("1X", "cannot read", id="unknown-unit"),
        pytest.param("CP", "cannot read", id="accounting-period"),
        pytest.param("WD8", "weekday is 1", id="weekday-range"),
        pytest.param("D32", "day of the month", id="day-range"),
        pytest.param("2WD", "WDn", id="number-before-WD"),
        pytest.param("1D junk", "cannot read 'junk'", id="junk"),
    ],
)
def test_parse_errors(formula, message):
    with pytest.raises(dateformula.FormulaSyntaxError, match=message):
        dateformula.parse(formula)


@pytest.mark.parametrize(
    ("formula", "advances"),
    [("1D", True), ("1D+CM", True), ("CM", False), ("-1D", False), ("WD1", True), ("CW", False)],
)
def test_always_advances(formula, advances):
    assert dateformula.always_advances(dateformula.parse(formula)) is advances
