"""Job files' text -> a validated JobSpec, or every problem yamltext.located by line and key.

`parse_spec(text, ...)` is pure: YAML read by `yamltext`, checked against the job schema,
then built here (the meaning: durations, instants, recurrences, environment). The hot
path validates with the compiled schema; only a file that fails is walked again to word
and yamltext.locate its errors. Reading files (and who owns them) is `jobfiles`'.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import yaml

from jobrunner import (
    cron,
    dateformula,
    errors,
    model,
    problems,
    reports,
    schemas,
    timetext,
    wallclock,
    yamltext,
)

SCHEMA = "job.schema.json"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RESERVED_ENVIRONMENT = ("HOME", "USER", "LOGNAME", "SHELL")
"""Variables a session always takes from its account, never from a job file."""
_T = TypeVar("_T")

MAX_JITTER = timedelta(days=1)
"""The longest recurrence.jitter (systemd puts no bound; a day is past any sane use)."""

LATEST_START = datetime(9999, 1, 1, tzinfo=UTC)
"""A start's run times are computed in its zone, moved into its window and run-on days
(at most a week) or searched for over years: a year short of the calendar's end."""


def _formula(text: str) -> dateformula.DateFormula:
    formula = dateformula.parse(text)
    try:
        advances = dateformula.always_advances(formula)
    except OverflowError:
        raise dateformula.FormulaSyntaxError(
            f"{problems.shown(text)} moves a date outside the calendar (years 1 to 9999)"
        ) from None
    if not advances:
        raise dateformula.FormulaSyntaxError(
            f"{text!r} does not always move the date forward (it would run in a loop); "
            "add a day, e.g. 1D+CM"
        )
    return formula


@functools.lru_cache(maxsize=1024)
def _cron(text: str) -> cron.CronExpr:
    expr = cron.parse(text)
    if cron.next_match(expr, datetime(2000, 1, 1)) is None:
        raise cron.CronSyntaxError(f"{text!r} never matches a date (e.g. 30 February)")
    return expr


# --- the document -----------------------------------------------------------------------


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def canonical_json(raw: dict[str, Any]) -> str:
    """A definition as canonical JSON (sorted keys, no spaces)."""
    return _CANONICAL.encode(raw)


def definition_hash(raw: dict[str, Any], default_timezone: str, canonical: str = "") -> str:
    """A stable digest of what the file says (and the zone it is read in)."""
    text = f"{canonical or canonical_json(raw)}\n{default_timezone}"
    return hashlib.sha256(text.encode()).hexdigest()


def compile_schema() -> None:
    """Compile the job schema's validator now, once for the process (done at the first
    file otherwise): before a read forks helpers, so that they share it."""
    schemas.fast_validator(SCHEMA)


def parse_spec(
    text: str, source: str, *, default_id: str, timezone: str, stamp: str = ""
) -> model.JobSpec:
    """Validate one job file's text and build its JobSpec; SpecError lists every
    problem as FILE:LINE: KEY.PATH: message. Nothing else escapes: an unexpected error
    is reported as a yamltext.located problem too, so one file never stops the others."""
    try:
        return _parse_spec(text, source, default_id=default_id, timezone=timezone, stamp=stamp)
    except errors.SpecError:
        raise
    except Exception as exc:  # a last resort: each cause found is handled where it arises
        message = f"internal error reading this file: {type(exc).__name__}: {exc}"
        raise errors.SpecError(
            [model.Problem(file=source, line=1, path=problems.DOCUMENT, message=message[:500])]
        ) from None


def _parse_spec(
    text: str, source: str, *, default_id: str, timezone: str, stamp: str
) -> model.JobSpec:
    try:
        raw = yamltext.read_yaml(text)
    except yaml.YAMLError as exc:
        raise errors.SpecError([yamltext.yaml_problem(exc, source)]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict) or not schemas.is_valid(SCHEMA, raw):
        raise errors.SpecError(_all_problems(text, source, raw, default_id, timezone))
    builder = _Builder(text, source, raw, timezone)
    built = builder.build(default_id, stamp=stamp)
    if builder.problems or built is None:
        raise errors.SpecError(builder.problems)
    return built


def _schema_problems(text: str, source: str, raw: Any) -> list[model.Problem]:
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        return [
            model.Problem(
                file=source,
                line=1,
                path=problems.DOCUMENT,
                message=f"a job file must be a mapping of keys, not a {kind}",
            )
        ]
    return yamltext.located(source, text, list(schemas.errors(SCHEMA, raw)))


def _all_problems(
    text: str, source: str, raw: Any, default_id: str, timezone: str
) -> list[model.Problem]:
    """The schema's problems and the meaning's: the meaning is checked on the keys the
    schema has no problem with (the others left out, and a missing object_id stood in
    for), so that one run of `validate` lists everything to fix."""
    found = _schema_problems(text, source, raw)
    if not isinstance(raw, dict) or len(found) > problems.MAX_PROBLEMS:
        return found
    rest = problems.without(raw, [where for where, _ in schemas.errors(SCHEMA, raw)])
    rest.setdefault("object_id", 1)
    if not schemas.is_valid(SCHEMA, rest):
        return found
    builder = _Builder(text, source, rest, timezone)
    builder.build(default_id)
    return sorted([*found, *builder.problems], key=lambda p: p.line)


