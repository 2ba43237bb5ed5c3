"""Business Central date formulas (DateFormula / CalcDate): parsing and evaluation.

Pure: stdlib only. A formula is up to any number of signed terms, evaluated left to right:
  `nU`  add n units (D day, W week, M month, Q quarter, Y year), e.g. `30D`, `-1W`, `1M`;
  `CU`  the end of the current unit (`-CU` its start), e.g. `CM`, `-CW`, `CY`;
  `WDn` the next weekday n (Monday = 1), strictly after the date (`-WDn`: strictly before);
  `Dn`  the next n-th day of a month, strictly after the date (`-Dn`: strictly before).
Weeks run Monday to Sunday. Adding months keeps the day, clamped to the month's length.
The formula may be wrapped in `<>` as BC shows it.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

_TERM = re.compile(
    r"""\s*(?P<sign>[+-]?)\s*(?:
        (?P<n>\d+)(?P<unit>WD|[DWMQY])
      | C(?P<cunit>[DWMQY])
      | (?P<aunit>WD|D)(?P<an>\d+)
    )""",
    re.VERBOSE | re.IGNORECASE,
)


MAX_LENGTH = 64
"""Characters: a formula is a few terms (BC's DateFormula field holds 32)."""


class FormulaSyntaxError(ValueError):
    """The formula is not a valid BC date formula."""


@dataclass(frozen=True, slots=True)
class Term:
    sign: int
    kind: str  # "add", "current", "weekday", "day"
    unit: str
    number: int


@dataclass(frozen=True, slots=True)
class DateFormula:
    text: str
    terms: tuple[Term, ...]


def parse(text: str) -> DateFormula:
    """Parse `1D+CM`, `<-1W>`, `WD2`, ... into a DateFormula."""
    body = text.strip()
    if len(body) > MAX_LENGTH:
        raise FormulaSyntaxError(f"is {len(body)} characters long; at most {MAX_LENGTH} are read")
    if body.startswith("<") and body.endswith(">"):
        body = body[1:-1]
    if not body.strip():
        raise FormulaSyntaxError("the formula is empty")
    terms: list[Term] = []
    pos = 0
    while pos < len(body):
        m = _TERM.match(body, pos)
        if m is None or m.end() == pos:
            rest = body[pos:].strip()
            raise FormulaSyntaxError(
                f"cannot read {rest!r} (terms look like 1D, -1W, CM, -CM, WD2, D15)"
            )
        terms.append(_term(m))
        pos = m.end()
        while pos < len(body) and body[pos].isspace():
            pos += 1
    return DateFormula(text=text.strip(), terms=tuple(terms))


def _term(m: re.Match[str]) -> Term:
    sign = -1 if m["sign"] == "-" else 1
    if m["n"] is not None:
        unit = m["unit"].upper()
        if unit == "WD":
            raise FormulaSyntaxError(f"{m.group(0).strip()!r}: write a weekday as WDn, e.g. WD2")
        return Term(sign, "add", unit, int(m["n"]))
    if m["cunit"] is not None:
        return Term(sign, "current", m["cunit"].upper(), 0)
    unit, number = m["aunit"].upper(), int(m["an"])
    if unit == "WD" and not 1 <= number <= 7:
        raise FormulaSyntaxError(f"WD{number}: a weekday is 1 (Monday) to 7 (Sunday)")
    if unit == "D" and not 1 <= number <= 31:
        raise FormulaSyntaxError(f"D{number}: a day of the month is 1 to 31")
    return Term(sign, "weekday" if unit == "WD" else "day", unit, number)


def evaluate(formula: DateFormula, start: date) -> date:
    """CalcDate(formula, start). Raises OverflowError when the result leaves the calendar."""
    result = start
    for term in formula.terms:
        result = _apply(term, result)
    return result


def _apply(term: Term, d: date) -> date:
    if term.kind == "add":
        return _add(d, term.unit, term.sign * term.number)
    if term.kind == "current":
        return _period_start(d, term.unit) if term.sign < 0 else _period_end(d, term.unit)
    if term.kind == "weekday":
        step = term.sign
        d = d + timedelta(days=step)
        while d.isoweekday() != term.number:
            d += timedelta(days=step)
        return d
    return _next_day_of_month(d, term.number, term.sign)


def _add(d: date, unit: str, n: int) -> date:
    if unit == "D":
        return d + timedelta(days=n)
    if unit == "W":
        return d + timedelta(weeks=n)
    months = n * {"M": 1, "Q": 3, "Y": 12}[unit]
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    if not date.min.year <= year <= date.max.year:
        raise OverflowError("date value out of range")
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _period_start(d: date, unit: str) -> date:
    if unit == "D":
        return d
    if unit == "W":
        return d - timedelta(days=d.isoweekday() - 1)
    if unit == "M":
        return d.replace(day=1)
    if unit == "Q":
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return date(d.year, 1, 1)


def _period_end(d: date, unit: str) -> date:
    if unit == "D":
        return d
    if unit == "W":
        return d + timedelta(days=7 - d.isoweekday())
    if unit == "M":
        return d.replace(day=calendar.monthrange(d.year, d.month)[1])
    if unit == "Q":
        last = 3 * ((d.month - 1) // 3) + 3
        return date(d.year, last, calendar.monthrange(d.year, last)[1])
    return date(d.year, 12, 31)


def _next_day_of_month(d: date, day: int, sign: int) -> date:
    # The next (or previous) date whose day of month is `day`, skipping months too short.
    year, month = d.year, d.month
    for _ in range(24):
        if day <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, day)
            if (sign > 0 and candidate > d) or (sign < 0 and candidate < d):
                return candidate
        month += sign
        if month == 13:
            year, month = year + 1, 1
        elif month == 0:
            year, month = year - 1, 12
    raise OverflowError("no such day of the month")  # pragma: no cover - day <= 31 always hits


def always_advances(formula: DateFormula) -> bool:
    """Whether the formula moves every date forward, over a sample that holds every
    month end, leap day and weekday; a recurrence needs this or it would run in a loop."""
    return all(evaluate(formula, d) > d for d in _SAMPLE)


_SAMPLE = tuple(date(2023, 12, 1) + timedelta(days=i) for i in range(0, 500))
