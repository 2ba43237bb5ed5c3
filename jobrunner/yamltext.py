"""YAML text -> plain values, by the rules of job files and the config, and where a key
is in the text. Pure.

The YAML is read with the C loader and a YAML 1.2-style core schema (no sexagesimal
`10:00`, no `yes/no/on/off` booleans, no implicit timestamps); duplicate keys, aliases,
tags and keys that are not text are refused, as is text too large or too deep.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from jobrunner import model, problems

MAX_TEXT = 1 << 20
"""Characters: a job file or config past this is refused unread (they are a few dozen lines)."""
MAX_DEPTH = 16
"""Nesting levels of collections; job files use 3, the config 4."""
MAX_VALUES = 2000
"""Values (scalars, collections and keys) in one job file; a config may hold more."""
_COMPOSE_SAFE = 1000  # the C composer recurses per level: deeper text is scanned first
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _Loader(yaml.CSafeLoader):
    def __init__(self, stream: str) -> None:
        # Only composed (the values are `_Values`'), so no constructor state is set up.
        super(yaml.CSafeLoader, self).__init__(stream)  # CParser.__init__

    # The C composer asks these of every node. PyYAML's own walk its path resolvers
    # (we have none) and concatenate lists per scalar; these answer the same.
    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, pattern in self.yaml_implicit_resolvers.get(value[:1], ()):
                    if pattern.match(value):
                        return str(tag)
            return _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
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
    loader = _Loader(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
    finally:
        loader.dispose()
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
            message = f"{problems.shown(node.value)} cannot be read as {_tag(node)}"
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


def yaml_problem(exc: yaml.YAMLError, source: str) -> model.Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, Refused):
        return model.Problem(
            file=source, line=line, path=problems.format_path(exc.where), message=problem
        )
    context = getattr(exc, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    column = mark.column + 1 if mark is not None else None
    return model.Problem(
        file=source, line=line, column=column, path=problems.DOCUMENT, message=message
    )


def located(
    source: str, text: str, found: list[tuple[list[str | int], str]]
) -> list[model.Problem]:
    """Problems (path, message) located in the text, by line; past problems.MAX_PROBLEMS one last
    line counts the rest (locating each of thousands would take minutes)."""
    node = composed(text)
    shown_ = [
        model.Problem(
            file=source, line=locate(node, where), path=problems.format_path(where), message=msg
        )
        for where, msg in found[: problems.MAX_PROBLEMS]
    ]
    shown_.sort(key=lambda p: p.line)
    if len(found) > problems.MAX_PROBLEMS:
        more = f"{len(found) - problems.MAX_PROBLEMS} more problems not listed (fix these first)"
        shown_.append(model.Problem(file=source, line=1, path=problems.DOCUMENT, message=more))
    return shown_
