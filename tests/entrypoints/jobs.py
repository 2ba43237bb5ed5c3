"""Tiny job modules for the integration and end-to-end tests."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import jobrunner


def _mark(ctx, what: str) -> None:
    folder = os.environ.get("JOBRUNNER_TEST_MARKS")
    if folder:
        with open(Path(folder) / f"{ctx.entry.get('id', 'x')}.marks", "a") as f:
            f.write(f"{what} {ctx.attempt} {os.getpid()}\n")


def ok(ctx) -> None:
    _mark(ctx, "ok")
    print(f"ok ran with parameter {ctx.parameter!r}")


def fail(ctx) -> None:
    _mark(ctx, "fail")
    raise ValueError(f"boom: {ctx.parameter}\nsecond line of the message")


class Flaky(ConnectionError):
    pass


def flaky(ctx) -> None:
    """Fails with a ConnectionError until the attempt named by the parameter."""
    _mark(ctx, "flaky")
    marks = Path(os.environ["JOBRUNNER_TEST_MARKS"]) / f"{ctx.entry['id']}.marks"
    if len(marks.read_text().splitlines()) <= int(ctx.parameter or 1):
        raise Flaky("connection reset")


def slow(ctx) -> None:
    _mark(ctx, "slow")
    print(f"sleeping {ctx.parameter or 1} s", flush=True)
    time.sleep(float(ctx.parameter or 1))
    _mark(ctx, "slow-done")


def hang(ctx) -> None:
    _mark(ctx, "hang")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL ends it
    while True:
        time.sleep(1)


def crash(ctx) -> None:
    _mark(ctx, "crash")
    sys.stdout.flush()
    os._exit(3)


def killed(ctx) -> None:
    _mark(ctx, "killed")
    os.kill(os.getpid(), signal.SIGKILL)


def asks(ctx) -> None:
    input("Proceed? ")


def asks_confirm(ctx) -> None:
    jobrunner.confirm("Delete everything?")


def guarded_confirm(ctx) -> None:
    if jobrunner.gui_allowed():
        jobrunner.confirm("Delete everything?")
    _mark(ctx, "guarded")


def inactive(ctx) -> None:
    _mark(ctx, "inactive")
    ctx.no_activity()


def chatty(ctx) -> None:
    sys.stdout.write("x" * 200_000)
    ctx.log.info("job_said_hello", n=1)


def handler(ctx) -> None:
    """A failure handler: records what it was told."""
    error = ctx.error or {}
    _mark(ctx, f"handler {error.get('last_attempt')} {error.get('message')!r}")


def imports(ctx) -> None:
    heavy = sorted(
        m
        for m in (
            "yaml",
            "jsonschema",
            "structlog",
            "fastjsonschema",
            "watchdog",
            "jobrunner.spec",
            "jobrunner.store",
            "json",
        )
        if m in sys.modules
    )
    print("heavy modules:", heavy)
    _mark(ctx, "imports " + ",".join(heavy))


def makes_task(ctx) -> None:
    """Splits its work: one task per part, each recording which part it did."""
    from jobrunner import tasks

    for part in ctx.parameter.split(","):
        tasks.create_task("tests.entrypoints.jobs:part", record=ctx.entry["id"], parameter=part)


def part(ctx) -> None:
    _mark(ctx, f"part {ctx.parameter}")


def starts_session(ctx) -> None:
    from jobrunner import tasks

    tasks.start_session("tests.entrypoints.jobs:part", parameter="session")


def may_create(ctx) -> None:
    from jobrunner import tasks

    _mark(ctx, f"may_create {tasks.can_create_task()}")


def logs_exception(ctx) -> None:
    """Catches its own error and logs it with the traceback (the run succeeds)."""
    try:
        {}["missing-key"]
    except KeyError:
        ctx.log.exception("lookup_failed")


def completes(ctx) -> None:
    """Works a moment (creating a task per comma-separated part of its parameter), then
    records its completion as its last act: one O_APPEND line with what it completed
    (the task or entry id) and its session id, for the kill -9 torture test to count."""
    import random

    from jobrunner import tasks

    time.sleep(random.uniform(0.0, 0.03))
    for _ in filter(None, (ctx.parameter or "").split(",")):
        tasks.create_task(f"{__name__}:completes", record=ctx.entry.get("id"))
    done = ctx.entry.get("task_id") or ctx.entry["id"]
    path = Path(os.environ["JOBRUNNER_TEST_MARKS"]) / "completions"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{done} {ctx.session_id} {time.time():.6f}\n".encode())
    os.close(fd)


def leaves_children(ctx) -> None:
    """Starts a `setsid sleep 1000` grandchild and a plain background child, records
    their pids (one per line) in the marks folder's `children` file, then does what its
    parameter says: `ok` returns, `hang` waits for its timeout, `wait` sleeps 30 s."""
    import subprocess

    subprocess.Popen(["setsid", "sleep", "1000"])
    plain = subprocess.Popen(["sleep", "1000"])
    deadline = time.monotonic() + 5  # setsid forks when it leads its group: find the sleep
    pids = [plain.pid]
    while time.monotonic() < deadline:
        found = _children_named("sleep", exclude={plain.pid})
        if found:
            pids += found
            break
        time.sleep(0.01)
    path = Path(os.environ["JOBRUNNER_TEST_MARKS"]) / "children"
    path.write_text("".join(f"{pid}\n" for pid in pids))
    _mark(ctx, "children")
    if ctx.parameter == "hang":
        while True:
            time.sleep(1)
    if ctx.parameter == "wait":
        time.sleep(30)


def _children_named(name: str, exclude: set[int]) -> list[int]:
    """The processes called `name` below this one (by /proc parent chains)."""
    parents, names = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            names[int(entry)] = stat[stat.index("(") + 1 : stat.rindex(")")]
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    me, found = os.getpid(), []
    for pid, comm in names.items():
        up, hops = parents.get(pid), 0
        while up not in (None, 0, 1, me) and hops < 32:
            up, hops = parents.get(up), hops + 1
        if up == me and comm == name and pid not in exclude:
            found.append(pid)
    return found


def ends_late(ctx) -> None:
    """Marks `late`, sleeps the first word of its parameter (seconds), then ends as the
    second says: `ok`, `fail` (a ValueError) or `inactive` (ctx.no_activity())."""
    delay, how = (ctx.parameter or "0.5 ok").split()
    _mark(ctx, "late")
    time.sleep(float(delay))
    if how == "fail":
        raise ValueError("late failure\nsecond line")
    if how == "inactive":
        ctx.no_activity()


def loud(ctx) -> None:
    """Writes as many bytes of output as the parameter says (a large log entry)."""
    _mark(ctx, "loud")
    sys.stdout.write("x" * int(ctx.parameter or 1000))


def tally(ctx) -> None:
    """Appends its parameter to marks/tally.marks (one line a run)."""
    folder = Path(os.environ["JOBRUNNER_TEST_MARKS"])
    with open(folder / "tally.marks", "a") as f:
        f.write(f"{ctx.parameter} {os.getpid()}\n")


def process_name(ctx) -> None:
    """Marks the name of the process it runs in (a pool process names itself)."""
    with open("/proc/self/comm") as f:
        _mark(ctx, f.read().strip())
