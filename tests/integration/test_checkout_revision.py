"""The revision rule in the reconciler, with real git checkouts and a real SQLite file
shared by two reconcilers (two runners' checkouts of one repository): an older checkout
writes nothing over what a newer one stored, says so once per change, and does not hold
the newer definitions; deploy numbers compare as integers."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from jobrunner import checkout, config, errors, revision
from jobrunner.reconciler import Reconciler
from jobrunner.store.sqlite import SqliteStore
from tests import gitrepo

HOURLY = "object_id: 50100\nrecurrence:\n  every: 1h\n"
St = revision.Standing


def _cfg(root: Path, jobs: Path, number: str | None = None) -> config.Config:
    return config.Config(
        path=None,
        base=root,
        jobs_dir=jobs,
        state_dir=root / "state",
        timezone="UTC",
        revision=number,
    )


class Node:
    """One runner's checkout and its reconciler, on the shared store file."""

    def __init__(self, root: Path, jobs: Path, path: Path, number: str | None = None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.jobs, self.store = jobs, SqliteStore(path)
        self.rec = Reconciler(  # (git: as on a store several runners share)
            _cfg(root, jobs, number), self.store, lambda: datetime.now(UTC), git=True
        )

    def full(self) -> list[dict]:
        """A full reconcile; the definition_newer_in_store events it logged."""
        with capture_logs() as logs:
            self.rec.full()
        return [e for e in logs if e["event"] == "definition_newer_in_store"]

    def holds(self, entry_id: str) -> bool:
        entry = self.store.get_entry(entry_id)
        assert entry is not None, entry_id
        return self.rec.holds(entry)


@pytest.fixture
def deploy(tmp_path):
    """An origin with a.yaml and b.yaml at its first commit, cloned for nodes a and b
    (each with the same layout: jobs.d beside its config), both reconciled."""
    origin = gitrepo.Origin(tmp_path / "origin")
    first = origin.commit({"a.yaml": HOURLY, "b.yaml": HOURLY})
    path = tmp_path / "store.sqlite3"
    nodes = []
    for name in ("a", "b"):
        jobs = origin.clone(tmp_path / name / "jobs.d")
        nodes.append(Node(tmp_path / name, jobs, path))
    for node in nodes:
        assert node.full() == []
    yield origin, first, nodes[0], nodes[1]
    for node in nodes:
        node.store.close()


def test_an_older_checkout_keeps_what_a_newer_one_stored(deploy):
    origin, first, new, old = deploy
    assert new.store.revision() == first
    second = origin.commit({"a.yaml": HOURLY.replace("1h", "2h"), "b.yaml": None, "c.yaml": HOURLY})
    assert gitrepo.pull(new.jobs) == second
    assert new.full() == []
    assert new.store.revision() == second
    assert {e.id: e.spec.revision for e in new.store.list_entries()} == {"a": second, "c": second}

    kept = old.full()  # still at the first commit, which does not know the second
    assert sorted((e["entry_id"], e["change"]) for e in kept) == [
        ("a", "change"),
        ("b", "add"),
        ("c", "remove"),
    ]
    assert {e["stored_revision"] for e in kept} == {second}
    assert {e["own_revision"] for e in kept} == {first}
    assert {e["standing"] for e in kept} == {"unrelated"}  # a commit it does not have
    assert [e.id for e in old.store.list_entries()] == ["a", "c"]
    assert old.store.get_entry("a").spec.recurrence.every.total_seconds() == 7200
    assert old.store.revision() == second
    assert (old.holds("a"), old.holds("c")) == (False, False)
    assert (new.holds("a"), new.holds("c")) == (True, True)

    assert old.full() == []  # said once per change
    gitrepo.fetch(old.jobs)  # it now has the second commit, but not checked out
    assert old.full() == []  # the same changes kept: nothing new to say
    assert old.rec.standing is St.NEWER

    assert gitrepo.pull(old.jobs) == second
    assert old.full() == []
    assert [e.id for e in old.store.list_entries()] == ["a", "c"]
    assert (old.holds("a"), old.holds("c")) == (True, True)
    assert old.store.revision() == second


def test_a_rejected_file_holds_the_last_good_definition_only_where_its_checkout_writes(deploy):
    origin, _, new, old = deploy
    origin.commit({"a.yaml": "object_id: 50100\nrecurrence:\n  every: often\n"})
    gitrepo.pull(new.jobs)
    new.full()
    assert new.store.get_entry("a").rejected
    assert new.holds("a")  # the entry keeps its last good definition, which it runs
    (old.jobs / "a.yaml").write_text("object_id: [\n")  # an edit of its own, not committed
    old.full()
    assert not old.holds("a")


def test_deploy_numbers_compare_as_integers(tmp_path):
    path = tmp_path / "store.sqlite3"
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(HOURLY)
    nine, twelve = Node(tmp_path / "n9", jobs, path, "9"), Node(tmp_path / "n12", jobs, path, "12")
    assert twelve.full() == []
    assert twelve.store.revision() == "12"
    (jobs / "a.yaml").write_text(HOURLY.replace("1h", "3h"))
    (kept,) = nine.full()  # 9 < 12, though "9" > "12" as text
    assert (kept["change"], kept["standing"]) == ("change", "newer")
    assert not nine.holds("a")
    assert twelve.full() == []
    assert twelve.holds("a")
    thirteen = Node(tmp_path / "n13", jobs, path, "13")
    assert thirteen.full() == []
    assert thirteen.store.revision() == "13"


def test_a_checkout_with_no_revision_writes_as_before_until_the_store_has_one(tmp_path):
    path = tmp_path / "store.sqlite3"
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(HOURLY)
    bare = Node(tmp_path / "bare", jobs, path)
    assert bare.rec.checkout.read(bare.rec.cfg) is None  # (not in a git repository)
    assert bare.full() == []
    assert (bare.store.revision(), bare.store.get_entry("a").spec.revision) == (None, None)
    assert bare.holds("a")
    (jobs / "b.yaml").write_text(HOURLY)
    Node(tmp_path / "numbered", jobs, path, "1").full()
    (jobs / "b.yaml").unlink()
    (kept,) = bare.full()
    assert (kept["entry_id"], kept["change"], kept["own_revision"]) == ("b", "remove", None)
    assert bare.store.get_entry("b") is not None


def test_git_settings_of_the_caller_do_not_point_it_elsewhere(deploy, monkeypatch, tmp_path):
    _, first, new, _ = deploy
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "nowhere"))
    assert checkout.Checkout(git=True).read(new.rec.cfg) == first