class _Builder:
    """Turns a schema-valid mapping into a JobSpec, collecting meaning problems."""

    def __init__(self, text: str, source: str, raw: dict[str, Any], timezone: str) -> None:
        self.text, self.source, self.raw, self.timezone = text, source, raw, timezone
        self.problems: list[model.Problem] = []
        self._node: yaml.Node | None = None

    def problem(self, where: list[str | int], message: str) -> None:
        if self._node is None and self.text:
            self._node = yamltext.composed(self.text)
        line = yamltext.locate(self._node, where)
        self.problems.append(
            model.Problem(
                file=self.source, line=line, path=problems.format_path(where), message=message
            )
        )

    def duration(
        self, key: str, default: timedelta, where: list[str | int] | None = None, value: Any = None
    ) -> timedelta:
        where = where or [key]
        value = self.raw.get(key) if value is None else value
        if value is None:
            return default
        try:
            return timetext.parse_duration(value)
        except ValueError as exc:
            self.problem(where, str(exc))
            return default

    def build(self, default_id: str, *, stamp: str = "", digest: str = "") -> model.JobSpec | None:
        raw = self.raw
        entry_id = self.entry_id(default_id)
        recurrence = self.recurrence(raw["recurrence"]) if "recurrence" in raw else None
        tz_name = recurrence.timezone if recurrence else self.timezone
        (earliest, expiration), (rerun_delay, timeout) = self.window(tz_name), self.delays()
        environment = self.environment(raw.get("environment", {}))
        history = self.history(raw["history"]) if "history" in raw else None
        if self.problems:
            return None
        canonical = canonical_json(raw)
        return model.JobSpec(
            id=entry_id,
            object_id=raw["object_id"],
            source=self.source,
            description=raw.get("description", ""),
            object_type=raw.get("object_type", "codeunit"),
            parameter_string=raw.get("parameter_string", ""),
            status=_member(model.DesiredStatus, raw.get("status", "ready")),
            user=raw.get("user"),
            timezone=tz_name,
            earliest_start=earliest,
            expiration=expiration,
            recurrence=recurrence,
            max_retries=raw.get("max_retries", 0),
            rerun_delay=rerun_delay,
            category=raw.get("category"),
            priority=_member(model.Priority, raw.get("priority", "normal")),
            timeout=timeout,
            inactivity_timeout=self.duration("inactivity_timeout", timedelta(minutes=5)),
            manual_recurrence=raw.get("manual_recurrence", False),
            failure_handler=raw.get("failure_handler"),
            on_final_failure=_member(model.FinalFailure, raw.get("on_final_failure", "error")),
            environment=environment,
            session_mode=raw.get("session_mode"),
            history=history,
            report_output=_report_output(raw),
            report_parameters=dict(raw.get("report_parameters") or {}),
            digest=digest or definition_hash(raw, self.timezone, canonical),
            definition=canonical,
            stamp=stamp,
            raw=raw,
        )

    def entry_id(self, default_id: str) -> str:
        entry_id: str = self.raw.get("id", default_id)
        if "id" not in self.raw and not ID_PATTERN.match(entry_id):
            self.problem(
                ["id"], f"the file name {entry_id!r} is not a valid id; set id: explicitly"
            )
        return entry_id

    def window(self, tz_name: str) -> tuple[datetime | None, datetime | None]:
        """The earliest start and the expiration, read in `tz_name`."""
        earliest, expiration = (
            self.instant("earliest_start", tz_name),
            self.instant("expiration", tz_name),
        )
        if earliest and expiration and expiration <= earliest:
            self.problem(["expiration"], "must be later than earliest_start")
        return earliest, expiration

    def delays(self) -> tuple[timedelta, timedelta]:
        """The rerun delay and the timeout."""
        rerun_delay = self.duration("rerun_delay", timedelta(0))
        if rerun_delay > timedelta(hours=1):
            shown_delay = problems.shown(self.raw["rerun_delay"])
            self.problem(["rerun_delay"], f"{shown_delay} is more than the maximum 1h")
        timeout = self.duration("timeout", timedelta(hours=12))
        if timeout <= timedelta(0):
            self.problem(["timeout"], "must be longer than 0")
        return rerun_delay, timeout

    def environment(self, variables: dict[str, str]) -> dict[str, str]:
        for name, value in variables.items():
            if name in RESERVED_ENVIRONMENT:
                self.problem(
                    ["environment", name],
                    f"{name} is the account's own (set from the user database) "
                    "and cannot be set here",
                )
            elif "\0" in value:
                self.problem(
                    ["environment", name], "holds a NUL character, which no variable can hold"
                )
        return dict(variables)

    def history(self, value: dict[str, Any]) -> model.History:
        retention = None
        if "failed_retention" in value:
            key = "failed_retention"
            where: list[str | int] = ["history", key]
            retention = self.duration("failed_retention", timedelta(0), where, value[key])
        return history_of(value, retention)

    def instant(self, key: str, tz_name: str) -> datetime | None:
        value = self.raw.get(key)
        if value is None:
            return None
        try:
            instant = timetext.parse_instant(value, tz_name)
        except ValueError as exc:  # (UnknownZone is one)
            self.problem([key], f"{problems.shown(value)} is not a valid date and time ({exc})")
            return None
        if key == "earliest_start" and instant >= LATEST_START:
            self.problem(
                [key], f"{problems.shown(value)} is too late: an entry starts before 9999-01-01"
            )
            return None
        return instant

    def recurrence(self, rec: dict[str, Any]) -> model.Recurrence | None:
        before = len(self.problems)
        tz_name = rec.get("timezone", self.timezone)
        try:
            wallclock.zone(tz_name)
        except wallclock.UnknownZone as exc:
            self.problem(["recurrence", "timezone"], str(exc))
        every = self.every(rec)
        expr = self.parsed(rec, "cron", _cron, cron.CronSyntaxError)
        formula = self.parsed(
            rec, "next_run_date_formula", _formula, dateformula.FormulaSyntaxError
        )
        grace = None
        if "misfire_grace" in rec:
            where: list[str | int] = ["recurrence", "misfire_grace"]
            grace = self.duration("misfire_grace", timedelta(0), where, rec["misfire_grace"])
        jitter = self.jitter(rec)
        if len(self.problems) > before:
            return None
        return model.Recurrence(
            timezone=tz_name,
            every=every,
            run_on=frozenset(model.WEEKDAY_NAMES.index(d) + 1 for d in rec["run_on"])
            if "run_on" in rec
            else model.ALL_DAYS,
            starting_time=timetext.parse_time(rec["starting_time"])
            if "starting_time" in rec
            else None,
            ending_time=timetext.parse_time(rec["ending_time"]) if "ending_time" in rec else None,
            date_formula=formula,
            cron=expr,
            misfire_grace=grace,
            jitter=jitter,
        )

    def jitter(self, rec: dict[str, Any]) -> timedelta | None:
        if "jitter" not in rec:
            return None
        where: list[str | int] = ["recurrence", "jitter"]
        before = len(self.problems)
        jitter = self.duration("jitter", timedelta(0), where, rec["jitter"])
        if jitter > MAX_JITTER and len(self.problems) == before:
            self.problem(where, f"{problems.shown(rec['jitter'])} is more than the maximum 1d")
        return jitter or None

    def every(self, rec: dict[str, Any]) -> timedelta | None:
        if "every" not in rec:
            return None
        before = len(self.problems)
        every = self.duration("every", timedelta(0), ["recurrence", "every"], rec["every"])
        if every <= timedelta(0) and len(self.problems) == before:
            self.problem(
                ["recurrence", "every"], "must be longer than 0 (leave every out to run once a day)"
            )
        return every

    def parsed(
        self, rec: dict[str, Any], key: str, parse: Callable[[str], _T], error: type[ValueError]
    ) -> _T | None:
        if key not in rec:
            return None
        try:
            return parse(rec[key])
        except error as exc:
            self.problem(["recurrence", key], str(exc))
            return None


