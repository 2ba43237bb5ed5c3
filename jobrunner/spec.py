"""Job files: YAML text -> a validated JobSpec, or every problem located by line and key.

`parse_spec(text, ...)` is pure; `load_file(path, ...)` only adds the read. The YAML is
read with the C loader and a YAML 1.2-style core schema (no sexagesimal `10:00`, no
`yes/no/on/off` booleans, no implicit timestamps), and duplicate keys are errors. The
hot path validates with the compiled schema; only a file that fails is walked again to
word and locate its errors.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml

from jobrunner import cron, dateformula, errors, model, permissions, schemas, wallclock

SCHEMA = "job.schema.json"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
JOB_SUFFIXES = (".yaml", ".yml")
_DURATION = re.compile(r"(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?")
_UNIT_MS = (86_400_000, 3_600_000, 60_000, 1000, 1)
MAX_DURATION = timedelta(days=36500)
"""The longest duration read (100 years): any instant plus or minus it stays in the calendar."""
DOCUMENT = "<document>"
RESERVED_ENVIRONMENT = ("HOME", "USER", "LOGNAME", "SHELL")
"""Variables a session always takes from its account, never from a job file."""
_T = TypeVar("_T")


# --- YAML -------------------------------------------------------------------------------

MAX_TEXT = 1 << 20
"""Characters: a job file or config past this is refused unread (they are a few dozen lines)."""
MAX_DEPTH = 16
"""Nesting levels of collections; job files use 3, the config 4."""
MAX_VALUES = 2000
"""Values (scalars, collections and keys) in one job file; a config may hold more."""
MAX_PROBLEMS = 20
"""Problems listed per file; more are summed up in one last line."""
_COMPOSE_SAFE = 1000  # the C composer recurses per level: deeper text is scanned first


class _Loader(yaml.CSafeLoader):
    pass


class Refused(yaml.MarkedYAMLError):
    """YAML these files do not take (too large or deep, an alias, a key that is not text,
    an explicit tag): valid YAML perhaps, but never a job file or a config."""

    def __init__(self, message: str, mark: Any, where: list[str | int]) -> None:
        super().__init__(problem=message, problem_mark=mark)
        self.where = where


def _core_resolvers(loader: type[yaml.CSafeLoader]) -> None:
    loader.yaml_implicit_resolvers = {}
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:int",
        re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
        list("-+0123456789"),
    )
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
    )


_core_resolvers(_Loader)


def read_yaml(text: str, *, max_values: int = MAX_VALUES) -> Any:
    """Parse YAML with the job-file rules into plain values (keys are always text);
    raises yaml.YAMLError with a mark (`Refused` for what the rules refuse).

    The C parser composes the node tree and a small constructor turns it into values.
    Aliases (`*name`) are refused: these are small files that people read, and an alias
    is the one way a few lines of YAML expand to gigabytes ("billion laughs")."""
    node = _compose(text)
    return None if node is None else _Values(max_values, "*" in text).read(node, 0, node.start_mark)


def _compose(text: str) -> yaml.Node | None:
    if len(text) > MAX_TEXT:
        raise Refused(f"is {len(text)} characters long; at most {MAX_TEXT} are read", None, [])
    if len(text) > _COMPOSE_SAFE and _nesting_bound(text) > _COMPOSE_SAFE:
        _check_depth(text)
    node: yaml.Node | None = yaml.compose(text, Loader=_Loader)
    return node


def _nesting_bound(text: str) -> int:
    # Every collection starts at one of these characters ('[', '{', a '-' or '?'
    # indicator, or a block mapping's first ':'), so their count bounds the depth.
    return sum(text.count(c) for c in "[{-?:")


def _check_depth(text: str) -> None:
    # The event parser keeps its own stack (no recursion), so it measures safely.
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise Refused(_too_deep(), event.start_mark, [])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


_ALIAS = "aliases (*name) are not allowed here; write the value out"


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep"


def _int(value: str) -> int:
    return int(value, 0) if value[:2] in ("0x", "0o") else int(value)


def _float(value: str) -> float:
    word = value.lstrip("+-").lower()
    if word in (".inf", ".nan"):
        return float(value.replace(".", "", 1))
    return float(value)


def _bool(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ValueError(value)
    return value.lower() == "true"


_SCALARS: dict[str, Callable[[str], Any]] = {
    "tag:yaml.org,2002:str": str,
    "tag:yaml.org,2002:int": _int,
    "tag:yaml.org,2002:float": _float,
    "tag:yaml.org,2002:bool": _bool,
    "tag:yaml.org,2002:null": lambda v: None,
}
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


def _tag(node: yaml.Node) -> str:
    return node.tag.replace("tag:yaml.org,2002:", "!!")


class _Values:
    """One document's node tree -> values. A node met twice is an alias (the composer
    hands the anchored node out again). The path of a refusal is filled in as it
    unwinds, so a good file pays nothing for it."""

    def __init__(self, max_values: int, aliases: bool) -> None:
        self.seen: set[int] = set()
        self.aliases = aliases  # False: the text holds no '*', so no alias
        self.left = max_values

    def read(self, node: yaml.Node, depth: int, mark: Any) -> Any:
        # `mark`: where the node is referred to (its key, or its list's start), which an
        # alias has and its node does not.
        if self.aliases:
            if id(node) in self.seen:
                raise Refused(_ALIAS, mark, [])
            self.seen.add(id(node))
        self.left -= 1
        if self.left < 0:
            raise Refused("holds too many values (a job file holds a few dozen)", mark, [])
        if depth >= MAX_DEPTH:
            raise Refused(_too_deep(), node.start_mark, [])
        tag = node.tag
        if tag == _MAP and isinstance(node, yaml.MappingNode):
            return self.mapping(node, depth + 1)
        if tag == _SEQ and isinstance(node, yaml.SequenceNode):
            out = []
            for i, item in enumerate(node.value):
                try:
                    out.append(self.read(item, depth + 1, node.start_mark))
                except Refused as exc:
                    exc.where.insert(0, i)
                    raise
            return out
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        message = f"the tag {_tag(node)} is not allowed here (write plain YAML)"
        raise Refused(message, node.start_mark, [])

    def scalar(self, node: yaml.ScalarNode) -> Any:
        convert = _SCALARS.get(node.tag)
        if convert is None:
            raise Refused(
                f"the tag {_tag(node)} is not allowed here (write the value as text)",
                node.start_mark,
                [],
            )
        try:
            return convert(node.value)
        except ValueError:
            message = f"{shown(node.value)} cannot be read as {_tag(node)}"
            raise Refused(message, node.start_mark, []) from None

    def mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            mark = key_node.start_mark
            if key_node.tag not in _SCALARS or not isinstance(key_node, yaml.ScalarNode):
                kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
                what = _tag(key_node) if isinstance(key_node, yaml.ScalarNode) else kind
                raise Refused(f"a key must be plain text, not {what}", mark, [])
            if self.aliases:
                if id(key_node) in self.seen:
                    raise Refused(_ALIAS, mark, [])
                self.seen.add(id(key_node))
            # JSON's rule, which the schemas check: a key is its text (`1: x` is key '1').
            key = key_node.value
            if key in out:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
            try:
                out[key] = self.read(value_node, depth, mark)
            except Refused as exc:
                exc.where.insert(0, key)
                raise
        return out


def locate(text: str | yaml.Node | None, where: list[str | int]) -> int:
    """The 1-based line of the key (or list item) at `where` in a text (or its composed
    node); its nearest parent when that key is missing; 1 when the text cannot be
    composed."""
    node = composed(text) if isinstance(text, str) else text
    line = 1 if node is None else node.start_mark.line + 1
    for step in where:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == step), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                return line
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def composed(text: str) -> yaml.Node | None:
    """The text's node tree for `locate` (compose once, locate many), or None."""
    try:
        return _compose(text)
    except yaml.YAMLError:
        return None


