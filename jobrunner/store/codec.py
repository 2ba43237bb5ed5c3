"""A stored definition <-> its JobSpec: the JSON a store keeps of a job file, and the
specs rebuilt from it, kept for the process (rebuilding one runs the validation again).

Every store that keeps definitions as text uses this; `spec` does the parsing.
"""

from __future__ import annotations

import dataclasses
import json

from jobrunner import model, spec, timetext

_Key = tuple[str, str, str, str, str, str, str | None]
# entry id -> the key of its spec last built or remembered, and that spec (oldest first):
# one per entry, so a read of every entry finds each one built, however many there are
_BUILT: dict[str, tuple[_Key, model.JobSpec]] = {}
BUILT_KEPT = 1 << 17  # entries; more than that are rebuilt at each read of them all


def from_definition(
    definition: str,
    source: str,
    entry_id: str,
    timezone: str,
    digest: str = "",
    stamp: str = "",
    revision: str | None = None,
) -> model.JobSpec:
    """Rebuild a JobSpec from its stored definition (the JSON of a validated file), read
    in the entry's `timezone`; `digest` is the one computed when the file was read,
    `stamp` that file's stamp and `revision` its checkout's. Each entry's spec built or
    `remember`ed last is kept: an unchanged definition costs a lookup."""
    key = (definition, source, entry_id, timezone, digest, stamp, revision)
    found = _BUILT.get(entry_id)
    if found is not None and found[0] == key:
        return found[1]
    built = spec.from_raw(json.loads(definition), source, entry_id, timezone, digest)
    if stamp or revision is not None:
        built = dataclasses.replace(built, stamp=stamp, revision=revision)
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
        written.revision,
    )
    _keep(key, written)


def _keep(key: _Key, built: model.JobSpec) -> None:
    entry_id = key[2]
    _BUILT.pop(entry_id, None)  # a new version of an entry's spec goes to the end
    _BUILT[entry_id] = (key, built)
    if len(_BUILT) > BUILT_KEPT:
        _BUILT.pop(next(iter(_BUILT)), None)


def history(definition: str) -> model.History | None:
    """The `history:` limits a stored definition sets (None: none), as its spec's
    `history`, without building the spec."""
    if _HISTORY_KEY not in definition:  # (canonical JSON: any such key is written so)
        return None
    value = json.loads(definition).get("history")
    if not isinstance(value, dict):
        return None
    retention = value.get("failed_retention")
    failed = None if retention is None else timetext.parse_duration(retention)
    return spec.history_of(value, failed)


_HISTORY_KEY = '"history":'


def definition_json(entry: model.JobSpec) -> str:
    """The stored form of a definition: its file's mapping as canonical JSON."""
    return entry.definition or spec.canonical_json(entry.raw)
