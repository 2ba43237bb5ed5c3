"""Job files: YAML text -> a validated JobSpec, or every problem located by line and key.

`parse_spec(text, ...)` is pure; `load_file(path, ...)` only adds the read. The YAML is
read with the C loader and a YAML 1.2-style core schema (no sexagesimal `10:00`, no
`yes/no/on/off` booleans, no implicit timestamps), and duplicate keys are errors. The
hot path validates with the compiled schema; only a file that fails is walked again to
word and locate its errors.
"""

from __future__ import annotations

import contextlib
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
_UNIT_SECONDS = (86400.0, 3600.0, 60.0, 1.0, 0.001)
DOCUMENT = "<document>"
_NOT_WITH_CRON = {"every", "run_on", "starting_time", "ending_time", "next_run_date_formula"}
_T = TypeVar("_T")


# --- YAML -------------------------------------------------------------------------------


class _Loader(yaml.CSafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


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


def read_yaml(text: str) -> Any:
    """Parse YAML with the job-file rules; raises yaml.YAMLError with a mark.

    The C parser composes the node tree; a small constructor turns it into plain values
    (twice as fast as PyYAML's generic one). Anything unusual (explicit tags, merge
    keys) goes to the full safe loader."""
    node = yaml.compose(text, Loader=_Loader)
    if node is None:
        return None
    try:
        return _construct(node)
    except _Unusual:
        return yaml.load(text, Loader=_Loader)


class _Unusual(Exception):
    pass


def _int(value: str) -> int:
    return int(value, 0) if value[:2] in ("0x", "0o") else int(value)


_SCALARS: dict[str, Any] = {
    "tag:yaml.org,2002:str": str,
    "tag:yaml.org,2002:int": _int,
    "tag:yaml.org,2002:bool": lambda v: v.lower() == "true",
    "tag:yaml.org,2002:null": lambda v: None,
}
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


def _construct(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        convert = _SCALARS.get(node.tag)
        if convert is None:
            raise _Unusual
        return convert(node.value)
    if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Unusual
            key = _construct(key_node)
            if key in out:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            out[key] = _construct(value_node)
        return out
    if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
        return [_construct(v) for v in node.value]
    raise _Unusual


def locate(text: str, where: list[str | int]) -> int:
    """The 1-based line of the key (or list item) at `where`; its nearest parent when
    that key is missing; 1 when the text cannot be composed."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return 1
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
        raise ValueError(f"{value!r} is not a duration (examples: 30s, 5m, 1h30m)")
    return timedelta(
        seconds=sum(
            int(n) * size for n, size in zip(match.groups(), _UNIT_SECONDS, strict=True) if n
        )
    )


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


def parse_instant(value: str, tz_name: str) -> datetime:
    """An ISO-8601 date/time -> aware UTC; without an offset it is wall time in `tz_name`."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return wallclock.resolve(parsed, wallclock.zone(tz_name))
    return parsed.astimezone(UTC)


def parse_time(value: str) -> time:
    return time.fromisoformat(value)


@functools.lru_cache(maxsize=1024)
def _formula(text: str) -> dateformula.DateFormula:
    formula = dateformula.parse(text)
    if not dateformula.always_advances(formula):
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
    problem as FILE:LINE: KEY.PATH: message."""
    try:
        raw = read_yaml(text)
    except yaml.YAMLError as exc:
        raise errors.SpecError([yaml_problem(exc, source)]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict) or not schemas.is_valid(SCHEMA, raw):
        raise errors.SpecError(_schema_problems(text, source, raw))
    builder = _Builder(text, source, raw, timezone)
    built = builder.build(default_id, stamp=stamp)
    if builder.problems or built is None:
        raise errors.SpecError(builder.problems)
    return built


def yaml_problem(exc: yaml.YAMLError, source: str) -> model.Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    return model.Problem(file=source, line=line, path=DOCUMENT, message=message)


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
    found = [
        model.Problem(file=source, line=locate(text, where), path=format_path(where), message=msg)
        for where, msg in schemas.errors(SCHEMA, raw)
    ]
    return sorted(found, key=lambda p: p.line)


class _Builder:
    """Turns a schema-valid mapping into a JobSpec, collecting meaning problems."""

    def __init__(self, text: str, source: str, raw: dict[str, Any], timezone: str) -> None:
        self.text, self.source, self.raw, self.timezone = text, source, raw, timezone
        self.problems: list[model.Problem] = []

    def problem(self, where: list[str | int], message: str) -> None:
        line = locate(self.text, where)
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
            self.problem(["rerun_delay"], f"{raw['rerun_delay']!r} is more than the maximum 1h")
        timeout = self.duration("timeout", timedelta(hours=12))
        if timeout <= timedelta(0):
            self.problem(["timeout"], "must be longer than 0")
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
            digest=digest or definition_hash(raw, self.timezone, canonical),
            definition=canonical,
            stamp=stamp,
            raw=raw,
        )

    def instant(self, key: str, tz_name: str) -> datetime | None:
        value = self.raw.get(key)
        if value is None:
            return None
        try:
            return parse_instant(value, tz_name)
        except (ValueError, wallclock.UnknownZone) as exc:
            self.problem([key], f"{value!r} is not a valid date and time ({exc})")
            return None

    def recurrence(self, rec: dict[str, Any]) -> model.Recurrence | None:
        before = len(self.problems)
        tz_name = rec.get("timezone", self.timezone)
        try:
            wallclock.zone(tz_name)
        except wallclock.UnknownZone as exc:
            self.problem(["recurrence", "timezone"], str(exc))
        self.exclusions(rec)
        every = self.every(rec)
        expr = self.parsed(rec, "cron", _cron, cron.CronSyntaxError)
        formula = self.parsed(
            rec, "next_run_date_formula", _formula, dateformula.FormulaSyntaxError
        )
        grace = None
        if "misfire_grace" in rec:
            where: list[str | int] = ["recurrence", "misfire_grace"]
            grace = self.duration("misfire_grace", timedelta(0), where, rec["misfire_grace"])
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
        )

    def exclusions(self, rec: dict[str, Any]) -> None:
        if "cron" in rec and rec.keys() & _NOT_WITH_CRON:
            self.problem(
                ["recurrence", "cron"],
                "cron cannot be combined with every, run_on, "
                "starting_time, ending_time or next_run_date_formula",
            )
        if "next_run_date_formula" in rec and rec.keys() & {"every", "run_on"}:
            self.problem(
                ["recurrence", "next_run_date_formula"],
                "next_run_date_formula cannot be combined with every or run_on",
            )

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
