"""The revision rule: how a store's revision stands to a checkout's, and what a reconcile
of an older checkout writes (nothing) or of a newer one (everything, moving the store's
revision by compare-and-set)."""

from __future__ import annotations

import dataclasses

import pytest

from jobrunner import model, reconcile, revision
from tests.unit.test_reconcile import A2, BAD_A, NOW, A, B, kinds, stored

St = revision.Standing
C1 = "1" * 40
C2 = "2" * 40
C3 = "3" * 64


@pytest.mark.parametrize(
    ("stored_rev", "own", "ancestry", "expected"),
    [
        pytest.param(None, "7", None, St.NONE, id="store-has-none"),
        pytest.param(None, None, None, St.NONE, id="neither-has-one"),
        pytest.param("7", None, None, St.UNRELATED, id="checkout-has-none"),
        pytest.param("7", "7", None, St.EQUAL, id="same-number"),
        pytest.param("7", "12", None, St.OLDER, id="lower-number"),
        pytest.param("12", "7", None, St.NEWER, id="higher-number-not-text-order"),
        pytest.param(C1, C1, None, St.EQUAL, id="same-commit"),
        pytest.param(
            C1, C2, revision.Ancestry(stored_first=True, own_first=False), St.OLDER, id="ancestor"
        ),
        pytest.param(
            C2, C1, revision.Ancestry(stored_first=False, own_first=True), St.NEWER, id="descendant"
        ),
        pytest.param(
            C1, C2, revision.Ancestry(stored_first=False, own_first=False), St.UNRELATED,
            id="diverged-or-unknown",
        ),
        pytest.param(C1, C3, None, St.UNRELATED, id="commits-without-ancestry"),
        pytest.param("7", C1, None, St.UNRELATED, id="number-then-commit"),
        pytest.param(C1, "7", None, St.UNRELATED, id="commit-then-number"),
    ],
)  # fmt: skip
def test_standing(stored_rev, own, ancestry, expected):
    assert revision.standing(stored_rev, own, ancestry) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", "42"), (" 0042 ", "42"), ("0", "0"), ("9" * 18, "9" * 18)],
)
def test_number_accepts_whole_numbers(text, expected):
    assert revision.number(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "1.5", "v2", "9" * 19, "0x10", C1])
def test_number_refuses_anything_else(text):
    with pytest.raises(ValueError, match="is not a deploy number"):
        revision.number(text)


def test_short_names():
    assert [revision.short(r) for r in (None, "42", C1)] == ["-", "42", "1" * 12]


def _changes():
    """A changed, b removed (a file gone), and a new c added."""
    c_spec = dataclasses.replace(B.spec, id="c", source="jobs.d/c.yaml")
    c = reconcile.FileResult(path="jobs.d/c.yaml", spec=c_spec)
    return reconcile.diff([A2, c], stored(A, B), NOW)


@pytest.mark.parametrize("found", [St.NONE, St.OLDER, St.EQUAL])
def test_a_checkout_not_older_than_the_store_writes_its_plan_and_moves_the_revision(found):
    plan = _changes()
    guarded = revision.guard(plan, "3", "5", found)
    assert guarded.kept == ()
    assert guarded.plan.changes == plan.changes
    assert guarded.plan.revision == model.RevisionMove(expected="3", to="5")
    assert guarded.plan.transition().revision == model.RevisionMove(expected="3", to="5")


def test_a_checkout_with_no_revision_on_a_store_with_none_writes_as_before():
    plan = _changes()
    guarded = revision.guard(plan, None, None, St.NONE)
    assert guarded.plan.changes == plan.changes
    assert guarded.plan.revision is None


@pytest.mark.parametrize("found", [St.NEWER, St.UNRELATED])
def test_an_older_checkout_writes_nothing_and_keeps_every_change(found):
    plan = _changes()
    assert sorted(kinds(plan)) == [("add", "c"), ("change", "a"), ("remove", "b")]
    guarded = revision.guard(plan, "9", "5", found)
    assert guarded.standing is found
    assert [(c.kind, c.entry_id) for c in guarded.kept] == kinds(plan)
    transition = guarded.plan.transition()
    assert (transition.put, transition.delete, transition.revision) == ((), (), None)


def test_an_older_checkout_reports_a_rejected_file_without_marking_its_entry():
    plan = reconcile.diff([BAD_A, B], stored(A, B), NOW)
    assert plan.changes[0].after is not None  # (a newer checkout would mark it)
    guarded = revision.guard(plan, "9", "5", St.NEWER)
    assert kinds(guarded.plan) == [("reject", "a")]
    assert guarded.plan.changes[0].problems == plan.changes[0].problems
    assert guarded.plan.transition().put == ()
    assert guarded.kept == ()


def test_an_older_checkout_does_not_restamp():
    touched = reconcile.FileResult(path=B.path, spec=dataclasses.replace(B.spec, stamp="new"))
    plan = reconcile.diff([touched], stored(B), NOW)
    assert kinds(plan) == [("restamp", "b")]
    guarded = revision.guard(plan, "9", "5", St.NEWER)
    assert (guarded.plan.changes, guarded.kept) == ((), ())


def test_the_same_definition_read_from_another_revision_is_restamped():
    """(Written only where the checkout may write: `guard`.)"""
    again = reconcile.FileResult(path=B.path, spec=dataclasses.replace(B.spec, revision="8"))
    plan = reconcile.diff([again], stored(B), NOW)
    assert kinds(plan) == [("restamp", "b")]
    assert plan.changes[0].after.spec.revision == "8"
    assert plan.transition().put == (plan.changes[0].after,)


def test_what_a_checkout_keeps_of_a_files_definition_tells_id_and_digest_apart():
    from jobrunner.reconciler import held

    assert held("jobs.d/nightly.yaml", "nightly", "d1") == "d1"  # the default id: not kept
    assert held("jobs.d/a.b.yml", "a.b", "d1") == "d1"
    assert held("jobs.d/nightly.yaml", "other", "d1") == ("other", "d1")
    f = "jobs.d/nightly.yaml"
    assert held(f, "nightly", "d1") != held(f, "x", "d1")
    assert held(f, "nightly", "d1") != held(f, "nightly", "d2")
