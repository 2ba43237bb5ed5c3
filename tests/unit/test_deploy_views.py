"""What the read side says of a deploy under way: each runner's revision and the entries
it does not hold (`nodes`), and an entry's due run that waits for a runner that holds
its definition (`show`)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from jobrunner import model
from jobrunner.testing import job, utc
from jobrunner.views import nodes, shapes, text

NOW = utc(2026, 6, 1, 12)
C2 = "c" * 40
S = model.EntryStatus


def _node(runner_id: str, unheld: tuple[str, ...] = (), alive: bool = True) -> model.Node:
    return model.Node(
        runner_id=runner_id,
        host="h",
        pid=1,
        version="1.0",
        state_dir="/s",
        started_at=NOW,
        lease_until=NOW + timedelta(seconds=3),
        alive=alive,
        revision="7",
        unheld=unheld,
    )


def _entry(status=S.READY, at=NOW - timedelta(seconds=1), revision=C2) -> model.Entry:
    return model.Entry(spec=job(id="x", revision=revision), status=status, earliest_start=at)


@pytest.mark.parametrize(
    ("entry", "found", "expected"),
    [
        pytest.param(_entry(), [_node("a", ("x",)), _node("b", ("x",))], C2, id="nobody-holds"),
        pytest.param(_entry(), [_node("a", ("x",)), _node("b")], None, id="one-holds"),
        pytest.param(
            _entry(), [_node("a", ("x",)), _node("b", alive=False)], C2, id="the-live-ones"
        ),
        pytest.param(_entry(), [], None, id="no-runner"),
        pytest.param(_entry(at=NOW + timedelta(hours=1)), [_node("a", ("x",))], None, id="not-due"),
        pytest.param(_entry(status=S.ON_HOLD), [_node("a", ("x",))], None, id="on-hold"),
        pytest.param(_entry(revision=None), [_node("a", ("x",))], "none", id="no-revision"),
    ],
)
def test_waiting_for(entry, found, expected):
    assert nodes.waiting_for(entry, found, NOW) == expected


def test_nodes_show_each_runners_revision_and_what_it_does_not_hold():
    node = dataclasses.replace(_node("a" * 32, ("x", "y")), revision=C2)
    shown = nodes.node_json(node, 0)
    assert (shown["revision"], shown["unheld"]) == (C2, ["x", "y"])
    table = nodes.nodes_table([node], {}, ZoneInfo("UTC"), NOW).splitlines()
    assert table[0].split()[4:10] == ["REVISION", "STARTED", "LEASE", "RUNNING", "NOT", "HELD"]
    row = table[1].split()
    assert (row[4], row[-2]) == ("c" * 12, "2")


def test_show_says_what_a_due_run_waits_for():
    entry = _entry()
    data = shapes.show_json(entry, [], None, C2)
    assert (data["revision"], data["waiting_for_revision"]) == (C2, C2)
    assert shapes.show_json(entry, [])["waiting_for_revision"] is None
    (line,) = text.show_notes(entry, [], C2)
    assert line.startswith(f"waiting for a runner that holds revision {'c' * 12} ")
    assert text.show_notes(entry, []) == []
