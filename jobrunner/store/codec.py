"""A stored definition <-> its JobSpec: the JSON a store keeps of a job file, and the
specs rebuilt from it, kept for the process (rebuilding one runs the validation again).

Every store that keeps definitions as text uses this; `spec` does the parsing.
"""

from __future__ import annotations

import dataclasses
import json

from jobrunner import model, spec

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
    built = spec.from_raw(json.loads(definition), source, entry_id, timezone, digest)
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
    return entry.definition or spec.canonical_json(entry.raw)
