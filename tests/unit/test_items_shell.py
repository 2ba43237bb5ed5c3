"""The runner's side of work items over the memory store: the pruning pass, the end of
a session, recovery; and how the CLI parses `items ENTRY`. No files, no clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobrunner import cli, model, scheduler
from jobrunner.cli import items as item_commands
from jobrunner.items import model as items_model
from jobrunner.items import ops, shell
from jobrunner.pruning import Pruner
from jobrunner.store.memory import MemoryStore
from tests.contract.test_store import entry, put
from tests.unit.test_history import DAY, NOW, _cfg

Q = items_model.Queue(entry_id="import", name="orders", done_retention=2 * DAY)


class Log:
    def __init__(self):
        self.events = []

    def _add(self, name, **fields):
        self.events.append((name, fields))

    info = warning = error = _add


def _done(items, key, at):
    ops.add(items, Q, [(key, "null")], at)
    (item,) = ops.claim(items, Q, "s", 1, at)
    ops.finish(items, ops.start(items, item, "s", at), "s", "{}", at)


def test_pruner_deletes_done_items_past_retention_and_wakes_for_the_next():
    store = MemoryStore()
    items = shell.items_of(store)
    ops.open_queue(items, Q, None)
    _done(items, "old", NOW - 3 * DAY)
    _done(items, "new", NOW - DAY)
    log = Log()
    pruner = Pruner(store, _cfg(log_retention=30 * DAY), log)
    pruner.tick(NOW)
    assert [i.key for i in ops.listed(items, items_model.Page(entry_id="import"))] == ["new"]
    assert ("items_pruned", {"rows": 1}) in log.events
    assert pruner.wait(NOW) == DAY.total_seconds()  # when "new" reaches its 2 days


def test_session_ended_releases_and_logs_failures():
    store = MemoryStore()
    items = shell.items_of(store)
    ops.add(items, Q, [("a", "null"), ("b", "null")], NOW)
    a, b = ops.claim(items, Q, "s1", 2, NOW)
    ops.fail(items, ops.start(items, a, "s1", NOW), "s1", ("boom", ""), "{}", NOW)
    ops.start(items, b, "s1", NOW)
    log = Log()
    shell.sessions_ended(store, ["s1"], NOW, log)
    assert [(name, f["key"], f["error"]) for name, f in log.events] == [
        ("item_failed", "a", "boom"),
        ("item_failed", "b", "The session ended while the item was in process."),
    ]
    assert ops.held_sessions(items) == set()


def test_recovered_releases_only_sessions_that_are_over():
    """Not a session whose run is in process and that has not logged on yet (another
    runner's, on a shared store: its logon is committed after it started)."""
    store = MemoryStore()
    items = shell.items_of(store)
    (e,) = put(store, entry("import"))
    running, log = scheduler.started(e, session_id="starting", runner_id="r2", now=NOW, user="u")
    store.commit(model.Transition(reason="t", put=(running,), log_insert=(log,)))
    ops.add(items, Q, [(k, "null") for k in "abcd"], NOW)
    for session in ("over", "running", "never-logged-on", "starting"):
        ops.start(items, ops.claim(items, Q, session, 1, NOW)[0], session, NOW)
    events = [
        model.SessionEvent(
            session_id=s, event=e, at=NOW, user="u", runner_id="r", entry_id="import"
        )
        for s, e in (("over", "logon"), ("over", "logoff"), ("running", "logon"))
    ]
    store.commit(model.Transition(reason="t", events=tuple(events)))
    shell.recovered(store, NOW + timedelta(seconds=1), Log())
    assert ops.held_sessions(items) == {"running", "starting"}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["items", "e"], ("list", "e", None), id="entry"),
        pytest.param(["items", "list", "e"], ("list", "e", None), id="list"),
        pytest.param(["items", "show", "e", "k"], ("show", "e", None), id="verb"),
        pytest.param(["--config", "c.yaml", "items", "e"], ("list", "e", None), id="config"),
        pytest.param(["--config=c", "items", "e", "q"], ("list", "e", "q"), id="config="),
        pytest.param(
            ["items", "e", "q", "--status", "done", "--json"], ("list", "e", "q"), id="options"
        ),
    ],
)
def test_items_entry_is_items_list_entry(argv, expected):
    args = cli.parser().parse_args(argv)
    assert (args.items_command, args.entry_id, getattr(args, "queue", None)) == expected
    verb = expected[0]
    assert args.func is getattr(item_commands, f"items_{verb}_command")


def test_items_words_that_are_not_items_stay_as_they_are(capsys):
    args = cli.parser().parse_args(["log", "items"])
    assert (args.command, args.entry_id) == ("log", "items")
    with pytest.raises(SystemExit) as ended:
        cli.parser().parse_args(["items", "--help"])
    assert ended.value.code == 0
    shown = capsys.readouterr().out
    assert "jobrunner items ENTRY [QUEUE]" in shown
    assert [v for v in ("list", "show", "retry", "discard") if f"\n    {v} " in shown] == [
        "list",
        "show",
        "retry",
        "discard",
    ]
