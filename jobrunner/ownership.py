"""Who owns a job file: its holders (the file, its symlink, the folders above them),
read from the open file, and who it runs as (`permissions.run_as`, cron's rule, with
the accounts looked up); the stamp that tells a rescan when any of them changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
from pathlib import Path

from jobrunner import model, permissions, problems, spec, yamltext


@dataclasses.dataclass(frozen=True, slots=True)
class Folder:
    """A folder of job files, opened once for a read of its files: its fstat and the
    holders it brings to each file in it (itself and the folders above it)."""

    fd: int
    info: os.stat_result
    holders: tuple[permissions.Holder, ...]
    seen: frozenset[tuple[int, int]]
    context: str


def open_folder(path: Path, shown: str) -> Folder:
    """Open the folder `path` (named `shown` in messages) for reading the files in it;
    the caller closes its `fd`. OSError when it cannot be opened."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        here = os.fstat(fd)
        seen = {(here.st_dev, here.st_ino)}
        above = _parents(_path_of(fd, path), seen)
    except BaseException:
        os.close(fd)
        raise
    holders = (_folder_holder(shown or ".", here), *above)
    return Folder(fd, here, holders, frozenset(seen), stamp_context(here))


def holders(
    path: Path, source: str, info: os.stat_result, folder: Folder, link: os.stat_result, fd: int
) -> tuple[list[permissions.Holder], str]:
    """Who holds the open file `fd` (read through `folder` as `link`): the file, its
    folder and that folder's parents, and for a symlink the link, its target's folder
    and that one's parents; and the stamp's context (see `stamp_context`)."""
    if not stat.S_ISLNK(link.st_mode):
        file = permissions.Holder(kind="file", name=source, uid=info.st_uid, mode=info.st_mode)
        return [file, *folder.holders], folder.context
    target = _path_of(fd, path)
    file = permissions.Holder(kind="file", name=target, uid=info.st_uid, mode=info.st_mode)
    holders = [file, *folder.holders]
    seen = set(folder.seen)
    holders.append(permissions.Holder(kind="symlink", name=source, uid=link.st_uid, mode=0))
    there = os.stat(os.path.dirname(target))
    if (there.st_dev, there.st_ino) not in seen:
        seen.add((there.st_dev, there.st_ino))
        holders.append(_folder_holder(os.path.dirname(target), there))
    holders += _parents(os.path.dirname(target), seen)
    return holders, stamp_context(folder.info, link, there)


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


def owned(
    built: model.JobSpec, text: str, holders: list[permissions.Holder], timezone: str
) -> model.JobSpec:
    """`built` as the account that controls its file may run it, or a located refusal."""
    decided = run_as(holders, built.user)
    if decided.refusal is not None:
        line = yamltext.locate(text, ["user"]) if built.user else 1
        where = "user" if built.user else problems.DOCUMENT
        raise problems.problem(built.source, decided.refusal, line, where)
    if decided.user == built.user:
        return built
    raw = {**built.raw, "user": decided.user}
    canonical = spec.canonical_json(raw)
    return dataclasses.replace(
        built,
        user=decided.user,
        raw=raw,
        definition=canonical,
        digest=spec.definition_hash(raw, timezone, canonical),
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