def format_path(where: list[str | int]) -> str:
    out = ""
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or DOCUMENT


# --- values -----------------------------------------------------------------------------


def parse_duration(value: str | int) -> timedelta:
    """`30s`, `5m`, `1h30m`, `2d`, `250ms` or 0 -> timedelta; ValueError otherwise."""
    if value in (0, "0"):
        return timedelta(0)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a duration (examples: 30s, 5m, 1h30m)")
    match = _DURATION.fullmatch(value)
    if match is None:
        raise ValueError(f"{shown(value)} is not a duration (examples: 30s, 5m, 1h30m)")
    longest = MAX_DURATION // timedelta(milliseconds=1)
    # whole milliseconds, in ints: a float or a timedelta of a huge count would overflow
    ms = 0
    for digits, size in zip(match.groups(), _UNIT_MS, strict=True):
        if digits:
            ms += int(digits) * size if len(digits) <= 20 else longest + 1
    if ms > longest:
        raise ValueError(
            f"{shown(value)} is longer than the maximum {format_duration(MAX_DURATION)}"
        )
    return timedelta(milliseconds=ms)


def shown(value: Any, limit: int = 60) -> str:
    """A value's repr for a message, cut short: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def format_duration(delta: timedelta) -> str:
    """The inverse of parse_duration for display: 5400 s -> '1h30m'."""
    ms = round(delta.total_seconds() * 1000)
    if ms == 0:
        return "0"
    out = ""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        n, ms = divmod(ms, size)
        if n:
            out += f"{n}{unit}"
    return out + (f"{ms}ms" if ms else "")


MAX_JITTER = timedelta(days=1)
"""The longest recurrence.jitter (systemd puts no bound; a day is past any sane use)."""

LATEST_START = datetime(9999, 1, 1, tzinfo=UTC)
"""A start's run times are computed in its zone, moved into its window and run-on days
(at most a week) or searched for over years: a year short of the calendar's end."""


