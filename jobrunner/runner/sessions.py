"""The table of the sessions this runner started: asking the executor for them, what
became of them (`collect`: logons and ends, reported, never committed here), their
timeouts and cancels, and the files a session writes (`session_file`; `Sweeper` removes
them once the session's end is committed).

Imports the executor and the model only; it does not read the clock (the loop passes
`mono`, a monotonic reading in seconds) and it does not touch the store."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from jobrunner import executor, model, timetext

SWEPT = 64  # files of sessions over handed to the sweeper together while sessions run


def sessions_dir(state_dir: Path) -> Path:
    """The folder of the files the sessions write."""
    return state_dir / "sessions"


def session_file(sessions_dir: Path, session_id: str, kind: str) -> Path:
    """Where a session writes its `out`put or its `result`."""
    return sessions_dir / f"{session_id}.{kind}"


@dataclass(kw_only=True)
class Running:
    """A session this runner started (or, in recovery, one the runner before left)."""

    entry_id: str
    session_id: str
    pid: int
    log_no: int
    user: str
    category: str | None
    deadline_mono: float | None
    result_path: Path
    output_path: Path
    timed_out: str = ""
    cancel_by: str = ""  # who asked to end it (`jobrunner cancel`)
    cancel_sent: bool = False
    timeout: timedelta | None = None
    kill_at_mono: float | None = None
    task: model.Task | None = None
    entry: model.Entry | None = None  # as last committed by this runner (a read saved)
    log: model.LogEntry | None = None  # its log entry as inserted (a read saved)


class Sweeper:
    """Removes the files of sessions whose end is committed, in a thread of its own: an
    unlink waits for the file system's journal, which the group commit's fsync and the
    sessions' own (their results) keep busy, and the loop must not wait with it. What is
    left when the runner dies goes at its next start (recovery removes every session
    file left over); `close` removes what was handed over before it."""

    def __init__(self) -> None:
        self._paths: queue.SimpleQueue[list[Path] | None] = queue.SimpleQueue()
        # started on first use: until then the process stays single-threaded (the
        # start-up reconcile forks helpers, see jobfiles)
        self._thread = threading.Thread(target=self._serve, name="jobrunner-sweep", daemon=True)

    def remove(self, paths: list[Path]) -> None:
        if self._thread.ident is None:
            self._thread.start()
        self._paths.put(paths)

    def close(self) -> None:
        if self._thread.ident is not None:
            self._paths.put(None)
            self._thread.join()

    def _serve(self) -> None:
        while (paths := self._paths.get()) is not None:
            for path in paths:
                with contextlib.suppress(OSError):  # (a read-only state folder: left to a start)
                    os.unlink(path)


def running(
    sessions_dir: Path,
    session_id: str,
    entry_id: str,
    user: str,
    *,
    log_no: int = 0,
    category: str | None = None,
    task: model.Task | None = None,
) -> Running:
    """A session not started yet, with its files in `sessions_dir`."""
    return Running(
        entry_id=entry_id,
        session_id=session_id,
        pid=0,
        log_no=log_no,
        user=user,
        category=category,
        deadline_mono=None,
        task=task,
        result_path=session_file(sessions_dir, session_id, "result"),
        output_path=session_file(sessions_dir, session_id, "out"),
    )


@dataclass(frozen=True, slots=True)
class LoggedOn:
    """A session's process started (`also_ended`: it ended within the same collect)."""

    run: Running
    also_ended: bool


@dataclass(frozen=True, slots=True)
class Ended:
    """A session ended: its wait status, or the outcome the runner gives it (a start
    refused or failed, a session ended by the runner)."""

    run: Running
    status: int | None = None
    outcome: model.Outcome | None = None


