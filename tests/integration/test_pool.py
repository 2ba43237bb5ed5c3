"""Session pools (`session_mode: pool`), through the real fork server: sessions run one
after the other in one long-lived process, each with its own output, result, environment
and UI refusal; a timeout's kill ends the process and the next session gets a new one;
job code changed on disk, `max_runs_per_process` and a thread left behind replace it."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from jobrunner import executor
from tests.e2e.accounts import made, needs_root

JOB = """
import os, sys, threading, time
VERSION = {version}
RUNS = []

def job(ctx):
    RUNS.append(ctx.session_id)
    print("pid", os.getpid(), "version", VERSION, "runs", len(RUNS), "uid", os.getuid(),
          "pgid", os.getpgid(0), "sid", ctx.session_id)
    print("env", os.environ.get("POOLTEST", "-"), "cwd", os.getcwd())
    print("stdin", repr(sys.stdin.read()))

def chdir_and_set(ctx):
    os.chdir("/")
    os.environ["LEFT_BEHIND"] = "1"
    job(ctx)

def context(ctx):
    from jobrunner import ui
    print("entry", ctx.entry["id"], "parameter", ctx.parameter, "attempt", ctx.attempt,
          "gui", ui.gui_allowed())

def fail(ctx):
    raise ValueError("failed on purpose")

def ask(ctx):
    input("name? ")

def slow(ctx):
    print("pid", os.getpid(), flush=True)
    time.sleep(30)