def parse_instant(value: str, tz_name: str) -> datetime:
    """An ISO-8601 date/time -> aware UTC; without an offset it is wall time in `tz_name`."""
    parsed = datetime.fromisoformat(value)
    try:
        if parsed.tzinfo is None:
            return wallclock.resolve(parsed, wallclock.zone(tz_name))
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-02:00 is past the calendar's end in UTC
        raise ValueError("outside the years 1 to 9999 in UTC") from None


def parse_time(value: str) -> time:
    return time.fromisoformat(value)


@functools.lru_cache(maxsize=1024)
def _formula(text: str) -> dateformula.DateFormula:
    formula = dateformula.parse(text)
    try:
        advances = dateformula.always_advances(formula)
    except OverflowError:
        raise dateformula.FormulaSyntaxError(
            f"{shown(text)} moves a date outside the calendar (years 1 to 9999)"
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


def canonical_json(raw: dict[str, Any]) -> str:
    """A definition as canonical JSON (sorted keys, no spaces)."""
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)


def definition_hash(raw: dict[str, Any], default_timezone: str, canonical: str = "") -> str:
    """A stable digest of what the file says (and the zone it is read in)."""
    text = f"{canonical or canonical_json(raw)}\n{default_timezone}"
    return hashlib.sha256(text.encode()).hexdigest()


def parse_spec(
    text: str, source: str, *, default_id: str, timezone: str, stamp: str = ""
) -> model.JobSpec:
    """Validate one job file's text and build its JobSpec; SpecError lists every
    problem as FILE:LINE: KEY.PATH: message. Nothing else escapes: an unexpected error
    is reported as a located problem too, so one file never stops the others."""
    try:
        return _parse_spec(text, source, default_id=default_id, timezone=timezone, stamp=stamp)
    except errors.SpecError:
        raise
    except Exception as exc:  # a last resort: each cause found is handled where it arises
        message = f"internal error reading this file: {type(exc).__name__}: {exc}"
        raise errors.SpecError(
            [model.Problem(file=source, line=1, path=DOCUMENT, message=message[:500])]
        ) from None


def _parse_spec(
    text: str, source: str, *, default_id: str, timezone: str, stamp: str
) -> model.JobSpec:
    try:
        raw = read_yaml(text)
    except yaml.YAMLError as exc:
        raise errors.SpecError([yaml_problem(exc, source)]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict) or not schemas.is_valid(SCHEMA, raw):
        raise errors.SpecError(_all_problems(text, source, raw, default_id, timezone))
    builder = _Builder(text, source, raw, timezone)
    built = builder.build(default_id, stamp=stamp)
    if builder.problems or built is None:
        raise errors.SpecError(builder.problems)
    return built