_E = TypeVar("_E", bound=enum.Enum)


@functools.cache
def _members(kind: type[_E]) -> dict[Any, _E]:
    return {member.value: member for member in kind}


def _member(kind: type[_E], value: Any) -> _E:
    """`kind(value)`, by a lookup (calling an enum costs more than the other keys of a
    file's build together)."""
    try:
        found = _members(kind).get(value)
    except TypeError:  # unhashable: not a member, and the call says so
        found = None
    return kind(value) if found is None else found


def _report_output(raw: dict[str, Any]) -> str | None:
    """A report entry's format (the default when it names none); None for a codeunit
    (the schema refuses the report keys there)."""
    if raw.get("object_type", "codeunit") != "report":
        return None
    return str(raw.get("report_output", reports.DEFAULT_OUTPUT))


def history_of(value: dict[str, Any], failed_retention: timedelta | None) -> model.History:
    """A `history:` mapping (schema-valid) as History; shared by job files and the config."""
    return model.History(
        keep_successful=value.get("keep_successful"),
        keep_failed=value.get("keep_failed"),
        failed_retention=failed_retention,
    )


def from_raw(
    raw: dict[str, Any], source: str, entry_id: str, timezone: str, digest: str = ""
) -> model.JobSpec:
    """The JobSpec of a mapping validated before (a stored definition), read in
    `timezone`; `digest` is the one computed when its file was read. SpecError when it no
    longer builds."""
    builder = _Builder("", source, raw, timezone)
    built = builder.build(entry_id, digest=digest)
    if built is None:
        raise errors.SpecError(builder.problems)
    return built
