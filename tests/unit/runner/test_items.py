"""The runner's work item hooks in its parts (MemoryStore, FakeExecutor, FakeClock): a
session's end, however it ends, releases the items it held (endings); recovery releases
those of sessions that are over (recovery); a final failure reaches the alerts."""

from __future__ import annotations

from datetime import timedelta

from jobrunner import executor, model
from jobrunner.items import model as items_model
from jobrunner.items import ops, shell
from jobrunner.runner.recovery import Recovery
from jobrunner.testing import job

from .conftest import NOW
from .test_recovery import _left_in_process

SECOND = timedelta(seconds=1)
PENDING, FAILED = items_model.ItemStatus.PENDING, items_model.ItemStatus.FAILED
IN_PROCESS = items_model.ItemStatus.IN_PROCESS


def _hold(h, session_id: str, *, max_attempts: int = 3) -> None:
    """The entry's session holds an item in process (its block began)."""
    items = shell.items_of(h.store)
    queue = items_model.Queue(entry_id="job", name="q", max_attempts=max_attempts)
    ops.open_queue(items, queue, session_id)
    ops.add(items, queue, [("k", "null")], NOW)
    (item,) = ops.claim(items, queue, session_id, 1, NOW)
    ops.start(items, item, session_id, NOW)


def _item(h) -> items_model.Item:
    (item,) = ops.listed(shell.items_of(h.store), items_model.Page(entry_id="job"))
    return item


def _alerts(h) -> list[dict]:
    sent: list[dict] = []
    h.runner.shared.item_failed_finally = sent.append
    return sent


def test_a_session_that_ends_gives_its_items_in_process_back(harness):
    h = harness()
    h.add(job())
    h.tick()  # started
    _hold(h, h.session_of())
    h.executor.exit(h.session_of(), 0)
    h.tick(SECOND)
    item = _item(h)
    assert (item.status, item.attempts, item.session_id) == (PENDING, 1, None)


def test_a_session_ended_on_its_timeout_gives_its_items_back_and_alerts_a_final_failure(
    harness,
):
    h = harness()
    sent = _alerts(h)
    h.add(job(timeout=timedelta(seconds=30)))
    h.tick()
    h.tick(SECOND)  # logged on: it has a pid to signal
    _hold(h, h.session_of(), max_attempts=1)
    h.tick(timedelta(seconds=30))  # past its timeout: SIGTERM (it ends by it)
    h.tick(SECOND)
    assert h.logs()[0].error_message.startswith("The job ran longer than its timeout")
    item = _item(h)
    assert (item.status, item.attempts, item.session_id) == (FAILED, 1, None)
    assert [(f["entry_id"], f["queue"], f["key"]) for f in sent] == [("job", "q", "k")]


def test_recovery_gives_back_the_items_of_sessions_that_are_over(harness):
    h = harness()
    _left_in_process(h)  # session "old", left open by a runner that died
    _hold(h, "old")
    r = h.runner
    h.clock.advance(timedelta(minutes=1))
    Recovery(r.shared, r.endings, r.commits).recover(h.clock.now(), h.clock.monotonic())
    item = _item(h)
    assert (item.status, item.attempts, item.session_id) == (PENDING, 1, None)


def test_a_result_says_whether_its_session_may_hold_items():
    """The runner asks the item store at a session's end only when the session may hold
    items: its result says it opened a queue, or there is no result to say otherwise."""
    assert not executor.result_outcome({"ok": True}, "").items
    assert executor.result_outcome({"ok": True, "items": True}, "").items
    assert not executor.result_outcome({"ok": False, "message": "m"}, "").items
    assert executor.result_outcome({"ok": False, "message": "m", "items": True}, "").items
    assert model.Outcome(ok=True).items  # an end the runner gives (no result): ask


def test_an_end_whose_result_opened_no_queue_leaves_the_item_store_alone(harness):
    h = harness()
    h.add(job())
    h.tick()
    _hold(h, h.session_of())
    run = h.runner.sessions.by_session[h.session_of()]
    ended = h.runner.endings.plan_end(run, model.Outcome(ok=True, items=False), NOW, 0)
    assert ended.transition.log_update  # its end is planned; its items are not asked for
    assert _item(h).status is IN_PROCESS
