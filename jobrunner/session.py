"""A background session: the child process that runs one job (BC background session).

Imports only `os`, `sys` and `marshal` (and traceback when there is something to
report), so a session pays next to nothing before the job's own imports: it detaches
into its own process group, dies with its parent, becomes the subreaper of whatever
the job starts, closes stdin, sends stdout/stderr to a file, switches to the entry's
user when started as root, refuses UI, resolves the object and calls it with a Context.
When the job returns or raises, it ends every process the job left behind, then writes
its result (framed: see `frame`) and makes it durable before it exits, so the result
outlives a runner that dies before it sees the session end. It runs as `run(request)`
in a child forked by the fork server, or (spawn mode) in a fresh `python -I -S` that
child executes, through `wait_for_request()`.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys

from jobrunner import ui

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sessions start faster)

if TYPE_CHECKING:
    from typing import Any, NoReturn

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SIGKILL = 9  # Linux
END_DESCENDANTS_WITHIN = 5.0  # seconds a session spends ending what its job left behind


class Context:
    """What a job receives: the entry record, its parameter string, a logger, the
    session id, the attempt number and the fence (a number that grows with each run of
    the entry on any runner: an idempotency key for the job's effects outside).
    `no_activity()` reports that the run found no work (BC's On Hold with Inactivity
    Timeout); `items(name)` is a queue of work items."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.entry: dict[str, Any] = request.get("entry", {})
        self.parameter: str = request.get("parameter", "")
        self.session_id: str = request["session_id"]
        self.attempt: int = request.get("attempt", 1)
        self.fence: int = request.get("fence", 0)
        self.error: dict[str, Any] | None = request.get("error")
        self._report: dict[str, Any] | None = request.get("report")
        self.report_parameters: dict[str, Any] = dict((self._report or {}).get("parameters", {}))
        """A report's `report_parameters` (its saved request-page options)."""
        self._no_activity = False
        self._items = False  # a queue of work items was opened (see `execute`)
        self._log: Any = None

    def no_activity(self) -> None:
        self._no_activity = True

    def items(self, name: str, **settings: Any) -> Any:
        """The named queue of this entry's work items (`jobrunner.items.job.Queue`;
        settings: entry, max_attempts, done_retention), imported on first use."""
        from jobrunner.items import job

        self._items = True
        return job.for_context(self, name, **settings)

    def report_file(self) -> Any:
        """A report's document, open for binary writing, for a layout of its own (the
        report then returns None rather than rows)."""
        from jobrunner.reports import produce

        return produce.own_file(self._report)

    @property
    def log(self) -> Any:
        """A structlog logger bound to the entry and session (imported on first use)."""
        if self._log is None:
            from jobrunner import imports

            with imports.without(*imports.OPTIONAL):
                import structlog

            structlog.configure(
                processors=[
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.format_exc_info,  # log.exception() keeps the traceback
                    structlog.processors.JSONRenderer(),
                ],
                logger_factory=structlog.PrintLoggerFactory(sys.stderr),
            )
            self._log = structlog.get_logger().bind(
                entry_id=self.entry.get("id"), session_id=self.session_id
            )
        return self._log


_LIBC: Any = None


def preload() -> None:
    """Load what every session needs before it forks (the fork server calls this once)."""
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL(None, use_errno=True)
        except OSError:  # pragma: no cover - no C library to load
            _LIBC = False


def _prctl(option: int, value: int) -> None:
    preload()
    prctl = getattr(_LIBC, "prctl", None)  # Linux
    if prctl is not None:
        prctl(option, value, 0, 0, 0)


def set_death_signal(sig: int) -> None:
    """Linux: send `sig` to this process when its parent goes."""
    _prctl(PR_SET_PDEATHSIG, sig)


def die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this process when its parent goes; exit now if it already went."""
    set_death_signal(SIGKILL)
    if os.getppid() != parent:
        os._exit(70)


FINISHING = "jobrunner-end"  # the command name of a session whose job has returned


def mark_finishing() -> None:
    """Name this process FINISHING: its job is over and it is writing its result, which
    the fork server and a restarted runner let it finish rather than kill it (one that
    killed it would have the finished run counted as interrupted and run again)."""
    try:
        fd = os.open("/proc/self/comm", os.O_WRONLY)
    except OSError:  # pragma: no cover - not Linux
        return
    try:
        os.write(fd, FINISHING.encode())
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def finishing(pid: int) -> bool:
    """Whether the process `pid` is a session that is writing its result."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().strip() == FINISHING.encode()
    except OSError:
        return False


def become_subreaper() -> None:
    """Linux: every orphaned descendant of this process becomes its child (not init's),
    so that it can end them."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def descendants(root: int, *, spare: frozenset[int] = frozenset()) -> list[int]:
    """The live processes whose parent chain leads to `root` (from /proc), less the
    processes of `spare` and everything below them."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
        except OSError:
            continue
        try:
            stat = os.read(fd, 1024)
        except OSError:  # it ended in between
            continue
        finally:
            os.close(fd)
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 1 and fields[0] != b"Z":
            parents[int(name)] = int(fields[1])
    found: list[int] = []
    for pid in parents:
        hops, up = 0, pid
        while up != root and up not in spare and up > 1 and hops < 64:
            up, hops = parents.get(up, 0), hops + 1
        if up == root and pid != root:
            found.append(pid)
    return found


def end_descendants(within: float = END_DESCENDANTS_WITHIN) -> None:
    """SIGKILL and reap every process this subreaper has below it, until none is left
    (or `within` seconds have passed: a process the kernel cannot end stays)."""
    deadline = 0.0
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:  # no child at all, so no descendant either
            return
        import time

        deadline = deadline or time.monotonic() + within
        for pid in descendants(os.getpid()):
            try:
                os.kill(pid, SIGKILL)
            except OSError:  # gone already
                continue
        if time.monotonic() > deadline:
            return
        time.sleep(0.001)


def _null_stdin() -> None:
    null = os.open(os.devnull, os.O_RDONLY)
    if null != 0:
        os.dup2(null, 0)
        os.close(null)


def _redirect(output_path: str) -> None:
    out = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    if out > 2:
        os.close(out)


def prepare(parent_pid: int) -> None:
    """What a background session does before its request is known (a fork server's
    waiting child does it ahead of time): die with the parent, become the subreaper of
    what the job starts, stdin from /dev/null, no UI."""
    die_with_parent(parent_pid)
    become_subreaper()
    _null_stdin()
    ui.background()


def rehearsal() -> None:
    """Run a request for nothing, touching what running a real one touches: a forked
    child shares its pages with its parent until it writes to them, and a rehearsal
    pays for those copies before the request rather than between the request and the
    job's first instruction."""
    execute(marshal.loads(_REHEARSAL))


def _rehearse(ctx: Context) -> None:
    """The job of the rehearsal: nothing."""


_REHEARSAL = marshal.dumps(
    {
        "session_id": "0" * 32,
        "entry": {
            "id": "rehearsal",
            "description": "",
            "object_id": 0,
            "category": None,
            "attempts": 0,
            "max_retries": 0,
            "earliest_start": "2000-01-01T00:00:00Z",
            "user": "",
        },
        "parameter": "",
        "attempt": 1,
        "user": None,
        "result_path": "",
        "output_path": "",
        "ref": "jobrunner.session:_rehearse",
    }
)


SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"  # cron's and su's default for an account
_KEPT = ("LANG", "LANGUAGE", "TZ", "JOBRUNNER_CONFIG", "JOBRUNNER_STATE_DIR")


def switch_user(user: str | None, keep: tuple[str, ...] | list[str] = ()) -> None:
    """Become `user` (with its groups) when running as root, with the account's own
    clean environment as `su -` and cron give it: HOME, USER, LOGNAME, SHELL, PATH (a
    fixed safe one), and of the runner's only LANG, LANGUAGE, LC_*, TZ, where the runner
    is (JOBRUNNER_CONFIG, JOBRUNNER_STATE_DIR) and the names in `keep` (the config's
    session_environment); nothing else of the runner's (its secrets) reaches the job. As
    anyone else, running as another user is a permission error. The entry's own
    `environment` is set over this by `run`, switched or not."""
    if not user:
        return
    import pwd

    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise PermissionError(f"User {user!r} does not exist on this machine.") from None
    if os.geteuid() != 0:
        if account.pw_uid != os.geteuid():
            me = pwd.getpwuid(os.geteuid()).pw_name
            raise PermissionError(
                f"Cannot run as user {user!r}: the runner runs as {me!r}, not as root."
            )
        return
    os.initgroups(user, account.pw_gid)
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    _account_environment(user, account.pw_dir, account.pw_shell, keep)
    os.chdir(account.pw_dir if os.path.isdir(account.pw_dir) else "/")


def _account_environment(
    user: str, home: str, shell: str, keep: tuple[str, ...] | list[str]
) -> None:
    """This process's environment as the account's own (see `switch_user`)."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if name in _KEPT or name.startswith("LC_") or name in keep
    }
    os.environ.clear()
    os.environ.update(
        kept, HOME=home, USER=user, LOGNAME=user, SHELL=shell or "/bin/sh", PATH=SAFE_PATH
    )


def load(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    __import__(module_name)
    target: Any = sys.modules[module_name]
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def _names(exc: BaseException) -> list[str]:
    return [f"{k.__module__}:{k.__qualname__}" for k in type(exc).__mro__]


def execute(request: dict[str, Any]) -> dict[str, Any]:
    """Run the job of `request` in this process; the result as a JSON-able dict. It says
    `items` when the job opened a queue of work items: the runner asks the item store
    for what the session still holds only then (or when there is no result)."""
    ctx = Context(request)
    result = _execute(ctx, request)
    if ctx._items:
        result["items"] = True
    return result


def _execute(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    try:
        returned = load(request["ref"])(ctx)
        if ctx._report is not None:  # a report: what it returned becomes its document
            from jobrunner.reports import produce

            produce.finish(ctx._report, returned)
    except SystemExit as exc:
        if exc.code in (0, None):
            return {"ok": True, "no_activity": ctx._no_activity}
        return _failure(exc, f"The job called sys.exit({exc.code!r}).")
    except BaseException as exc:
        return _failure(exc, str(exc) or type(exc).__name__)
    finally:
        if ctx._report is not None:
            from jobrunner.reports import produce

            produce.close(ctx._report)
    return {"ok": True, "no_activity": ctx._no_activity}


def _failure(exc: BaseException, message: str) -> dict[str, Any]:
    """The result of a session that failed with `exc` (being handled)."""
    return {"ok": False, "message": message, "stack": _stack(), "exception": _names(exc)}


def run(request: dict[str, Any], *, prepared: bool = False) -> NoReturn:
    """The whole session, in a process of its own; never returns. It exits 0 on success
    and 1 otherwise, after its result file is written and on disk (a session that ends
    without one failed by its exit status or signal). The result file is opened before a
    user switch (the new user need not be able to write there); the runner reads it
    when this process has ended, or at its next start after a crash."""
    if not prepared:
        die_with_parent(request["parent_pid"])
        become_subreaper()
        _null_stdin()
    _redirect(request["output_path"])  # first: fds 0-2 must not be taken by the result file
    user = request.get("user")
    result_fd = _open_result(request) if user else -1
    _open_report(request.get("report"), switching=bool(user))
    try:
        switch_user(user, request.get("keep", ()))
        os.environ.update(request.get("environment") or {})
    except (OSError, ValueError) as exc:  # PermissionError is an OSError
        result = _failure(exc, str(exc))
    else:
        if user:  # a credential change clears the death signal
            die_with_parent(request["parent_pid"])
        if request.get("background", True):
            ui.background()
        result = execute(request)
        mark_finishing()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # closed, or None
        pass
    end_descendants()
    if request["result_path"]:
        # on a full disk the exit status still tells a runner that sees this end success
        # from failure; only a crash of that runner then loses it
        with contextlib.suppress(OSError):
            write_result(result_fd if result_fd >= 0 else _open_result(request), result)
    os._exit(0 if result["ok"] and not result.get("no_activity") else 1)


def _open_report(report: dict[str, Any] | None, *, switching: bool) -> None:
    """A report's document file, opened before a user switch as the result file is; and
    (`switching`) its renderer loaded, as the account may not read the library's files."""
    if not report or "path" not in report:
        return
    report["fd"] = os.open(report["path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if switching:
        from jobrunner.reports import produce

        produce.preload(report["format"])


def _open_result(request: dict[str, Any]) -> int:
    return os.open(request["result_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


def write_result(fd: int, result: dict[str, Any]) -> None:
    """The result, marshalled and framed in one write (a reader takes a short file for no
    result), then on disk before the session ends: on a journalling file system (ext4,
    xfs) the fdatasync of a new file also makes its name durable. (Not json: after a
    user switch the session may not be able to import it.)"""
    os.write(fd, frame(marshal.dumps(result)))
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def read_result(data: bytes) -> bytes | None:
    """The result a session wrote (see `write_result`), or None when it is not whole."""
    head, newline, body = data.partition(b"\n")
    if not newline or not head.isdigit() or len(body) != int(head):
        return None
    return body


def _stack() -> str:
    import traceback

    return traceback.format_exc()


def frame(data: bytes) -> bytes:
    """How messages travel on the fork server's pipes: the length, a newline, the bytes."""
    return b"%d\n" % len(data) + data


def unframe(data: bytes) -> tuple[bytes | None, bytes]:
    """The first whole message in `data` (None if there is none yet) and what follows."""
    head, newline, rest = data.partition(b"\n")
    if not newline or len(rest) < int(head):
        return None, data
    return rest[: int(head)], rest[int(head) :]


def wait_for_request(fd: int) -> NoReturn:
    """A waiting child of the fork server, which did `prepare` (in spawn mode a fresh
    interpreter that child executed: the death signal and the subreaper flag survive the
    exec), waits for its
    request on `fd`: framed (see `frame`), marshalled; end of file means it is not
    needed."""
    data = b""
    while (request := unframe(data)[0]) is None:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            os._exit(0)
        data += chunk
    os.close(fd)
    run(marshal.loads(request), prepared=True)
