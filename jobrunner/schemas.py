"""The JSON Schemas in `schemas/`: loading, a compiled validator for the hot path, and
messages a person can act on for documents that fail.

A message a schema words itself is its `errorMessage` key: yaml-language-server shows it
in the editor (for a pattern, type, enum or const that fails), and `errors` words the
same text (see `worded`), so the editor and `jobrunner validate` say the same thing.

fastjsonschema (compiled once per process: `fast_validator`) answers
"valid?" for every file; only a file that fails is walked again with jsonschema
(imported then) to word each error and locate it.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

if TYPE_CHECKING:
    import jsonschema

_PACKAGED = Path(__file__).resolve().parent / "_schemas"  # where the wheel puts them
_REPO_SCHEMAS = _PACKAGED.parent.parent / "schemas"


@functools.cache
def load(name: str) -> dict[str, Any]:
    """A schema by file name (`job.schema.json`), from the installed package or the repo."""
    data: dict[str, Any] = json.loads(path(name).read_text())
    return data


NAMES = ("job.schema.json", "config.schema.json")


def path(name: str) -> Path:
    """Where a schema file lives on disk (for `$schema` lines and editors)."""
    # (a path of the package's own, not importlib.resources: that brings tempfile,
    # zipfile and the compression modules into every runner)
    packaged = _PACKAGED / name
    return packaged if packaged.is_file() else _REPO_SCHEMAS / name


def folder() -> Path:
    """The folder of the schema files: the installed package's, or the repo's."""
    return path(NAMES[0]).parent


@functools.cache
def fast_validator(name: str) -> Callable[[Any], Any]:
    """A compiled validator; raises fastjsonschema.JsonSchemaException when invalid.
    Its exceptions carry no details (`errors` words them): the code it generates is
    then half as long, ~5 MiB less to compile and keep for the config's schema."""
    validator: Callable[[Any], Any] = fastjsonschema.compile(
        _as_draft7(load(name)), detailed_exceptions=False
    )
    return validator


@functools.cache
def full_validator(name: str) -> jsonschema.Draft202012Validator:
    # Imported on first use: only a document that fails needs its errors worded, and
    # jsonschema costs the long-lived runner ~4 MiB.
    import jsonschema

    return jsonschema.Draft202012Validator(load(name))


def is_valid(name: str, document: Any) -> bool:
    try:
        fast_validator(name)(document)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _as_draft7(schema: dict[str, Any]) -> dict[str, Any]:
    # fastjsonschema knows drafts 4-7; our schemas use only what draft 7 has under
    # other names (dependentSchemas -> dependencies). A const is written as the enum of
    # its one value, which means the same (fastjsonschema cannot generate a const
    # without detailed exceptions).
    out = copy.deepcopy(schema)
    out["$schema"] = "http://json-schema.org/draft-07/schema#"

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "dependentSchemas" in node:
                node["dependencies"] = node.pop("dependentSchemas")
            if "const" in node and not isinstance(node["const"], dict):
                node["enum"] = [node.pop("const")]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(out)
    return out


def errors(name: str, document: Any) -> Iterator[tuple[list[str | int], str]]:
    """Each schema error as (path to the offending key or value, message)."""
    for error in sorted(full_validator(name).iter_errors(document), key=lambda e: list(e.path)):
        yield from _explain(error)


def _explain(error: jsonschema.ValidationError) -> Iterator[tuple[list[str | int], str]]:
    where: list[str | int] = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    kind = error.validator
    if "propertyNames" in error.relative_schema_path and isinstance(value, str):
        where.append(value)  # the error is the key's own, and the key is its place
    if kind == "additionalProperties" and isinstance(value, dict):
        known = sorted(schema.get("properties", {}))
        for key in sorted(k for k in value if k not in known):
            import difflib  # (only for a message)

            close = difflib.get_close_matches(key, known, n=1)
            hint = (
                f"; did you mean {close[0]!r}?" if close else f" (known keys: {', '.join(known)})"
            )
            yield [*where, key], f"unknown key {key!r}{hint}"
        return
    if kind == "required":
        yield where, f"missing required key {_missing(error)!r}"
        return
    message = schema.get("errorMessage")
    if isinstance(message, str) and kind not in _COUNTED:
        yield where, worded(message, value)
        return
    yield where, _generic(kind, error)


# failures worded from their limit ("is 4097 characters long; at most 4096") rather than
# by the schema's errorMessage, which says what the value should be
_COUNTED = frozenset(
    {"maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties"}
)


def worded(message: str, value: Any) -> str:
    """A schema's `errorMessage` (what yaml-language-server shows beside the value) as
    jobrunner words it: one that describes the value (`not a duration ...`) gets the
    value in front (`'often' is not a duration ...`); any other stands as it is."""
    return f"{value!r} is {message}" if message.startswith("not ") else message


def _missing(error: jsonschema.ValidationError) -> str:
    # jsonschema words it "'x' is a required property"; take the name back out.
    message = str(error.message)
    return message.split("'")[1] if "'" in message else message


def _generic(kind: Any, error: jsonschema.ValidationError) -> str:
    value: Any = error.instance
    limit: Any = error.validator_value
    if kind == "enum":
        return f"{value!r} is not one of: {', '.join(map(str, limit))}"
    if kind == "type":
        wanted = {
            "string": "text",
            "integer": "a whole number",
            "boolean": "true or false",
            "object": "a mapping of keys",
            "array": "a list",
            "number": "a number",
        }
        names = [limit] if isinstance(limit, str) else list(limit)
        return f"{value!r} should be {' or '.join(wanted.get(n, n) for n in names)}"
    if kind == "maxLength":
        return f"is {len(value)} characters long; at most {limit} are allowed"
    if kind in ("minimum", "maximum"):
        lo = error.schema.get("minimum", "") if isinstance(error.schema, dict) else ""
        hi = error.schema.get("maximum", "") if isinstance(error.schema, dict) else ""
        return f"{value!r} is out of range {lo}..{hi}"
    if kind == "maxProperties" and isinstance(value, dict):
        return f"holds {len(value)} keys; at most {limit} are allowed"
    if kind == "minItems":
        return "must list at least one item"
    if kind == "uniqueItems":
        return "lists the same item twice"
    return error.message