def yaml_problem(exc: yaml.YAMLError, source: str) -> model.Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, Refused):
        return model.Problem(file=source, line=line, path=format_path(exc.where), message=problem)
    context = getattr(exc, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    column = mark.column + 1 if mark is not None else None
    return model.Problem(file=source, line=line, column=column, path=DOCUMENT, message=message)


def _schema_problems(text: str, source: str, raw: Any) -> list[model.Problem]:
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        return [
            model.Problem(
                file=source,
                line=1,
                path=DOCUMENT,
                message=f"a job file must be a mapping of keys, not a {kind}",
            )
        ]
    return located(source, text, list(schemas.errors(SCHEMA, raw)))


def _all_problems(
    text: str, source: str, raw: Any, default_id: str, timezone: str
) -> list[model.Problem]:
    """The schema's problems and the meaning's: the meaning is checked on the keys the
    schema has no problem with (the others left out, and a missing object_id stood in
    for), so that one run of `validate` lists everything to fix."""
    problems = _schema_problems(text, source, raw)
    if not isinstance(raw, dict) or len(problems) > MAX_PROBLEMS:
        return problems
    rest = without(raw, [where for where, _ in schemas.errors(SCHEMA, raw)])
    rest.setdefault("object_id", 1)
    if not schemas.is_valid(SCHEMA, rest):
        return problems
    builder = _Builder(text, source, rest, timezone)
    builder.build(default_id)
    return sorted([*problems, *builder.problems], key=lambda p: p.line)


def without(raw: dict[str, Any], paths: list[list[str | int]]) -> dict[str, Any]:
    """A copy of `raw` without the keys at `paths` (a path into a list leaves out the
    whole list; the document's own path, [], leaves out nothing)."""
    out = copy.deepcopy(raw)
    for where in paths:
        keys: list[str] = []
        for part in where:
            if not isinstance(part, str):
                break
            keys.append(part)
        node: Any = out
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if keys and isinstance(node, dict):
            node.pop(keys[-1], None)
    return out


def located(
    source: str, text: str, found: list[tuple[list[str | int], str]]
) -> list[model.Problem]:
    """Problems (path, message) located in the text, by line; past MAX_PROBLEMS one last
    line counts the rest (locating each of thousands would take minutes)."""
    node = composed(text)
    shown_ = [
        model.Problem(file=source, line=locate(node, where), path=format_path(where), message=msg)
        for where, msg in found[:MAX_PROBLEMS]
    ]
    shown_.sort(key=lambda p: p.line)
    if len(found) > MAX_PROBLEMS:
        more = f"{len(found) - MAX_PROBLEMS} more problems not listed (fix these first)"
        shown_.append(model.Problem(file=source, line=1, path=DOCUMENT, message=more))
    return shown_


class _Builder:
    """Turns a schema-valid mapping into a JobSpec, collecting meaning problems."""

    def __init__(self, text: str, source: str, raw: dict[str, Any], timezone: str) -> None:
        self.text, self.source, self.raw, self.timezone = text, source, raw, timezone
        self.problems: list[model.Problem] = []
        self._node: yaml.Node | None = None

    def problem(self, where: list[str | int], message: str) -> None:
        if self._node is None and self.text:
            self._node = composed(self.text)
        line = locate(self._node, where)
        self.problems.append(
            model.Problem(file=self.source, line=line, path=format_path(where), message=message)
        )

    def duration(
        self, key: str, default: timedelta, where: list[str | int] | None = None, value: Any = None
    ) -> timedelta:
        where = where or [key]
        value = self.raw.get(key) if value is None else value
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.problem(where, str(exc))
            return default

    def build(self, default_id: str, *, stamp: str = "", digest: str = "") -> model.JobSpec | None:
        raw = self.raw
        entry_id = raw.get("id", default_id)
        if "id" not in raw and not ID_PATTERN.match(entry_id):
            self.problem(
                ["id"], f"the file name {entry_id!r} is not a valid id; set id: explicitly"
            )
        recurrence = self.recurrence(raw["recurrence"]) if "recurrence" in raw else None
        tz_name = recurrence.timezone if recurrence else self.timezone
        earliest, expiration = (
            self.instant("earliest_start", tz_name),
            self.instant("expiration", tz_name),
        )
        if earliest and expiration and expiration <= earliest:
            self.problem(["expiration"], "must be later than earliest_start")
        rerun_delay = self.duration("rerun_delay", timedelta(0))
        if rerun_delay > timedelta(hours=1):
            shown_delay = shown(raw["rerun_delay"])
            self.problem(["rerun_delay"], f"{shown_delay} is more than the maximum 1h")
        timeout = self.duration("timeout", timedelta(hours=12))
        if timeout <= timedelta(0):
            self.problem(["timeout"], "must be longer than 0")
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
            status=model.DesiredStatus(raw.get("status", "ready")),
            user=raw.get("user"),
            timezone=tz_name,
            earliest_start=earliest,
            expiration=expiration,
            recurrence=recurrence,
            max_retries=raw.get("max_retries", 0),
            rerun_delay=rerun_delay,
            category=raw.get("category"),
            priority=model.Priority(raw.get("priority", "normal")),
            timeout=timeout,
            inactivity_timeout=self.duration("inactivity_timeout", timedelta(minutes=5)),
            manual_recurrence=raw.get("manual_recurrence", False),
            failure_handler=raw.get("failure_handler"),
            on_final_failure=model.FinalFailure(raw.get("on_final_failure", "error")),
            environment=environment,
            session_mode=raw.get("session_mode"),
            history=history,
            digest=digest or definition_hash(raw, self.timezone, canonical),
            definition=canonical,
            stamp=stamp,
            raw=raw,
        )

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
            instant = parse_instant(value, tz_name)
        except ValueError as exc:  # (UnknownZone is one)
            self.problem([key], f"{shown(value)} is not a valid date and time ({exc})")
            return None
        if key == "earliest_start" and instant >= LATEST_START:
            self.problem([key], f"{shown(value)} is too late: an entry starts before 9999-01-01")
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
            starting_time=parse_time(rec["starting_time"]) if "starting_time" in rec else None,
            ending_time=parse_time(rec["ending_time"]) if "ending_time" in rec else None,
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
            self.problem(where, f"{shown(rec['jitter'])} is more than the maximum 1d")
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


