"""Reading job files for a reconcile: paths -> FileResults. Thin: only the reads.

Many files at once (a first start, a big checkout) are read on every core: the process
forks helpers that each read a share of the files and hand their results back pickled
in a memory file, while it reads the first share itself. Only a single-threaded process
forks them (forking a threaded one is unsafe); a helper that fails has its share read
by the process itself, so the results never depend on the helpers.
"""

from __future__ import annotations

import errno
import functools
import os
import pickle
import signal
import stat
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from jobrunner import errors, model, ownership, permissions, problems, reconcile, spec

PARALLEL_MIN = 2000  # files: below this, a helper costs more than it saves
MAX_HELPERS = 3
_MAX_FD = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024


def display(path: Path, base: Path | None = None) -> str:
    """How a job file is named in messages and in the store: relative to `base` (the
    current folder by default) when it is inside it; bytes that are not UTF-8 (a name
    the file system allows) are shown escaped (`\\xff`)."""
    return printable(os.path.join(_folder(str(path.parent), str(base or Path.cwd())), path.name))


def printable(name: str) -> str:
    """`name` with what is not UTF-8 in it escaped, so it can be stored and logged."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return os.fsencode(name).decode(errors="backslashreplace")
    return name


@functools.lru_cache(maxsize=64)
def _folder(folder: str, base: str) -> str:
    if folder == base:
        return ""
    return os.path.relpath(folder, base) if folder.startswith(base.rstrip("/") + "/") else folder


# --- one job file ---------------------------------------------------------------------

JOB_SUFFIXES = (".yaml", ".yml")


def is_job_name(name: str) -> bool:
    """Whether a file of this name is a job file: a YAML suffix, and neither hidden nor
    an editor's temporary file."""
    return name.endswith(JOB_SUFFIXES) and not name.startswith((".", "#"))


def job_files(jobs_dir: Path) -> list[Path]:
    """The job files of a folder, sorted; hidden files, editor temp files and folders are
    skipped (a FIFO or a device is listed: reading it is a located problem)."""
    return sorted(p for p in jobs_dir.iterdir() if is_job_name(p.name) and not p.is_dir())


def default_id(path: Path) -> str:
    return path.stem


