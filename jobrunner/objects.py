"""Object ids -> Python callables: entry points, the config's objects: map, or
'package.module:function'.

`resolve_ref` and `find_module` never import job code (validation runs on machines
that must not execute it); only a session imports the object it runs.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from collections.abc import Mapping
from importlib.machinery import ModuleSpec

from jobrunner import errors

GROUP = "jobrunner.objects"


class UnresolvedObject(errors.JobRunnerError, LookupError):
    """An object id names nothing that can run."""


@functools.cache
def registered() -> dict[str, str]:
    """Entry-point name -> 'module:function' for the group `jobrunner.objects`."""
    from importlib.metadata import entry_points  # heavy, and needed once per process

    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def resolve_ref(
    object_id: int | str, config_objects: Mapping[int, str], eps: Mapping[str, str] | None = None
) -> str:
    """The 'module:function' an object id stands for; the config's map wins."""
    if isinstance(object_id, str):
        return object_id
    if object_id in config_objects:
        return config_objects[object_id]
    eps = registered() if eps is None else eps
    if str(object_id) in eps:
        return eps[str(object_id)]
    raise UnresolvedObject(
        f"codeunit {object_id} is not registered (entry-point group {GROUP!r} "
        "or the config's objects: map)"
    )


def find_module(name: str) -> ModuleSpec | None:
    """importlib's find_spec, but without importing parent packages."""
    parts = name.split(".")
    found = importlib.util.find_spec(parts[0])
    for i in range(1, len(parts)):
        if found is None or found.submodule_search_locations is None:
            return None
        fullname = ".".join(parts[: i + 1])
        if fullname in sys.modules:
            found = sys.modules[fullname].__spec__
            continue
        locations = list(found.submodule_search_locations or [])
        found = None
        for finder in sys.meta_path:
            finder_spec = getattr(finder, "find_spec", None)
            if finder_spec is not None and (found := finder_spec(fullname, locations)):
                break
    return found


def check(object_id: int | str, config_objects: Mapping[int, str]) -> str | None:
    """None when the object resolves to an existing module, else the reason why not."""
    try:
        ref = resolve_ref(object_id, config_objects)
    except UnresolvedObject as exc:
        return str(exc)
    module, _, _ = ref.partition(":")
    try:
        found = find_module(module)
    except (ImportError, ValueError) as exc:
        return f"{ref!r}: module {module!r} cannot be found ({exc})"
    if found is None:
        return f"{ref!r}: module {module!r} is not installed"
    return None