def test_an_explicit_deploy_number_wins_and_a_bad_one_is_a_config_error(tmp_path, monkeypatch):
    (tmp_path / "jobrunner.yaml").write_text("revision: 7\n")
    assert config.load(cwd=tmp_path).revision == "7"
    monkeypatch.setenv(config.REVISION_ENV, "0012")
    assert config.load(cwd=tmp_path).revision == "12"
    monkeypatch.setenv(config.REVISION_ENV, "v2")
    with pytest.raises(errors.ConfigError, match=r"\$JOBRUNNER_REVISION:1: revision: 'v2'"):
        config.load(cwd=tmp_path)
    monkeypatch.delenv(config.REVISION_ENV)
    (tmp_path / "jobrunner.yaml").write_text("revision: v2\n")
    with pytest.raises(errors.ConfigError, match=r"jobrunner.yaml:1: revision: .v2. is not a"):
        config.load(cwd=tmp_path)
    cfg = dataclasses.replace(_cfg(tmp_path, tmp_path), revision="5")
    assert checkout.Checkout(git=False).read(cfg) == "5"
    assert os.environ.get(config.REVISION_ENV) is None


def test_files_read_before_git_moved_head_get_their_revision_once_it_has(deploy, monkeypatch):
    """A pull writes the job files, then moves HEAD: a reconcile between the two stores
    the new definitions with the revision before. The next look at HEAD (each sweep)
    writes the store's revision and theirs."""
    origin, first, new, _ = deploy
    second = origin.commit({"a.yaml": HOURLY.replace("1h", "2h")})
    gitrepo.pull(new.jobs)
    real = new.rec.checkout.read
    monkeypatch.setattr(new.rec.checkout, "read", lambda cfg: first)  # HEAD not moved yet
    new.rec.paths([new.jobs / "a.yaml"])
    assert (new.store.revision(), new.store.get_entry("a").spec.revision) == (first, first)
    monkeypatch.setattr(new.rec.checkout, "read", real)
    new.rec.follow_head()
    assert (new.store.revision(), new.store.get_entry("a").spec.revision) == (second, second)
    assert new.store.get_entry("a").spec.recurrence.every.total_seconds() == 7200
    version = new.store.get_entry("a").version
    new.rec.follow_head()  # HEAD as the last reconcile saw it: nothing to do
    assert new.store.get_entry("a").version == version


def test_a_single_runners_own_store_takes_no_git_revision(deploy, tmp_path):
    """On its own SQLite file a runner's git checkout may go back (a reset, another
    branch): no other checkout can be older than it there. A deploy number still counts."""
    _, first, new, _ = deploy
    alone = Reconciler(
        new.rec.cfg, SqliteStore(tmp_path / "own.sqlite3"), lambda: datetime.now(UTC)
    )
    assert alone.checkout.read(alone.cfg) is None
    alone.full()
    assert alone.store.revision() is None
    numbered = dataclasses.replace(new.rec.cfg, revision="3")
    assert alone.checkout.read(numbered) == "3"
    assert checkout.Checkout(git=True).read(new.rec.cfg) == first
    alone.store.close()


def test_a_rule_that_comes_into_force_later_finds_what_every_file_holds(tmp_path):
    """A single runner's checkout with no revision keeps nothing of what its files hold
    (nothing asks while the rule is not in force); once the store has a revision, set
    from elsewhere, its next reconcile reads the folder again: the unchanged files hold
    their stored definitions, the changed one (kept by the rule) does not."""
    path = tmp_path / "store.sqlite3"
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(HOURLY)
    (jobs / "b.yaml").write_text(HOURLY)
    (tmp_path / "single").mkdir()
    single = SqliteStore(path)
    for _ in range(2):  # a start, then a restart: its files unchanged, none is read
        rec = Reconciler(_cfg(tmp_path / "single", jobs), single, lambda: datetime.now(UTC))
        rec.full()
    assert rec.holds(single.get_entry("a"))
    Node(tmp_path / "numbered", jobs, path, "1").full()  # the store's revision is set now
    (jobs / "b.yaml").write_text(HOURLY.replace("1h", "2h"))
    with capture_logs() as logs:
        rec.paths([jobs / "b.yaml"])
    assert [e["entry_id"] for e in logs if e["event"] == "definition_newer_in_store"] == ["b"]
    assert rec.holds(single.get_entry("a"))
    assert not rec.holds(single.get_entry("b"))
    single.close()
