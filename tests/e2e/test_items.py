"""Work items end to end: real sessions of `jobrunner run --until-idle`, the real state
file, the `jobrunner items` commands, tasks on an entry's queue, and kill -9."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter

from jobrunner import model
from jobrunner.items import model as model_items
from jobrunner.items import ops, storage
from tests.e2e.runner_env import named

J = "tests.entrypoints.items_jobs"


def cli(env, *args):
    proc = subprocess.run(
        env.command(*args), cwd=env.root, env=env.env, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def items_json(env, entry_id, *args):
    proc = cli(env, "items", entry_id, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return {i["key"]: i for i in json.loads(proc.stdout)}


def again(env, entry_id):
    assert cli(env, "set-status", entry_id, "ready").returncode == 0
    return env.run()


def test_demo_import_bad_order_fails_alone_and_later_runs_skip_what_was_done(env):
    env.job("orders", "description: Import sales orders\nobject_id: 50150\n")
    code, found, _ = env.run()
    assert code == 0
    assert [(e["key"], e["attempt"]) for e in named(found, "item_failed")] == [("SO-1003", 1)]
    assert len(named(found, "run_finished", "orders")) == 1  # a failing item fails no run
    first = items_json(env, "orders")
    assert {k: i["status"] for k, i in first.items()} == {
        "SO-1001": "done",
        "SO-1002": "done",
        "SO-1003": "pending",
        "SO-1004": "done",
        "SO-1005": "done",
    }
    assert first["SO-1001"]["notes"] == {"sales_order": "S-ORD1001"}
    assert first["SO-1003"]["error"] == "order SO-1003: quantity -2 is not positive"
    (log,) = [json.loads(x) for x in cli(env, "log", "--json").stdout.splitlines()]
    assert log["items"] == [{"queue": "orders", "done": 4, "failed": 1, "left": 1}]

    _, found, _ = again(env, "orders")
    assert [(e["key"], e["attempt"]) for e in named(found, "item_failed")] == [("SO-1003", 2)]
    second = items_json(env, "orders")
    assert {k: i["done_at"] for k, i in second.items() if i["status"] == "done"} == {
        k: i["done_at"] for k, i in first.items() if i["status"] == "done"
    }  # done once, never again
    _, found, _ = again(env, "orders")
    (final,) = named(found, "item_failed_finally")
    assert (final["key"], final["attempt"], final["level"]) == ("SO-1003", 3, "error")
    assert items_json(env, "orders", "--status", "failed").keys() == {"SO-1003"}
    _, found, _ = again(env, "orders")
    assert named(found, "item_failed") == []  # failed for good until a person retries it

    shown = json.loads(cli(env, "show", "orders", "--json").stdout)
    assert shown["items"] == {
        "pending": 0,
        "in_process": 0,
        "done": 4,
        "failed": 1,
        "discarded": 0,
    }
    assert shown["log"][0]["items"] == [{"queue": "orders", "done": 0, "failed": 0, "left": 0}]
    listed = json.loads(cli(env, "list", "--json").stdout)
    assert listed[0]["items"]["failed"] == 1
    assert "orders: 0 pending, 1 failed, 4 done" in cli(env, "list").stdout

    detail = json.loads(cli(env, "items", "show", "orders", "SO-1003", "--json").stdout)
    assert detail["payload"]["lines"] == [{"item": "1906-S", "quantity": -2}]
    assert "ValueError: order SO-1003" in detail["error_call_stack"]
    assert [f["attempt"] for f in detail["failures"]] == [1, 2, 3]

    assert cli(env, "items", "retry", "orders", "--failed").stdout == "retried 1 item\n"
    assert items_json(env, "orders")["SO-1003"]["status"] == "pending"
    _, found, _ = again(env, "orders")
    assert [e["attempt"] for e in named(found, "item_failed")] == [1]
    assert cli(env, "items", "discard", "orders", "SO-1003").returncode == 0
    gone = items_json(env, "orders")["SO-1003"]
    assert (gone["status"], gone["discarded_by"]) == ("discarded", env_user())


def env_user():
    import os
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def test_items_commands_refuse_what_is_not_there(env):
    env.job("orders", "object_id: 50150\n")
    env.run()
    unknown = cli(env, "items", "nope")
    assert (unknown.returncode, unknown.stderr) == (
        2,
        "jobrunner: no job queue entry with id 'nope'\n",
    )
    missing = cli(env, "items", "show", "orders", "SO-9")
    assert (missing.returncode, missing.stderr) == (
        2,
        "jobrunner: entry 'orders' has no item SO-9\n",
    )
    both = cli(env, "items", "retry", "orders", "SO-1003", "--failed")
    assert both.returncode == 2
    assert cli(env, "items", "orders", "orders", "--status", "done").stdout.count(" done ") == 4


def test_a_payload_over_the_limit_fails_the_run_with_a_clear_message(env):
    env.job("big", f"object_id: {J}:too_large\n")
    env.run()
    (row,) = env.log("big")
    assert row.status is model.LogStatus.ERROR
    assert row.error_message == "the payload is 70002 bytes of JSON; at most 65536 are allowed"


def test_tasks_claim_their_own_items_of_the_entry_queue(env):
    env.job("fan", f"object_id: {J}:fan_out\n")
    env.run("--horizon", "3s")
    marks = env.marks_of("fan")
    keys = Counter(m.split()[0] for m in marks)
    assert keys == Counter({f"k{n:02}": 1 for n in range(30)})  # each once, by one task
    assert len({m.split()[1] for m in marks}) >= 2  # the tasks shared the work
    assert set(items_json(env, "fan", "--status", "done")) == set(keys)


def _start(env, n):
    out = (env.root / f"run-{n}.out").open("w")
    try:
        return subprocess.Popen(
            env.command("run"), cwd=env.root, env=env.env, stdout=out, stderr=subprocess.STDOUT
        )
    finally:
        out.close()


def _stored(env):
    db = env.store()
    items = storage.for_store(db)
    try:
        return {i.key: i for i in ops.listed(items, model_items.Page(entry_id="work"))}
    finally:
        items.close()
        db.close()


def test_kill_9_while_items_are_in_process_loses_none_and_does_none_twice(env):
    env.job("work", f"object_id: {J}:slow_items\nparameter_string: '40'\n")
    for n in range(3):
        before = len(env.marks_of("items"))
        proc = _start(env, n)
        try:
            deadline = time.monotonic() + 20
            while len(env.marks_of("items")) < before + 6:  # three items in, at least
                assert time.monotonic() < deadline, "no item started"
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            proc.kill()
            proc.wait()
        time.sleep(0.3)  # the fork server ends the sessions of the runner it lost
    env.run()  # recovers the third run: no platform retry is left ([1s, 1s]), so ...
    assert env.entry("work").status is model.EntryStatus.ERROR
    code, found, _ = again(env, "work")  # ... a person restarts it
    assert code == 0
    items = _stored(env)
    assert len(items) == 40
    assert {i.status.value for i in items.values()} == {"done"}  # none lost
    marks = [m.split() for m in env.marks_of("items")]
    interrupted = []
    for key, item in items.items():
        starts = [(m[2], int(m[3])) for m in marks if m[:2] == ["start", key]]
        ends = [m[2] for m in marks if m[:2] == ["end", key]]
        # one session at a time: each begun attempt in its own session, in order, the
        # last one the session that made it done
        assert [a for _, a in starts] == sorted({a for _, a in starts}), (key, starts)
        assert len({s for s, _ in starts}) == len(starts)
        assert starts[-1] == (item.last_session, item.attempts)
        assert ends.count(item.last_session) == 1  # done once, by its one done session
        if len(starts) > 1:
            interrupted.append(key)
    assert interrupted  # the kills did land while items were in process
    # never begun items went back as they were: no attempt counted for them
    assert max(i.attempts for i in items.values()) <= 4
    assert len(named(found, "item_failed")) == 0  # the final run failed none


def test_a_timeout_releases_the_item_in_process_with_its_attempt_counted(env):
    env.job("stuck", f"object_id: {J}:stuck\ntimeout: 1s\n")
    _, found, _ = env.run()
    (row,) = env.log("stuck")
    assert row.status is model.LogStatus.ERROR
    assert [(e["key"], e["attempt"]) for e in named(found, "item_failed")] == [("a", 1)]
    items = items_json(env, "stuck")
    assert {k: (i["status"], i["attempts"]) for k, i in items.items()} == {
        "a": ("pending", 1),
        "b": ("pending", 0),  # claimed, never begun: back as it was
        "c": ("pending", 0),
    }
    assert items["a"]["error"] == "The session ended while the item was in process."


def test_an_item_its_job_left_in_process_is_released_when_the_run_ends(env):
    env.job("keeps", f"object_id: {J}:keeps_one\n")
    _, found, _ = env.run()
    assert env.log("keeps")[0].status is model.LogStatus.SUCCESS
    assert [e["key"] for e in named(found, "item_failed")] == ["b"]
    items = items_json(env, "keeps")
    assert (items["a"]["status"], items["b"]["status"]) == ("done", "pending")
    (log,) = [json.loads(x) for x in cli(env, "log", "--json").stdout.splitlines()]
    assert log["items"] == [{"queue": "work", "done": 1, "failed": 1, "left": 1}]
