"""Reconcile decisions: a pure diff of job files against stored entries."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from jobrunner import errors, model, reconcile, spec
from jobrunner.testing import utc

NOW = utc(2026, 1, 5, 12)
S = model.EntryStatus


def parsed(path: str, text: str) -> reconcile.FileResult:
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    try:
        return reconcile.FileResult(
            path=path, spec=spec.parse_spec(text, path, default_id=name, timezone="UTC")
        )
    except errors.SpecError as exc:
        return reconcile.FileResult(path=path, problems=tuple(exc.problems))


def stored(*results: reconcile.FileResult, **changes) -> dict[str, model.Entry]:
    out = {}
    for n, r in enumerate(results, 1):
        entry = dataclasses.replace(
            model.Entry(spec=r.spec, status=S.READY, earliest_start=NOW + timedelta(hours=1)),
            version=1,
            entry_no=n,
            **changes,
        )
        out[entry.id] = entry
    return out


A = parsed("jobs.d/a.yaml", "object_id: 1\nrecurrence:\n  every: 1h\n")
A2 = parsed("jobs.d/a.yaml", "object_id: 1\nrecurrence:\n  every: 2h\n")
B = parsed("jobs.d/b.yaml", "object_id: 2\n")
BAD_A = parsed("jobs.d/a.yaml", "object_id: 1\nrecurrence:\n  every: often\n")


def kinds(plan: reconcile.Plan) -> list[tuple[str, str | None]]:
    return [(c.kind, c.entry_id) for c in plan.changes]


def test_new_file_adds_an_enqueued_entry():
    plan = reconcile.diff([A], {}, NOW)
    assert kinds(plan) == [("add", "a")]
    added = plan.changes[0].after
    assert added.status is S.READY
    assert added.earliest_start == NOW + timedelta(seconds=1)  # clamped to now + 1 s
    assert added.last_ready_state == NOW


def test_new_file_on_hold_is_not_scheduled():
    held = parsed("jobs.d/h.yaml", "object_id: 1\nstatus: on_hold\n")
    added = reconcile.diff([held], {}, NOW).changes[0].after
    assert (added.status, added.earliest_start) == (S.ON_HOLD, None)


def test_unchanged_definition_changes_nothing():
    plan = reconcile.diff([A, B], stored(A, B), NOW)
    assert plan.changes == ()
    assert plan.unchanged == 2
    assert not plan.has_changes


def test_changed_file_goes_back_through_ready_path():
    entry = stored(A, status=S.ERROR, attempts=3, error_message="boom")
    plan = reconcile.diff([A2], entry, NOW)
    (change,) = plan.changes
    assert change.kind == "change"
    assert change.keys == {"recurrence.every": ("1h", "2h")}
    after = change.after
    assert (after.status, after.attempts, after.error_message) == (S.READY, 0, "boom")
    assert after.earliest_start >= NOW + timedelta(seconds=1)  # never an occurrence before
    assert after.spec.recurrence.every == timedelta(hours=2)


def test_changed_file_on_hold_cancels_the_pending_run():
    held = parsed("jobs.d/a.yaml", "object_id: 1\nstatus: on_hold\n")
    after = reconcile.diff([held], stored(A), NOW).changes[0].after
    assert (after.status, after.earliest_start) == (S.ON_HOLD, None)


def test_change_never_interrupts_a_run_in_process():
    after = (
        reconcile.diff([A2], stored(A, status=S.IN_PROCESS, session_id="s1"), NOW).changes[0].after
    )
    assert (after.status, after.session_id) == (S.IN_PROCESS, "s1")
    assert after.spec.recurrence.every == timedelta(hours=2)


def test_deleted_file_removes_the_entry():
    plan = reconcile.diff([B], stored(A, B), NOW)
    assert kinds(plan) == [("remove", "a")]
    assert plan.transition().delete == (("a", 1),)


def test_deleted_file_of_a_running_entry_removes_it_after_the_run():
    (change,) = reconcile.diff([], stored(A, status=S.IN_PROCESS), NOW).changes
    assert change.deferred
    assert change.after.remove_after_run is True
    assert change.after.status is S.IN_PROCESS
    assert reconcile.diff([], stored(A, status=S.IN_PROCESS), NOW).transition().delete == ()


def test_invalid_file_keeps_the_last_good_definition():
    plan = reconcile.diff([BAD_A], stored(A), NOW)
    (change,) = plan.changes
    assert change.kind == "reject"
    assert change.after.spec == A.spec
    assert change.after.status is S.READY
    assert "jobs.d/a.yaml:3: recurrence.every: 'often' is not a duration" in change.after.rejected
    assert plan.transition().delete == ()


def test_rejection_already_marked_writes_nothing():
    marked = stored(A)
    first = reconcile.diff([BAD_A], marked, NOW).changes[0].after
    again = reconcile.diff([BAD_A], {"a": first}, NOW)
    assert again.transition().put == ()
    assert kinds(again) == [("reject", "a")]


def test_invalid_new_file_is_only_reported():
    plan = reconcile.diff([BAD_A], {}, NOW)
    assert kinds(plan) == [("reject", None)]
    assert plan.transition().put == ()


def test_fixing_the_file_clears_the_mark():
    marked = reconcile.diff([BAD_A], stored(A), NOW).changes[0].after
    (same,) = reconcile.diff([A], {"a": marked}, NOW).changes
    assert (same.kind, same.after.rejected, same.after.earliest_start) == (
        "accept",
        "",
        marked.earliest_start,
    )
    (edited,) = reconcile.diff([A2], {"a": marked}, NOW).changes
    assert (edited.kind, edited.after.rejected) == ("change", "")


def test_duplicate_ids_first_file_wins():
    dup = parsed("jobs.d/c.yaml", "id: a\nobject_id: 3\n")
    plan = reconcile.diff([A, dup], {}, NOW)
    assert kinds(plan) == [("add", "a"), ("reject", None)]
    assert plan.changes[1].problems[0].message == "id 'a' is already used by jobs.d/a.yaml"


def test_duplicate_id_stays_with_the_stored_file():
    first = parsed("jobs.d/0.yaml", "id: a\nobject_id: 3\n")
    plan = reconcile.diff([first, A], stored(A), NOW)
    assert kinds(plan) == [("reject", None)]
    assert plan.unchanged == 1


def test_renamed_file_moves_the_entry():
    moved = parsed("jobs.d/z.yaml", "id: a\nobject_id: 1\nrecurrence:\n  every: 1h\n")
    plan = reconcile.diff([moved], stored(A), NOW)
    assert kinds(plan) == [("change", "a")]
    assert plan.changes[0].after.spec.source == "jobs.d/z.yaml"


def test_partial_scope_removes_only_files_in_scope():
    gone = reconcile.FileResult(path="jobs.d/a.yaml", deleted=True)
    plan = reconcile.diff([gone], stored(A, B), NOW, scope={"jobs.d/a.yaml"})
    assert kinds(plan) == [("remove", "a")]


def test_partial_scope_does_not_steal_an_id_from_an_unchanged_file():
    dup = parsed("jobs.d/c.yaml", "id: a\nobject_id: 3\n")
    plan = reconcile.diff([dup], stored(A), NOW, scope={"jobs.d/c.yaml"})
    assert kinds(plan) == [("reject", None)]


def test_changed_keys_flatten_nested_values():
    assert reconcile.changed_keys({"a": 1, "r": {"x": 1}}, {"a": 1, "r": {"y": 2}}) == {
        "r.x": (1, None),
        "r.y": (None, 2),
    }


def test_change_kinds_keep_the_words_plan_json_and_the_log_show():
    assert [k.value for k in reconcile.ChangeKind] == [
        "add",
        "change",
        "remove",
        "reject",
        "accept",
        "move",
        "restamp",
    ]
    assert reconcile.ChangeKind.REJECT == "reject"  # a StrEnum: equal to its word


def test_file_results_pickle_as_they_were():
    """What a helper hands back (`jobfiles`): each result, its spec and problems alike."""
    import pickle

    cron = parsed("jobs.d/c.yaml", "object_id: 3\nrecurrence:\n  cron: '5 4 * * 1'\n")
    bad = parsed("jobs.d/bad.yaml", "object_id: 1\npriority: urgent\n")
    results = [A, cron, bad, reconcile.FileResult(path="jobs.d/gone.yaml", deleted=True)]
    again = pickle.loads(pickle.dumps(results, pickle.HIGHEST_PROTOCOL))
    assert again == results

    def unseen(r: reconcile.FileResult) -> tuple[object, ...] | None:  # compare=False
        return (r.spec.raw, r.spec.definition, r.spec.stamp) if r.spec else None

    assert [unseen(r) for r in again] == [unseen(r) for r in results]
    assert again[1].spec.recurrence == cron.spec.recurrence
    assert again[2].problems == bad.problems
