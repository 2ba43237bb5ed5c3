"""The live reconciler on a real folder, with real inotify events and a real SQLite file."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from jobrunner import config, model
from jobrunner.reconciler import Reconciler
from jobrunner.store.sqlite import SqliteStore

S = model.EntryStatus
HOURLY = "object_id: 50100\nrecurrence:\n  every: 1h\n"


@pytest.fixture
def live(tmp_path):
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(HOURLY)
    cfg = config.Config(
        path=None, base=tmp_path, jobs_dir=jobs, state_dir=tmp_path / "state", timezone="UTC"
    )
    db = SqliteStore(cfg.state_dir / "jobrunner.sqlite3")
    batches: queue.Queue[set] = queue.Queue()
    with capture_logs() as logs:
        rec = Reconciler(cfg, db, lambda: datetime.now(UTC))
        rec.full()

        def on_batch(paths):
            rec.paths(paths)
            batches.put(paths)

        rec.watch(on_batch)

        class Live:
            store, folder, events = db, jobs, logs

            @staticmethod
            def wait(predicate, timeout=5.0):
                deadline = time.monotonic() + timeout
                while not predicate():
                    remaining = deadline - time.monotonic()
                    assert remaining > 0, "the reconciler did not get there in time"
                    with contextlib.suppress(queue.Empty):
                        batches.get(timeout=remaining)

            @staticmethod
            def names():
                return [e["event"] for e in logs]

        yield Live
        rec.stop()
        db.close()


def test_start_up_adds_existing_files(live):
    entry = live.store.get_entry("a")
    assert entry.status is S.READY
    assert entry.spec.source == "jobs.d/a.yaml"
    assert live.names() == ["entry_added", "entry_enqueued"]


def test_new_file_is_added_and_enqueued(live):
    before = datetime.now(UTC)
    (live.folder / "b.yaml").write_text("object_id: 50100\n")
    live.wait(lambda: live.store.get_entry("b") is not None)
    entry = live.store.get_entry("b")
    assert entry.status is S.READY
    assert entry.earliest_start >= before + timedelta(seconds=1)


def test_in_place_edit_redefines_and_resets_attempts(live):
    entry = live.store.get_entry("a")
    live.store.commit(
        model.Transition(
            reason="t",
            put=(dataclasses.replace(entry, status=S.ERROR, attempts=2, error_message="boom"),),
        )
    )
    (live.folder / "a.yaml").write_text(HOURLY.replace("1h", "2h"))
    live.wait(lambda: live.store.get_entry("a").spec.recurrence.every == timedelta(hours=2))
    entry = live.store.get_entry("a")
    assert (entry.status, entry.attempts, entry.error_message) == (S.READY, 0, "boom")
    changed = [e for e in live.events if e["event"] == "entry_changed"]
    assert changed[-1]["keys"] == {"recurrence.every": ["1h", "2h"]}


def test_atomic_rename_save_is_one_change(live):
    temp = live.folder / ".a.yaml.tmp"
    temp.write_text(HOURLY.replace("1h", "3h"))
    os.replace(temp, live.folder / "a.yaml")
    live.wait(lambda: live.store.get_entry("a").spec.recurrence.every == timedelta(hours=3))
    assert live.names().count("entry_changed") == 1


def test_status_on_hold_in_the_file_cancels_the_pending_run(live):
    (live.folder / "a.yaml").write_text(HOURLY + "status: on_hold\n")
    live.wait(lambda: live.store.get_entry("a").status is S.ON_HOLD)
    assert live.store.get_entry("a").earliest_start is None


def test_unchanged_content_changes_nothing_but_the_stamp(live):
    before = live.store.get_entry("a")
    (live.folder / "a.yaml").write_text(HOURLY)
    (live.folder / "b.yaml").write_text("object_id: 50100\n")  # a marker batch after it
    live.wait(lambda: live.store.get_entry("b") is not None)
    after = live.store.get_entry("a")
    assert (after.spec, after.status, after.earliest_start, after.attempts) == (
        before.spec,
        before.status,
        before.earliest_start,
        before.attempts,
    )
    assert after.spec.stamp != before.spec.stamp  # so the next rescan need not read it
    assert "entry_changed" not in live.names()


def test_deleted_file_removes_the_entry_but_not_its_log(live):
    live.store.commit(
        model.Transition(
            reason="t",
            log_insert=(
                model.LogEntry(
                    entry_id="a",
                    start_at=datetime.now(UTC),
                    status=model.LogStatus.SUCCESS,
                    end_at=datetime.now(UTC),
                ),
            ),
        )
    )
    (live.folder / "a.yaml").unlink()
    live.wait(lambda: live.store.get_entry("a") is None)
    assert [row.entry_id for row in live.store.list_log()] == ["a"]
    assert "entry_removed" in live.names()


def test_deleted_file_of_a_running_entry_waits_for_the_run(live):
    entry = live.store.get_entry("a")
    live.store.commit(
        model.Transition(
            reason="t", put=(dataclasses.replace(entry, status=S.IN_PROCESS, session_id="s1"),)
        )
    )
    (live.folder / "a.yaml").unlink()
    live.wait(lambda: live.store.get_entry("a").remove_after_run)
    entry = live.store.get_entry("a")
    assert (entry.status, entry.session_id) == (S.IN_PROCESS, "s1")


def test_edit_never_interrupts_a_run_in_process(live):
    entry = live.store.get_entry("a")
    live.store.commit(
        model.Transition(
            reason="t", put=(dataclasses.replace(entry, status=S.IN_PROCESS, session_id="s1"),)
        )
    )
    (live.folder / "a.yaml").write_text(HOURLY.replace("1h", "2h"))
    live.wait(lambda: live.store.get_entry("a").spec.recurrence.every == timedelta(hours=2))
    assert live.store.get_entry("a").status is S.IN_PROCESS


def test_broken_file_keeps_last_good_definition_until_fixed(live):
    good = live.store.get_entry("a")
    (live.folder / "a.yaml").write_text("object_id: 50100\nrecurrence:\n  every: 1 hour\n")
    live.wait(lambda: live.store.get_entry("a").rejected)
    entry = live.store.get_entry("a")
    assert entry.spec == good.spec
    assert (entry.status, entry.earliest_start) == (good.status, good.earliest_start)
    assert entry.rejected == (
        "jobs.d/a.yaml:3: recurrence.every: '1 hour' is not a duration (examples: 30s, 5m, 1h30m)"
    )
    rejected = [e for e in live.events if e["event"] == "job_file_rejected"]
    assert rejected[-1]["log_level"] == "warning"
    (live.folder / "a.yaml").write_text(HOURLY)
    live.wait(lambda: not live.store.get_entry("a").rejected)
    assert live.store.get_entry("a").earliest_start == good.earliest_start
    assert "job_file_accepted" in live.names()


def test_renamed_file_keeps_the_entry(live):
    number = live.store.get_entry("a").entry_no
    os.replace(live.folder / "a.yaml", live.folder / "renamed.yaml")
    # the id came from the old file name, so the entry becomes 'renamed'
    live.wait(lambda: live.store.get_entry("renamed") is not None)
    assert live.store.get_entry("a") is None
    (live.folder / "c.yaml").write_text("id: c\nobject_id: 50100\n")
    live.wait(lambda: live.store.get_entry("c") is not None)
    os.replace(live.folder / "c.yaml", live.folder / "d.yaml")
    live.wait(lambda: live.store.get_entry("c").spec.source == "jobs.d/d.yaml")
    assert live.store.get_entry("renamed").entry_no > number


def test_editor_temp_files_are_ignored(live):
    (live.folder / "a.yaml~").write_text("garbage: [")
    (live.folder / ".a.yaml.swp").write_text("garbage: [")
    (live.folder / "b.yaml").write_text("object_id: 50100\n")
    live.wait(lambda: live.store.get_entry("b") is not None)
    assert not live.store.get_entry("a").rejected


def test_full_rescan_reads_only_files_whose_stamp_changed(tmp_path, monkeypatch):
    from jobrunner import jobfiles

    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for n in range(20):
        (jobs / f"j{n}.yaml").write_text(HOURLY)
    cfg = config.Config(
        path=None, base=tmp_path, jobs_dir=jobs, state_dir=tmp_path / "s", timezone="UTC"
    )
    db = SqliteStore(cfg.state_dir / "jobrunner.sqlite3")
    rec = Reconciler(cfg, db, lambda: datetime.now(UTC))
    assert len(rec.full().of("add")) == 20
    reads = []
    real = jobfiles.load_file
    monkeypatch.setattr(
        jobfiles, "load_file", lambda path, **kw: reads.append(path) or real(path, **kw)
    )
    plan = rec.full()
    assert (reads, plan.unchanged, plan.changes) == ([], 20, ())
    os.utime(jobs / "j3.yaml")  # touched: read again, nothing changes
    (jobs / "j7.yaml").write_text(HOURLY.replace("1h", "2h"))
    (jobs / "j9.yaml").unlink()
    plan = rec.full()
    assert sorted(p.name for p in reads) == ["j3.yaml", "j7.yaml"]
    assert sorted((c.kind, c.entry_id) for c in plan.changes if c.kind != "restamp") == [
        ("change", "j7"),
        ("remove", "j9"),
    ]
    assert plan.unchanged == 18
    db.close()


def test_a_reconcile_lost_from_the_disk_is_reconciled_again_at_start(tmp_path):
    """A reconcile commits without an fsync of its own: what a power loss could take of
    it is still in the job files, and the next start reconciles it again."""
    import shutil

    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(HOURLY)
    (jobs / "b.yaml").write_text(HOURLY)
    cfg = config.Config(
        path=None, base=tmp_path, jobs_dir=jobs, state_dir=tmp_path / "s", timezone="UTC"
    )
    path = cfg.state_dir / "jobrunner.sqlite3"
    durable = []

    class Recorded(SqliteStore):
        def commit(self, transition, **kw):
            durable.append(kw.get("durable", True))
            return super().commit(transition, **kw)

    db = Recorded(path)
    Reconciler(cfg, db, lambda: datetime.now(UTC)).full()
    db.close()
    assert not path.with_name(path.name + "-wal").exists()
    shutil.copy(path, tmp_path / "before.sqlite3")  # what the disk held before
    (jobs / "a.yaml").write_text(HOURLY.replace("1h", "2h"))
    (jobs / "b.yaml").unlink()
    (jobs / "c.yaml").write_text(HOURLY)
    db = Recorded(path)
    rec = Reconciler(cfg, db, lambda: datetime.now(UTC))
    rec.paths([jobs / "a.yaml", jobs / "b.yaml", jobs / "c.yaml"])
    db.close()
    assert durable == [False, False]  # both reconciles: no fsync of their own
    shutil.copy(tmp_path / "before.sqlite3", path)  # the second one never reached it
    db = SqliteStore(path)
    assert db.get_entry("a").spec.recurrence.every == timedelta(hours=1)
    Reconciler(cfg, db, lambda: datetime.now(UTC)).full()  # the next start
    assert db.get_entry("a").spec.recurrence.every == timedelta(hours=2)
    assert db.get_entry("b") is None
    assert db.get_entry("c") is not None
    db.close()


def test_a_git_pull_that_rewrites_files_removes_no_entry(live, tmp_path):
    # git replaces each changed file by unlinking it and writing it anew: a reconcile in
    # between must not take the file for deleted (the entry and its state would go).
    def git(*args: str, cwd=tmp_path) -> None:
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)

    names = [f"j{n}" for n in range(5)]
    for name in names:
        (live.folder / f"{name}.yaml").write_text(HOURLY)
    live.wait(lambda: all(live.store.get_entry(n) is not None for n in names))
    ident = ("-c", "user.name=ops", "-c", "user.email=ops@example.invalid")
    git("init", "-q", "-b", "main")
    git("add", "jobs.d")
    git(*ident, "commit", "-q", "-m", "jobs")
    other = tmp_path / "other"
    git("clone", "-q", str(tmp_path), str(other))
    for round_ in range(5):
        for name in names:
            (other / "jobs.d" / f"{name}.yaml").write_text(
                HOURLY + f"description: round {round_}\n"
            )
        git(*ident, "commit", "-q", "-am", f"round {round_}", cwd=other)
        git("pull", "-q", "--ff-only", str(other), "main")
        live.wait(
            lambda r=round_: all(
                live.store.get_entry(n).spec.description == f"round {r}" for n in names
            )
        )
    assert "entry_removed" not in live.names()
    assert "entry_changed" in live.names()


def test_a_log_that_leaves_out_info_still_gets_the_rejections(tmp_path):
    import logging

    import structlog
    from structlog.testing import LogCapture

    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(HOURLY)
    (jobs / "b.yaml").write_text("object_id: [\n")
    cfg = config.Config(
        path=None, base=tmp_path, jobs_dir=jobs, state_dir=tmp_path / "s", timezone="UTC"
    )
    capture = LogCapture()
    log = structlog.wrap_logger(
        None,
        processors=[capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    db = SqliteStore(cfg.state_dir / "jobrunner.sqlite3")
    plan = Reconciler(cfg, db, lambda: datetime.now(UTC), log).full()
    db.close()
    assert [c.kind for c in plan.changes] == ["add", "reject"]
    assert [(e["event"], e["file"]) for e in capture.entries] == [
        ("job_file_rejected", "jobs.d/b.yaml")
    ]