def wait_for(ctx):
    print("pid", os.getpid(), "version", VERSION, flush=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(ctx.parameter) and time.monotonic() < deadline:
        time.sleep(0.01)

def thread(ctx):
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    job(ctx)
"""


@pytest.fixture
def code(tmp_path, monkeypatch):
    folder = tmp_path / "code"
    folder.mkdir()
    monkeypatch.setenv("PYTHONPATH", f"{folder}:{os.environ.get('PYTHONPATH', '')}")
    write_job(folder, 1)
    return folder


def write_job(folder: Path, version: int) -> None:
    path = folder / "pooljob.py"
    path.write_text(textwrap.dedent(JOB.format(version=version)))
    stamp = time.time() + version  # a new mtime even within one clock tick
    os.utime(path, (stamp, stamp))


class Sessions:
    """Pool sessions through a real fork server, each awaited to its end."""

    def __init__(self, tmp_path: Path, **options: Any) -> None:
        self.folder = tmp_path / "sessions"
        self.folder.mkdir(exist_ok=True)
        self.ex = executor.make("fork", **options)
        self.n = 0

    def start(self, func: str = "job", **fields: Any) -> str:
        self.n += 1
        session_id = f"s{self.n}"
        request = executor.SessionRequest(
            session_id=session_id,
            ref=f"pooljob:{func}",
            result_path=str(self.folder / f"{session_id}.result"),
            output_path=str(self.folder / f"{session_id}.out"),
            pool=True,
            **fields,
        )
        self.ex.start(request)
        return session_id

    def events(self, timeout: float = 30) -> list[executor.Event]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with selectors.DefaultSelector() as sel:
                for fd in self.ex.fds():
                    sel.register(fd, selectors.EVENT_READ)
                sel.select(0.5)
            found = self.ex.collect()
            if found:
                return found
        raise AssertionError("nothing happened")

    def run(self, func: str = "job", **fields: Any) -> tuple[int, int, str, dict[str, Any] | None]:
        """(pid, wait status, output, result) of one session."""
        session_id = self.start(func, **fields)
        pid = 0
        while True:
            for event in self.events():
                if isinstance(event, executor.Started):
                    assert event.session_id == session_id
                    pid = event.pid
                elif event.pid == pid:
                    return pid, event.status, self.output(session_id), self.result(session_id)

    def output(self, session_id: str) -> str:
        return (self.folder / f"{session_id}.out").read_text()

    def result(self, session_id: str) -> dict[str, Any] | None:
        return executor.read_result(self.folder / f"{session_id}.result")

    def close(self) -> None:
        self.ex.close()


@pytest.fixture
def sessions(tmp_path, code):
    found = Sessions(tmp_path, pool_size=1)  # so each session waits for the one process
    yield found
    found.close()


def words(output: str) -> dict[str, str]:
    items = output.split()
    return {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2)}


def test_sessions_run_one_after_another_in_one_process(sessions):
    runs = [sessions.run() for _ in range(3)]
    pids = {pid for pid, *_ in runs}
    assert len(pids) == 1
    assert [status for _, status, _, _ in runs] == [0, 0, 0]
    assert [words(out)["runs"] for _, _, out, _ in runs] == ["1", "2", "3"]  # module state
    assert [words(out)["sid"] for _, _, out, _ in runs] == ["s1", "s2", "s3"]  # output per run
    assert all(result == {"ok": True, "no_activity": False} for *_, result in runs)
    pid = pids.pop()
    assert words(runs[0][2])["pgid"] == str(pid)  # a process group of its own
    assert words(runs[0][2])["stdin"] == "''"  # stdin at end of file


def test_a_failed_session_reports_its_error_and_the_process_goes_on(sessions):
    pid, status, _, result = sessions.run("fail")
    pid2, status2, out, _ = sessions.run()
    assert status == 1 << 8
    assert result is not None
    assert result["ok"] is False
    assert result["message"] == "failed on purpose"
    assert "ValueError" in result["stack"]
    assert (pid2, status2) == (pid, 0)
    assert words(out)["runs"] == "1"


def test_a_session_asking_for_input_fails_as_in_fork_mode(sessions):
    _, status, _, result = sessions.run("ask")
    assert status == 1 << 8
    assert result is not None
    assert result["message"].startswith("Callback functions are not allowed.")


def test_the_environment_and_folder_of_a_session_do_not_reach_the_next(sessions):
    _, _, first, _ = sessions.run("chdir_and_set", environment={"POOLTEST": "one"})
    _, _, second, _ = sessions.run()
    assert words(first)["env"] == "one"
    assert words(second)["env"] == "-"
    assert words(second)["cwd"] == os.getcwd()
    assert "LEFT_BEHIND" not in os.environ


def test_a_large_request_reaches_its_session_whole(sessions):
    environment = {f"V{n}": "x" * 4096 for n in range(64)}  # the most a job file may set
    _, status, out, _ = sessions.run(environment={**environment, "POOLTEST": "big"})
    assert status == 0
    assert words(out)["env"] == "big"


def test_a_killed_session_ends_its_process_and_the_next_gets_a_new_one(sessions):
    first, _, _, _ = sessions.run()
    session_id = sessions.start("slow")
    events = sessions.events()
    assert events == [executor.Started(session_id, first)]
    sessions.ex.kill(first, signal.SIGTERM)
    (ended,) = sessions.events()
    assert ended == executor.Exited(first, signal.SIGTERM)
    pid, status, out, _ = sessions.run()
    assert pid != first
    assert status == 0
    assert words(out)["runs"] == "1"


def test_a_kill_meant_for_a_session_that_ended_spares_the_next(sessions):
    pid, *_ = sessions.run()
    # what a runner that has not seen s1 end would send for it, while s2 runs
    assert isinstance(sessions.ex, executor.ForkServerExecutor)
    session_id = sessions.start("slow")
    assert sessions.events() == [executor.Started(session_id, pid)]
    sessions.ex._send(("kill", pid, "s1", int(signal.SIGKILL)))
    sessions.ex.kill(pid, signal.SIGTERM)  # then the one meant for s2
    assert sessions.events() == [executor.Exited(pid, signal.SIGTERM)]


def test_changed_job_code_replaces_the_pool_before_the_next_session(tmp_path, code):
    for preload in (True, False):
        found = Sessions(tmp_path, preload=preload, pool_size=1)
        try:
            runs = [found.run() for _ in range(2)]
            write_job(code, 2 if preload else 3)
            runs += [found.run() for _ in range(2)]
        finally:
            found.close()
        versions = [words(out)["version"] for _, _, out, _ in runs]
        pids = [pid for pid, *_ in runs]
        assert versions == ["1", "1", "2", "2"] if preload else ["2", "2", "3", "3"]
        assert pids[0] == pids[1] != pids[2] == pids[3]
        write_job(code, 2)


def test_a_session_running_while_the_fork_server_starts_afresh_is_reported(tmp_path, code):
    """Changed code makes the fork server start afresh (it had preloaded the job) while
    a pool session runs: that session's end still arrives, with its result."""
    release = tmp_path / "release"
    found = Sessions(tmp_path, pool_size=2)
    try:
        waiting = found.start("wait_for", parameter=str(release))
        (started,) = found.events()
        assert started.session_id == waiting
        deadline = time.monotonic() + 30
        while not found.output(waiting):  # its job has begun (imported version 1)
            assert time.monotonic() < deadline
            time.sleep(0.01)
        write_job(code, 2)
        pid, status, out, _ = found.run()
        release.touch()
        (ended,) = found.events()
        assert ended == executor.Exited(started.pid, 0)
        first = found.output(waiting)
        result = found.result(waiting)
    finally:
        found.close()
    assert (status, words(out)["version"]) == (0, "2")
    assert pid != started.pid
    assert words(first)["version"] == "1"
    assert result == {"ok": True, "no_activity": False}


def test_a_process_runs_at_most_max_runs_sessions(tmp_path, code):
    found = Sessions(tmp_path, max_runs=2, pool_size=1)
    try:
        pids = [found.run()[0] for _ in range(5)]
    finally:
        found.close()
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


def pool_processes(server: int) -> set[int]:
    """The idle pool processes among the fork server's children."""
    found = set()
    for name in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except (OSError, ValueError):
            continue
        comm, fields = stat[stat.find("(") + 1 : stat.rfind(")")], stat.rsplit(")", 1)[1].split()
        if name.isdigit() and comm == "jobrunner-pool" and int(fields[1]) == server:
            found.add(int(name))
    return found


def forked_ahead(server: int, count: int, than: set[int] = frozenset()) -> set[int]:
    deadline = time.monotonic() + 20
    while len(found := pool_processes(server) - than) < count:
        assert time.monotonic() < deadline, f"{count} pool processes were not forked ahead"
        time.sleep(0.01)
    return found


def test_prefork_forks_the_pool_of_the_runners_own_account_ahead(tmp_path, code):
    """The first sessions run in processes forked before they were asked for, and a
    process that retired is replaced ahead of the next session."""
    found = Sessions(tmp_path, pool_size=2, max_runs=1, prefork=True)
    try:
        assert isinstance(found.ex, executor.ForkServerExecutor)
        server = found.ex._proc.pid
        ahead = forked_ahead(server, 2)
        first = found.run()[0]
        assert first in ahead
        replaced = forked_ahead(server, 1, than=ahead)  # the first retired (max_runs 1)
        assert [found.run()[0] for _ in range(2)] == sorted(ahead - {first}) + sorted(replaced)
    finally:
        found.close()


def test_a_session_that_leaves_a_thread_gets_its_process_replaced(sessions):
    pid, *_ = sessions.run("thread")
    pid2, status, _, _ = sessions.run()
    assert pid2 != pid
    assert status == 0


def test_the_pool_processes_go_with_the_fork_server(tmp_path, code):
    found = Sessions(tmp_path)
    pid = found.run()[0]
    found.close()
    deadline = time.monotonic() + 5
    while executor.running(pid, executor.process_start_ticks(pid)):
        assert time.monotonic() < deadline, "the pool process outlived its fork server"
        time.sleep(0.01)


def test_a_result_is_whole_when_the_session_is_reported_ended(sessions):
    for _ in range(20):
        _, status, _, result = sessions.run()
        assert status == 0
        assert result is not None


def test_the_job_gets_its_context_as_in_fork_mode(sessions):
    _, status, out, _ = sessions.run("context", entry={"id": "E1"}, parameter="p", attempt=2)
    assert status == 0
    assert words(out) == {"entry": "E1", "parameter": "p", "attempt": "2", "gui": "False"}


@needs_root
def test_each_account_has_a_pool_of_its_own(tmp_path, monkeypatch):
    """Sessions of two accounts, alternately: each account's run in one process of its
    own as that account; their files, in a folder only root may write, written all
    the same (the fork server opens them)."""
    code = Path(tempfile.mkdtemp(prefix="jobrunner-pool-", dir="/tmp"))
    try:
        code.chmod(0o755)
        write_job(code, 1)
        (code / "pooljob.py").chmod(0o644)
        monkeypatch.setenv("PYTHONPATH", f"{code}:{os.environ.get('PYTHONPATH', '')}")
        found = Sessions(tmp_path, pool_size=1)
        found.folder.chmod(0o700)
        # imported as root first: this interpreter's stdlib may be out of their reach
        found.ex.prepare("pooljob:job")
        with made("pa", "pb") as accounts:
            try:
                runs = [found.run(user=accounts[n % 2].pw_name) for n in range(4)]
            finally:
                found.close()
    finally:
        shutil.rmtree(code, ignore_errors=True)
    seen = [words(out) for _, _, out, _ in runs]
    assert [s["uid"] for s in seen] == [str(accounts[n % 2].pw_uid) for n in range(4)]
    assert [s["runs"] for s in seen] == ["1", "1", "2", "2"]
    assert runs[0][0] == runs[2][0] != runs[1][0] == runs[3][0]
    assert all(status == 0 and result is not None for _, status, _, result in runs)
