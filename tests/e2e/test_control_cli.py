"""Run now, stop a run, pause: the real CLI asking a real runner, through the store."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

from jobrunner import model, permissions

S = model.EntryStatus
L = model.LogStatus
J = "tests.entrypoints.jobs"


def cli(env, *args):
    proc = subprocess.run(
        env.command(*args), cwd=env.root, env=env.env, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


class Live:
    """`jobrunner run` in the background: its events in a file, its notify messages."""

    def __init__(self, env) -> None:
        self.env = env
        self.out_path = env.root / f"runner-{time.monotonic_ns()}.out"
        sock_path = env.root / "notify.sock"
        sock_path.unlink(missing_ok=True)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(sock_path))
        self.notify.setblocking(False)
        self.messages: list[str] = []
        with self.out_path.open("w") as out:
            self.proc = subprocess.Popen(
                env.command("run"),
                cwd=env.root,
                env={**env.env, "NOTIFY_SOCKET": str(sock_path)},
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
            )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        lines = self.out_path.read_text().splitlines()
        found = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in found if name is None or e["event"] == name]

    def status(self) -> list[str]:
        with contextlib.suppress(BlockingIOError):
            while True:
                self.messages.append(self.notify.recv(65536).decode())
        return [m for m in self.messages if "STATUS=" in m]

    def wait(self, done: Callable[[], object], what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert self.proc.poll() is None, f"runner exited ({what})"
            assert time.monotonic() < deadline, f"timed out: {what}"
            time.sleep(0.02)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        self.notify.close()
        assert "Traceback" not in err, err
        return self.proc.returncode


# --- trigger ------------------------------------------------------------------------------


def test_trigger_runs_the_entry_now_through_the_running_runner_and_keeps_its_schedule(env):
    env.job("j", f"object_id: {J}:ok\nrecurrence:\n  every: 1h\n")
    env.run()
    assert len(env.marks_of("j")) == 1
    before = env.entry("j")
    live = Live(env)
    try:
        live.wait(lambda: live.events("runner_started"), "start")
        asked = time.monotonic()
        out = cli(env, "trigger", "j", "--json")
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        me = permissions.current_user()
        assert (data["requested"], data["entry_id"], data["by"], data["runner"]) == (
            "trigger",
            "j",
            me,
            True,
        )
        assert data["next_run"] == before.earliest_start.isoformat().replace("+00:00", "Z")
        live.wait(lambda: len(env.marks_of("j")) == 2, "the triggered run")
        assert time.monotonic() - asked < 3  # woken, not polled
        live.wait(lambda: env.entry("j").status is S.READY and not env.entry("j").trigger, "end")
        live.wait(lambda: live.events("run_finished"), "its end")
        triggered = live.events("run_triggered")
        assert [(e["entry_id"], e["by"]) for e in triggered] == [("j", me)]
    finally:
        assert live.stop() == 0
    after = env.entry("j")
    assert after.earliest_start == before.earliest_start  # the schedule is untouched
    logs = env.log("j")
    assert [g.status for g in logs] == [L.SUCCESS, L.SUCCESS]
    db = env.store()
    try:
        sessions = [e for e in db.list_sessions() if e.session_id == logs[0].session_id]
    finally:
        db.close()
    assert sorted(e.event for e in sessions) == ["logoff", "logon"]


def test_a_trigger_with_no_runner_waits_for_the_next_one(env):
    env.job("j", f"object_id: {J}:ok\nstatus: on_hold\n")
    env.run()
    assert env.marks_of("j") == []
    out = cli(env, "trigger", "j")
    assert out.returncode == 0, out.stderr
    assert "the next one runs it" in out.stdout
    code, found, _ = env.run()
    assert code == 0
    assert len(env.marks_of("j")) == 1
    assert [e["event"] for e in found if e["event"] == "run_triggered"] == ["run_triggered"]
    assert env.entry("j").status is S.ON_HOLD  # as it was


def test_a_triggered_run_is_retried_as_its_entry_says_and_announced_once(env):
    env.job("f", f"object_id: {J}:fail\nmax_retries: 1\nstatus: on_hold\n")
    env.run()
    assert cli(env, "trigger", "f").returncode == 0
    code, found, _ = env.run()
    assert code == 0
    assert len(env.marks_of("f")) == 2  # the run and its retry
    assert [e["event"] for e in found if e["event"] == "run_triggered"] == ["run_triggered"]
    entry = env.entry("f")
    assert (entry.status, entry.trigger) == (S.ERROR, None)  # a final failure is news


def test_trigger_is_refused_for_an_unknown_id_and_an_entry_in_process(env):
    env.job("slowpoke", f"object_id: {J}:slow\nparameter_string: '30'\n")
    live = Live(env)
    try:
        live.wait(lambda: env.marks_of("slowpoke"), "in process", 30)
        unknown = cli(env, "trigger", "slowpok")
        assert unknown.returncode == 2
        assert "did you mean 'slowpoke'?" in unknown.stderr
        busy = cli(env, "trigger", "slowpoke")
        assert busy.returncode == 2
        assert "in process; an entry never runs beside itself" in busy.stderr
    finally:
        live.stop()


# --- cancel -------------------------------------------------------------------------------


def test_cancel_ends_a_recurring_run_term_then_kill_and_it_goes_to_its_next_occurrence(env):
    # `hang` ignores SIGTERM: only the SIGKILL after kill_grace (1 s here) ends it
    env.job("h", f"object_id: {J}:hang\nmax_retries: 3\nrecurrence:\n  every: 1h\n")
    live = Live(env)
    try:
        live.wait(lambda: env.marks_of("h"), "the run")
        live.wait(lambda: env.entry("h").session_pid, "its session's pid")
        asked = time.monotonic()
        out = cli(env, "cancel", "h", "--json")
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        me = permissions.current_user()
        assert (data["requested"], data["entry_id"], data["by"]) == ("cancel", "h", me)
        live.wait(lambda: env.entry("h").status is S.READY, "the end of the run")
        took = time.monotonic() - asked
        assert 0.9 < took < 5  # TERM, ignored, then KILL after kill_grace
        time.sleep(1.5)  # no retry (a retry would come after rerun_delay + 1 ms)
        assert len(env.marks_of("h")) == 1
        cancelled = live.events("run_cancelled")
        assert [(e["entry_id"], e["by"]) for e in cancelled] == [("h", me)]
        assert live.events("retry_scheduled") == []
    finally:
        assert live.stop() == 0
    entry = env.entry("h")
    assert (entry.status, entry.attempts, entry.cancel) == (S.READY, 0, "")
    assert entry.earliest_start > model_now_plus(minutes=55)
    (log,) = env.log("h")
    assert (log.status, log.error_message) == (L.ERROR, f"Cancelled by {me}.")


def model_now_plus(**delta: float):
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(**delta)


def test_cancel_by_session_id_ends_a_one_off_in_error_and_needs_a_runner(env):
    env.job("s", f"object_id: {J}:slow\nparameter_string: '30'\nmax_retries: 2\n")
    live = Live(env)
    try:
        live.wait(lambda: env.marks_of("s"), "the run")
        session_id = env.entry("s").session_id
        out = cli(env, "cancel", session_id)
        assert out.returncode == 0, out.stderr
        assert f"session {session_id}" in out.stdout
        live.wait(lambda: env.entry("s").status is S.ERROR, "the end of the run", 10)
    finally:
        assert live.stop() == 0
    me = permissions.current_user()
    entry = env.entry("s")
    assert (entry.error_message, entry.attempts) == (f"Cancelled by {me}.", 0)
    assert "slow-done" not in " ".join(env.marks_of("s"))
    assert [g.error_message for g in env.log("s")] == [f"Cancelled by {me}."]
    again = cli(env, "cancel", "s")  # nothing in process now
    assert again.returncode == 2
    assert "has no run in process" in again.stderr
    unknown = cli(env, "cancel", "ss")
    assert unknown.returncode == 2
    assert "did you mean 's'?" in unknown.stderr


def test_cancel_with_no_runner_says_so(env):
    env.job("s", f"object_id: {J}:slow\nparameter_string: '30'\n")
    live = Live(env)
    live.wait(lambda: env.marks_of("s"), "the run")
    live.wait(lambda: env.entry("s").session_pid, "its session's pid")
    live.proc.kill()  # gone without a word: its entry stays in process in the store
    live.proc.communicate(timeout=30)
    live.notify.close()
    assert env.entry("s").status is S.IN_PROCESS
    out = cli(env, "cancel", "s")
    assert out.returncode == 2
    assert "no runner is running" in out.stderr
    assert env.entry("s").cancel == ""


# --- pause --------------------------------------------------------------------------------


def test_pause_starts_nothing_due_runs_run_once_on_resume_and_it_survives_a_restart(env):
    env.job("p", f"object_id: {J}:ok\nrecurrence:\n  every: 2s\n")
    live = Live(env)
    try:
        live.wait(lambda: env.marks_of("p"), "the first run")
        out = cli(env, "pause", "--json")
        assert out.returncode == 0, out.stderr
        me = permissions.current_user()
        assert json.loads(out.stdout)["by"] == me
        assert cli(env, "pause").returncode == 2  # paused already
        live.wait(lambda: live.events("runner_paused"), "the runner sees it")
        live.wait(lambda: any("paused by" in m for m in live.status()), "STATUS= says so")
        time.sleep(0.3)  # a run in process at the pause finishes
        count = len(env.marks_of("p"))
        time.sleep(2.5)  # its next run came due meanwhile
        assert len(env.marks_of("p")) == count
        listed = cli(env, "list").stdout.splitlines()
        assert listed[0].startswith(f"paused: the runner, by {me} since ")
        assert cli(env, "show", "p").stdout.startswith("paused: the runner")
    finally:
        assert live.stop() == 0
    live = Live(env)  # a restart: still paused
    try:
        live.wait(lambda: live.events("runner_paused"), "paused at start")
        time.sleep(2.5)
        assert len(env.marks_of("p")) == count
        assert cli(env, "resume").returncode == 0
        live.wait(lambda: len(env.marks_of("p")) == count + 1, "the run that waited", 5)
        time.sleep(1.0)  # once, not once per occurrence missed (its next is 2 s on)
        assert len(env.marks_of("p")) == count + 1
        live.wait(lambda: live.events("runner_resumed"), "resumed")
    finally:
        assert live.stop() == 0
    assert cli(env, "resume").returncode == 2  # not paused


def test_pause_of_a_category_holds_its_entries_and_resume_runs_the_one_that_waited(env):
    env.job("c", f"object_id: {J}:ok\ncategory: C\nstatus: on_hold\n")
    env.job("d", f"object_id: {J}:ok\ncategory: D\nstatus: on_hold\n")
    env.run()
    assert cli(env, "pause", "--category", "C").returncode == 0
    assert cli(env, "trigger", "c").returncode == 0
    assert cli(env, "trigger", "d").returncode == 0
    code, found, _ = env.run()  # with no runner the pause is in the store all the same
    assert code == 0
    assert (env.marks_of("c"), len(env.marks_of("d"))) == ([], 1)
    assert env.entry("c").status is S.WAITING
    assert [e["category"] for e in found if e["event"] == "category_paused"] == ["C"]
    assert "paused: category C" in cli(env, "list").stdout
    assert "paused" not in cli(env, "show", "d").stdout
    resumed = cli(env, "resume", "--category", "C", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == {"resumed": "C", "paused": []}
    env.run()
    assert len(env.marks_of("c")) == 1
    assert env.entry("c").status is S.ON_HOLD  # a triggered run: back as it was