class SessionTable:
    def __init__(self, executor: executor.Executor) -> None:
        self.executor = executor
        self.by_session: dict[str, Running] = {}
        self._pids: dict[int, str] = {}  # session pid -> session id
        self._unstarted: list[Ended] = []  # launches that failed, not reported yet
        self.sweeper = Sweeper()
        self._forgotten: list[Path] = []  # files of sessions over, for the sweeper

    def __len__(self) -> int:
        return len(self.by_session)

    def __bool__(self) -> bool:
        return bool(self.by_session)

    def runs(self) -> list[Running]:
        return list(self.by_session.values())

    def busy(self) -> set[str]:
        """The categories with a session in process."""
        return {r.category for r in self.by_session.values() if r.category}

    def launch(
        self,
        run: Running,
        request: executor.SessionRequest,
        timeout: timedelta | None,
        mono: float,
    ) -> bool:
        """Ask for the session (its pid arrives later, see `collect`). False: it could
        not be asked for; its end is reported by `failed_launches`."""
        if request.refusal:
            outcome = model.Outcome(ok=False, message=request.refusal, cause=model.Cause.START)
            self._unstarted.append(Ended(run, outcome=outcome))
            return False
        try:
            self.executor.start(request)
        except executor.SessionStartError as exc:
            outcome = model.Outcome(
                ok=False, message=str(exc), cause=model.Cause.START, retriable=True
            )
            self._unstarted.append(Ended(run, outcome=outcome))
            return False
        if timeout is not None:
            run.timeout = timeout
            run.deadline_mono = mono + timeout.total_seconds()
        self.by_session[run.session_id] = run
        return True

    def forget(self, run: Running) -> None:
        """The session's files go (see `sweep`), once its end is committed (a crash
        before keeps its result)."""
        self._forgotten += (run.result_path, run.output_path)

    def sweep(self, *, now: bool = False) -> None:
        """Hand the files of the sessions forgotten so far to the sweeper: in batches
        while sessions run (each hand-over wakes its thread, which on a busy machine
        takes the loop's processor for a while), at once when none runs or with `now`."""
        if self._forgotten and (now or not self.by_session or len(self._forgotten) >= SWEPT):
            self.sweeper.remove(self._forgotten)
            self._forgotten = []

    def close(self) -> None:
        """Remove the files forgotten so far (the executor is closed by its owner)."""
        self.sweep(now=True)
        self.sweeper.close()

    def failed_launches(self) -> list[Ended]:
        """The sessions that could not be started since the last call."""
        ended, self._unstarted = self._unstarted, []
        return ended

    def collect(self, events: list[executor.Event]) -> tuple[list[LoggedOn], list[Ended]]:
        """What `events` (the executor's) say: sessions that started, then sessions that
        ended (out of the table from now on)."""
        ending = {e.pid for e in events if isinstance(e, executor.Exited)}
        logons: list[LoggedOn] = []
        ends: list[Ended] = []
        for event in events:
            if isinstance(event, executor.Started):
                run = self.by_session.get(event.session_id)
                if run is not None:
                    run.pid = event.pid
                    self._pids[event.pid] = run.session_id
                    logons.append(LoggedOn(run, also_ended=event.pid in ending))
            else:
                ended = self.by_session.pop(self._pids.pop(event.pid, ""), None)
                if ended is not None:
                    ends.append(Ended(ended, status=event.status))
        return logons, ends

    def take_all(self) -> list[Running]:
        """Every session left in the table (the runner ends their runs)."""
        runs = self.runs()
        self.by_session.clear()
        self._pids.clear()
        return runs

    def kill_all(self) -> None:
        for run in self.by_session.values():
            if run.pid:
                self.executor.kill(run.pid, signal.SIGKILL)

    def enforce_timeouts(self, mono: float, kill_grace: timedelta) -> None:
        """Signal the sessions past their timeout or asked to end (`jobrunner cancel`,
        as a timeout), and SIGKILL those that outlived the grace after that."""
        for run in self.by_session.values():
            if not run.pid:
                continue  # asked for, not started yet
            if run.cancel_by and not run.cancel_sent:
                run.cancel_sent, run.deadline_mono = True, None
                self.executor.kill(run.pid, signal.SIGTERM)
                run.kill_at_mono = mono + kill_grace.total_seconds()
            elif run.kill_at_mono is not None and mono >= run.kill_at_mono:
                self.executor.kill(run.pid, signal.SIGKILL)
                run.kill_at_mono = None
            elif run.deadline_mono is not None and mono >= run.deadline_mono and not run.timed_out:
                limit = timetext.format_duration(run.timeout) if run.timeout else "?"
                run.timed_out = f"The job ran longer than its timeout of {limit} and was ended."
                self.executor.kill(run.pid, signal.SIGTERM)
                run.kill_at_mono = mono + kill_grace.total_seconds()
                run.deadline_mono = None

    def next_deadline(self) -> float | None:
        """The earliest monotonic instant a session's deadline or kill falls due."""
        times = [
            d
            for run in self.by_session.values()
            for d in (run.deadline_mono, run.kill_at_mono)
            if d is not None
        ]
        return min(times, default=None)