MAX_FILE_BYTES = 1 << 20  # a job file is a few hundred bytes; more is a mistake
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def load_file(
    path: Path,
    *,
    timezone: str,
    display: str | None = None,
    owners: bool = True,
    folder: ownership.Folder | None = None,
) -> model.JobSpec:
    """Read and parse one job file; every reason it cannot be read is a located problem.

    Only a regular file is opened (a FIFO, a device or a socket, also behind a symlink,
    never is), without blocking, and read up to MAX_FILE_BYTES; its name and text must
    be UTF-8. With `owners` (not on CI machines: `validate --no-resolve`), who owns and
    may write the file, its symlink and its folders decides who it runs as
    (`ownership.owned`, cron's rule), judged on the open file itself; the account
    that controls a file naming no user is stored as its `user`. `folder`: the file's
    folder, opened already (`Folders`)."""
    source = display or str(path)
    name = path.name
    try:
        name.encode()
    except UnicodeEncodeError:
        raise problems.problem(source, "the file name is not UTF-8 text; rename the file") from None
    try:
        data, info, holders, context = _read(path, name, source, folder)
    except OSError as exc:
        raise problems.problem(source, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        raise problems.problem(source, f"not UTF-8 text ({exc.reason})") from None
    stamp = ownership.file_stamp(info, context)
    built = spec.parse_spec(
        text, source, default_id=default_id(path), timezone=timezone, stamp=stamp
    )
    return ownership.owned(built, text, holders, timezone) if owners else built


def _read(
    path: Path, name: str, source: str, folder: ownership.Folder | None
) -> tuple[bytes, os.stat_result, list[permissions.Holder], str]:
    """The file's bytes, its fstat and who holds it, read through its open folder."""
    if folder is not None:
        return _read_in(path, name, source, folder)
    opened = ownership.open_folder(path.parent, os.path.dirname(source))
    try:
        return _read_in(path, name, source, opened)
    finally:
        os.close(opened.fd)


def _read_in(
    path: Path, name: str, source: str, folder: ownership.Folder
) -> tuple[bytes, os.stat_result, list[permissions.Holder], str]:
    at = folder.fd
    link = os.lstat(name, dir_fd=at)
    ahead = os.stat(name, dir_fd=at) if stat.S_ISLNK(link.st_mode) else link
    _regular(ahead, source)  # a device is never opened: opening some has effects
    fd = os.open(name, _OPEN_FLAGS, dir_fd=at)
    try:
        info = os.fstat(fd)  # what is judged is what is read: no second lookup
        _regular(info, source)
        if info.st_size > MAX_FILE_BYTES:
            raise _too_big(source)
        data = _read_all(fd, info.st_size)
        if len(data) > MAX_FILE_BYTES:  # it grew since the fstat
            raise _too_big(source)
        holders, context = ownership.holders(path, source, info, folder, link, fd)
    finally:
        os.close(fd)
    return data, info, holders, context


def _read_all(fd: int, expected: int) -> bytes:
    """Up to MAX_FILE_BYTES + 1 bytes of the file, `expected` (its fstat's size) first:
    each read asks for about what is there (a read of 1 MiB allocates 1 MiB)."""
    chunks: list[bytes] = []
    size = 0
    want = min(expected, MAX_FILE_BYTES) + 1
    while size <= MAX_FILE_BYTES and (chunk := os.read(fd, min(want, MAX_FILE_BYTES + 1 - size))):
        chunks.append(chunk)
        size += len(chunk)
        want = _READ_MORE
    return b"".join(chunks)


_READ_MORE = 1 << 16  # what a file that grew since its fstat is read on by


def _regular(info: os.stat_result, source: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise problems.problem(source, f"not a regular file ({kind}); a job file must be one")


_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def _too_big(source: str) -> errors.SpecError:
    return problems.problem(
        source, f"larger than {MAX_FILE_BYTES // 1024} KiB; a job file must not be"
    )


# --- many job files -----------------------------------------------------------------


def read(
    path: Path,
    timezone: str,
    base: Path | None = None,
    *,
    owners: bool = True,
    folders: Folders | None = None,
) -> reconcile.FileResult:
    """One job file; `owners`: judge who owns it (see `load_file`); `folders`: the
    folders opened for a read of many files (of this `base`)."""
    if folders is None:
        name = display(path, base)
        if not path.exists():
            return reconcile.FileResult(path=name, deleted=True)
        folder = None
    else:
        name, folder, gone = folders.find(path)
        if gone:
            return reconcile.FileResult(path=name, deleted=True)
    try:
        spec_ = load_file(path, timezone=timezone, display=name, owners=owners, folder=folder)
    except errors.SpecError as exc:
        return reconcile.FileResult(path=name, problems=tuple(exc.problems))
    return reconcile.FileResult(path=name, spec=spec_)


_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # what `Path.exists` reads as missing


class Folders:
    """The folders of one read of many files, each opened once (in this process: a
    forked helper opens its own), their files named relative to `base` (as `display`
    names them). `close` closes them."""

    def __init__(self, base: Path | None) -> None:
        self._pid = os.getpid()
        self._base = str(base or Path.cwd())
        self._open: dict[str, tuple[str, ownership.Folder | None]] = {}

    def find(self, path: Path) -> tuple[str, ownership.Folder | None, bool]:
        """The file's display name, its open folder (None: the folder cannot be opened,
        and reading the file says why), and whether the file is missing."""
        if os.getpid() != self._pid:  # a helper: the parent's folders are not open here
            self._pid, self._open = os.getpid(), {}
        text = os.fspath(path)
        head, sep, name = text.rpartition("/")  # as path.parent and path.name
        parent = head or sep
        known = self._open.get(parent)
        if known is None:
            known = self._open[parent] = self._opened(Path(parent or "."))
        lead, folder = known
        shown = printable(lead + name)
        if folder is None:
            return shown, None, not path.exists()
        try:
            os.stat(name, dir_fd=folder.fd)
        except OSError as exc:
            return shown, folder, exc.errno in _GONE
        return shown, folder, False

    def _opened(self, parent: Path) -> tuple[str, ownership.Folder | None]:
        """What names the files of `parent` (as `display` does) and the open folder."""
        prefix = _folder(str(parent), self._base)
        lead = os.path.join(prefix, "")
        try:
            return lead, ownership.open_folder(parent, printable(prefix))
        except OSError:
            return lead, None

    def close(self) -> None:
        if os.getpid() == self._pid:
            for _, folder in self._open.values():
                if folder is not None:
                    os.close(folder.fd)
        self._open = {}


def scan(jobs_dir: Path, timezone: str, base: Path | None = None) -> list[reconcile.FileResult]:
    """Every job file of the folder."""
    if not jobs_dir.is_dir():
        return []
    return read_all(job_files(jobs_dir), timezone, base)


def read_paths(
    paths: Iterable[Path], timezone: str, base: Path | None = None
) -> list[reconcile.FileResult]:
    """Just these files (a partial reconcile after file events)."""
    wanted = {str(p): p for p in paths if is_job_name(p.name)}
    return read_all([wanted[name] for name in sorted(wanted)], timezone, base)


def read_all(
    paths: Sequence[Path],
    timezone: str,
    base: Path | None = None,
    *,
    helpers: int | None = None,
    owners: bool = True,
) -> list[reconcile.FileResult]:
    """`read` of each path, in order; with `helpers` forked helper processes (by default
    one per spare core when there are at least PARALLEL_MIN paths and it is safe)."""
    ownership.forget_parents()  # a folder above the files is looked at once per read
    count = _helpers(len(paths)) if helpers is None else helpers
    folders = Folders(base)
    one = functools.partial(read, timezone=timezone, base=base, owners=owners, folders=folders)
    try:
        if count <= 0 or len(paths) < 2 or not _can_fork():
            return [one(p) for p in paths]
        spec.compile_schema()
        size = -(-len(paths) // (count + 1))
        shares = [paths[i : i + size] for i in range(0, len(paths), size)]
        started = [(share, _start(share, one)) for share in shares[1:]]
        out = [one(p) for p in shares[0]]
        for share, helper in started:
            results = _finish(helper) if helper is not None else None
            out += results if results is not None else [one(p) for p in share]
        return out
    finally:
        folders.close()


def _helpers(files: int) -> int:
    if files < PARALLEL_MIN:
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return min(cores - 1, MAX_HELPERS, files // (PARALLEL_MIN // 2) - 1)


def _can_fork() -> bool:
    return (
        hasattr(os, "fork")
        and threading.current_thread() is threading.main_thread()
        and threading.active_count() == 1
    )


def _start(
    paths: Sequence[Path], one: Callable[[Path], reconcile.FileResult]
) -> tuple[int, int] | None:
    """Fork a helper that reads `paths` into a memory file: (pid, fd), or None."""
    try:
        fd = os.memfd_create("jobrunner-read", os.MFD_CLOEXEC)
        pid = os.fork()
    except (AttributeError, OSError):
        return None
    if pid == 0:  # the helper: read, write, exit; never returns
        status = 1
        try:
            signal.set_wakeup_fd(-1)  # signals are the parent's business, not ours
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            # nor its files: a runner's lock, sockets and pipes are not held by a helper
            os.closerange(3, fd)
            os.closerange(fd + 1, _MAX_FD)
            data = pickle.dumps([one(p) for p in paths], pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            status = 0
        finally:
            os._exit(status)
    return pid, fd


def _finish(helper: tuple[int, int]) -> list[reconcile.FileResult] | None:
    """Wait for a helper; its results, or None when it failed."""
    pid, fd = helper
    try:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            return None
        size = os.fstat(fd).st_size
        with os.fdopen(os.dup(fd), "rb") as f:
            f.seek(0)
            data = f.read(size)
        results = pickle.loads(data)
    except (OSError, pickle.UnpicklingError, EOFError):
        return None
    finally:
        os.close(fd)
    return results if isinstance(results, list) else None


def stamps(jobs_dir: Path, base: Path | None = None, *, stamped: bool = True) -> dict[str, str]:
    """Display name -> stamp of every job file in the folder, without reading it (a name
    that is not UTF-8 has none: only an event on it reads it, and rejects it). Without
    `stamped`, the same names with empty stamps and no `stat` of a regular file (the
    folder's listing says what it is): for a first reconcile, which reads them all."""
    if not jobs_dir.is_dir():
        return {}
    prefix = _folder(str(jobs_dir), str(base or Path.cwd()))
    lead = prefix + "/" if prefix else ""
    regular, stamp = stat.S_ISREG, ownership.file_stamp
    out = {}
    with os.scandir(jobs_dir) as listing:
        context = ownership.stamp_context(os.stat(jobs_dir))
        for item in listing:
            name = item.name
            if not is_job_name(name):
                continue
            try:
                if not name.isascii():
                    name.encode()
                if not stamped:
                    if item.is_file():
                        out[lead + name] = ""
                    continue
                info = item.stat()
                here = context if not item.is_symlink() else _link_context(jobs_dir, item)
            except (OSError, UnicodeEncodeError):
                continue
            if regular(info.st_mode):
                out[lead + name] = stamp(info, here)
    return out


def _link_context(jobs_dir: Path, item: os.DirEntry[str]) -> str:
    target = os.path.realpath(item.path)
    return ownership.stamp_context(
        os.stat(jobs_dir), item.stat(follow_symlinks=False), os.stat(os.path.dirname(target))
    )