def history_of(value: dict[str, Any], failed_retention: timedelta | None) -> model.History:
    """A `history:` mapping (schema-valid) as History; shared by job files and the config."""
    return model.History(
        keep_successful=value.get("keep_successful"),
        keep_failed=value.get("keep_failed"),
        failed_retention=failed_retention,
    )


def default_id(path: Path) -> str:
    return path.stem


MAX_FILE_BYTES = 1 << 20  # a job file is a few hundred bytes; more is a mistake
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def load_file(
    path: Path, *, timezone: str, display: str | None = None, owners: bool = True
) -> model.JobSpec:
    """Read and parse one job file; every reason it cannot be read is a located problem.

    Only a regular file is opened (a FIFO, a device or a socket, also behind a symlink,
    never is), without blocking, and read up to MAX_FILE_BYTES; its name and text must
    be UTF-8. With `owners` (not on CI machines: `validate --no-resolve`), who owns and
    may write the file, its symlink and its folders decides who it runs as
    (`permissions.run_as`, cron's rule), judged on the open file itself; the account
    that controls a file naming no user is stored as its `user`."""
    source = display or str(path)
    try:
        path.name.encode()
    except UnicodeEncodeError:
        raise _problem(source, "the file name is not UTF-8 text; rename the file") from None
    try:
        data, info, holders, context = _read(path, source)
    except OSError as exc:
        raise _problem(source, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        raise _problem(source, f"not UTF-8 text ({exc.reason})") from None
    stamp = file_stamp(info, context)
    built = parse_spec(text, source, default_id=default_id(path), timezone=timezone, stamp=stamp)
    return _owned(built, text, holders, timezone) if owners else built


def _problem(source: str, message: str, line: int = 1, where: str = DOCUMENT) -> errors.SpecError:
    return errors.SpecError([model.Problem(file=source, line=line, path=where, message=message)])


def _read(path: Path, source: str) -> tuple[bytes, os.stat_result, list[permissions.Holder], str]:
    """The file's bytes, its fstat and who holds it, read through one open folder."""
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        link = os.lstat(path.name, dir_fd=folder)
        ahead = os.stat(path.name, dir_fd=folder) if stat.S_ISLNK(link.st_mode) else link
        _regular(ahead, source)  # a device is never opened: opening some has effects
        fd = os.open(path.name, _OPEN_FLAGS, dir_fd=folder)
        try:
            info = os.fstat(fd)  # what is judged is what is read: no second lookup
            _regular(info, source)
            if info.st_size > MAX_FILE_BYTES:
                raise _too_big(source)
            data = _read_all(fd)
            if len(data) > MAX_FILE_BYTES:  # it grew since the fstat
                raise _too_big(source)
            holders, context = _holders(path, source, info, folder, link, fd)
        finally:
            os.close(fd)
    finally:
        os.close(folder)
    return data, info, holders, context


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_FILE_BYTES and (chunk := os.read(fd, MAX_FILE_BYTES + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _regular(info: os.stat_result, source: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise _problem(source, f"not a regular file ({kind}); a job file must be one")


_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def _too_big(source: str) -> errors.SpecError:
    return _problem(source, f"larger than {MAX_FILE_BYTES // 1024} KiB; a job file must not be")


def _holders(
    path: Path, source: str, info: os.stat_result, folder: int, link: os.stat_result, fd: int
) -> tuple[list[permissions.Holder], str]:
    """Who holds the open file `fd` (read through `folder` as `link`): the file, its
    folder and that folder's parents, and for a symlink the link, its target's folder
    and that one's parents; and the stamp's context (see `stamp_context`)."""
    here = os.fstat(folder)
    file = permissions.Holder(kind="file", name=source, uid=info.st_uid, mode=info.st_mode)
    holders = [file, _folder_holder(os.path.dirname(source) or ".", here)]
    seen = {(here.st_dev, here.st_ino)}
    holders += _parents(_path_of(folder, path.parent), seen)
    if not stat.S_ISLNK(link.st_mode):
        return holders, stamp_context(here)
    target = _path_of(fd, path)
    holders[0] = dataclasses.replace(file, name=target)
    holders.append(permissions.Holder(kind="symlink", name=source, uid=link.st_uid, mode=0))
    there = os.stat(os.path.dirname(target))
    if (there.st_dev, there.st_ino) not in seen:
        seen.add((there.st_dev, there.st_ino))
        holders.append(_folder_holder(os.path.dirname(target), there))
    holders += _parents(os.path.dirname(target), seen)
    return holders, stamp_context(here, link, there)


def _path_of(fd: int, fallback: Path) -> str:
    """The real path of what `fd` has open (without /proc, `fallback`'s, resolved)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(fallback)


def _parents(folder: str, seen: set[tuple[int, int]]) -> list[permissions.Holder]:
    """The folders above `folder` (a real path) not `seen` yet: whoever owns one can
    rename what is below it."""
    chain = _PARENTS.get(folder)
    if chain is None:
        chain, below = [], folder
        while (parent := os.path.dirname(below)) != below:
            chain.append((parent, os.stat(parent)))
            below = parent
        _PARENTS[folder] = chain
    out = []
    for parent, info in chain:
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            out.append(_folder_holder(parent, info))
    return out


_PARENTS: dict[str, list[tuple[str, os.stat_result]]] = {}
"""The folders above a folder, as one read of many files saw them (`forget_parents`)."""


def forget_parents() -> None:
    """Start a new read: the folders above job files are looked at again."""
    _PARENTS.clear()


def _folder_holder(name: str, info: os.stat_result) -> permissions.Holder:
    return permissions.Holder(kind="folder", name=name, uid=info.st_uid, mode=info.st_mode)


def stamp_context(
    folder: os.stat_result, link: os.stat_result | None = None, there: os.stat_result | None = None
) -> str:
    """What a job file's stamp carries besides the file's own: the owner and mode of its
    `folder`, and for a symlink (`link`) its owner and the target's folder (`there`):
    they decide who the file runs as, so a change of them reads it again."""
    out = f"{folder.st_uid}:{folder.st_mode:o}"
    if link is not None:
        out += f";{link.st_uid}"
        if there is not None and not os.path.samestat(folder, there):
            out += f";{there.st_uid}:{there.st_mode:o}"
    return out


def _owned(
    built: model.JobSpec, text: str, holders: list[permissions.Holder], timezone: str
) -> model.JobSpec:
    """`built` as the account that controls its file may run it, or a located refusal."""
    decided = run_as(holders, built.user)
    if decided.refusal is not None:
        line = locate(text, ["user"]) if built.user else 1
        raise _problem(built.source, decided.refusal, line, "user" if built.user else DOCUMENT)
    if decided.user == built.user:
        return built
    raw = {**built.raw, "user": decided.user}
    canonical = canonical_json(raw)
    return dataclasses.replace(
        built,
        user=decided.user,
        raw=raw,
        definition=canonical,
        digest=definition_hash(raw, timezone, canonical),
    )


def file_stamp(info: os.stat_result, context: str = "") -> str:
    """A file's identity for rescans: taken before reading, so a change during the read
    only causes one more read later; `context` is its `stamp_context`."""
    own = f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"
    return f"{own};{context}" if context else own


def run_as(holders: list[permissions.Holder], user: str | None) -> permissions.RunAs:
    """Who a file held by `holders` and naming `user` runs as, with the accounts looked
    up (`permissions.run_as`)."""
    import pwd

    named_uid = None
    if user is not None:
        with contextlib.suppress(KeyError):
            named_uid = pwd.getpwnam(user).pw_uid
    names = {}
    for uid in {h.uid for h in holders} - {permissions.ROOT}:  # root's name is not shown
        with contextlib.suppress(KeyError):
            names[uid] = pwd.getpwuid(uid).pw_name
    return permissions.run_as(holders, user, named_uid=named_uid, names=names)


def job_files(jobs_dir: Path) -> list[Path]:
    """The job files of a folder, sorted; hidden files, editor temp files and folders are
    skipped (a FIFO or a device is listed: reading it is a located problem)."""
    return sorted(
        p
        for p in jobs_dir.iterdir()
        if p.suffix in JOB_SUFFIXES and not p.name.startswith((".", "#")) and not p.is_dir()
    )


_Key = tuple[str, str, str, str, str, str]
_BUILT: dict[_Key, model.JobSpec] = {}  # oldest first
BUILT_KEPT = 4096


def from_definition(
    definition: str, source: str, entry_id: str, timezone: str, digest: str = "", stamp: str = ""
) -> model.JobSpec:
    """Rebuild a JobSpec from its stored definition (the JSON of a validated file), read
    in the entry's `timezone`; `digest` is the one computed when the file was read and
    `stamp` that file's stamp. The specs built or `remember`ed last are kept."""
    key = (definition, source, entry_id, timezone, digest, stamp)
    found = _BUILT.get(key)
    if found is not None:
        return found
    raw = json.loads(definition)
    builder = _Builder("", source, raw, timezone)
    built = builder.build(entry_id, digest=digest)
    if built is None:
        raise errors.SpecError(builder.problems)
    built = dataclasses.replace(built, stamp=stamp) if stamp else built
    _keep(key, built)
    return built


def remember(written: model.JobSpec) -> None:
    """A spec as it is being stored: reading it back needs no rebuild (a spec is a
    function of the key, so this holds whether or not the write commits)."""
    key = (
        definition_json(written),
        written.source,
        written.id,
        written.timezone,
        written.digest,
        written.stamp,
    )
    _keep(key, written)


def _keep(key: _Key, built: model.JobSpec) -> None:
    _BUILT[key] = built
    if len(_BUILT) > BUILT_KEPT:
        _BUILT.pop(next(iter(_BUILT)), None)


def definition_json(entry: model.JobSpec) -> str:
    """The stored form of a definition: its file's mapping as canonical JSON."""
    return entry.definition or canonical_json(entry.raw)
