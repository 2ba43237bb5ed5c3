"""`jobrunner plan` through the real CLI, against a store the real reconciler wrote."""

from __future__ import annotations

from datetime import UTC, datetime

from jobrunner import config
from jobrunner.reconciler import Reconciler
from jobrunner.store.sqlite import FILE_NAME, SqliteStore


def reconcile_now(folder):
    (folder / "jobrunner.yaml").write_text("timezone: UTC\n")
    cfg = config.load(cwd=folder)
    db = SqliteStore(cfg.state_dir / FILE_NAME)
    Reconciler(cfg, db, lambda: datetime.now(UTC)).full()
    db.close()


def test_plan_on_empty_store_adds_everything(cli):
    result = cli("plan", "--json")
    assert result.code == 2
    data = result.json()
    assert sorted(a["id"] for a in data["add"]) == [
        "inbox-poll",
        "month-end-close",
        "nightly-customer-sync",
        "order-import",
        "reminder-once",
        "report-rotation",
        "weekly-run-stats",
    ]
    assert set(data["add"][0]) == {"id", "file", "status", "next_run"}
    assert (data["change"], data["remove"], data["rejected"], data["unchanged"]) == ([], [], [], 0)


def test_plan_after_reconcile_is_empty(cli):
    reconcile_now(cli.dir)
    result = cli("plan")
    assert result.code == 0
    assert result.out.strip() == (
        "Plan: 0 to add, 0 to change, 0 to remove, 0 rejected, 7 unchanged."
    )


def test_plan_shows_changed_keys_and_removals(cli):
    reconcile_now(cli.dir)
    poll = cli.dir / "jobs.d" / "inbox-poll.yaml"
    poll.write_text(poll.read_text().replace("every: 5m", "every: 10m"))
    (cli.dir / "jobs.d" / "reminder-once.yaml").unlink()
    result = cli("plan")
    assert result.code == 2
    lines = result.out.splitlines()
    assert "~ inbox-poll  (jobs.d/inbox-poll.yaml)  changed" in lines
    assert "    recurrence.every: '5m' -> '10m'" in lines
    assert "- reminder-once  (jobs.d/reminder-once.yaml)" in lines
    data = cli("plan", "--json").json()
    assert data["change"][0]["keys"] == {"recurrence.every": {"old": "5m", "new": "10m"}}
    assert data["remove"] == [
        {"id": "reminder-once", "file": "jobs.d/reminder-once.yaml", "after_run": False}
    ]
    assert data["unchanged"] == 5


def test_plan_rejected_file_exits_1_and_names_the_kept_entry(cli):
    reconcile_now(cli.dir)
    (cli.dir / "jobs.d" / "inbox-poll.yaml").write_text("object_id: 50110\nstatus: paused\n")
    result = cli("plan")
    assert result.code == 1
    assert (
        "! jobs.d/inbox-poll.yaml  rejected; entry 'inbox-poll' keeps its last good definition"
    ) in result.out
    assert "    jobs.d/inbox-poll.yaml:2: status: 'paused' is not one of: ready, on_hold" in (
        result.out
    )
    assert cli("plan", "--json").json()["rejected"][0]["entry_id"] == "inbox-poll"


def test_plan_does_not_write(cli):
    cli("plan")
    assert not (cli.dir / ".jobrunner").exists()


def test_plan_shows_each_changed_environment_variable(cli):
    poll = cli.dir / "jobs.d" / "inbox-poll.yaml"
    poll.write_text(poll.read_text() + "environment:\n  MODE: slow\n  KEPT: x\n")
    reconcile_now(cli.dir)
    poll.write_text(poll.read_text().replace("MODE: slow", "MODE: fast") + "  ADDED: y\n")
    result = cli("plan")
    assert result.code == 2, result.out + result.err
    lines = result.out.splitlines()
    assert "    environment.MODE: 'slow' -> 'fast'" in lines
    assert "    environment.ADDED: None -> 'y'" in lines
    assert not any("KEPT" in line for line in lines)


def test_plan_of_an_older_checkout_changes_nothing_and_says_what_it_keeps(cli):
    (cli.dir / "jobrunner.yaml").write_text("timezone: UTC\nrevision: 9\n")
    cfg = config.load(cwd=cli.dir)
    db = SqliteStore(cfg.state_dir / FILE_NAME)
    Reconciler(cfg, db, lambda: datetime.now(UTC)).full()
    db.close()
    (cli.dir / "jobrunner.yaml").write_text("timezone: UTC\nrevision: 5\n")  # an older deploy
    (cli.dir / "jobs.d" / "reminder-once.yaml").unlink()
    result = cli("plan")
    assert result.code == 0  # a runner here would change nothing
    assert (
        "= the store holds revision 9, newer than this checkout's 5: it does not make these "
        "1 changes (definition_newer_in_store)"
    ) in result.out.splitlines()
    assert "=   remove reminder-once  (jobs.d/reminder-once.yaml)" in result.out.splitlines()
    data = cli("plan", "--json").json()
    assert data["revision"] == {"own": "5", "store": "9", "standing": "newer"}
    assert data["kept"] == [
        {"id": "reminder-once", "file": "jobs.d/reminder-once.yaml", "change": "remove"}
    ]
    assert (data["add"], data["change"], data["remove"]) == ([], [], [])
