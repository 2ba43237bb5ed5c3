"""Report entries and documents in every store: the report keys come back as they were
written, a definition stored before reports existed reads as a codeunit, and a run's
document is kept, read back and pruned with its log entry (a shared store keeps the
bytes itself, so that every machine with the config reads them)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from jobrunner import config, model, pruning
from jobrunner.reports import outputs, runs
from jobrunner.store import codec
from jobrunner.store.postgres import PostgresStore
from jobrunner.store.sqlite import SqliteStore
from jobrunner.testing import utc
from tests import pgdb
from tests.contract.test_store import entry, put

REPORT = {
    "object_type": "report",
    "report_output": "pdf",
    "report_parameters": {"days": 7, "regions": ["north"], "nested": {"a": None}},
}


def test_a_report_entry_round_trips(store):
    (stored,) = put(store, entry("weekly", **REPORT))
    assert (stored.spec.object_type, stored.spec.report_output) == ("report", "pdf")
    assert stored.spec.report_parameters == REPORT["report_parameters"]
    assert stored.spec == entry("weekly", **REPORT).spec


def test_a_report_entry_is_read_back_from_a_reopened_sqlite_file(tmp_path):
    path = tmp_path / "jobrunner.sqlite3"
    db = SqliteStore(path)
    put(db, entry("weekly", **REPORT), entry("plain"))
    db.close()
    codec._BUILT.clear()  # rebuilt from the stored definition, not the specs kept in memory
    db = SqliteStore(path)
    try:
        weekly, plain = db.get_entry("weekly"), db.get_entry("plain")
    finally:
        db.close()
    assert weekly is not None
    assert plain is not None
    assert weekly.spec.report_output == "pdf"
    assert weekly.spec.report_parameters == REPORT["report_parameters"]
    assert json.loads(codec.definition_json(weekly.spec))["report_output"] == "pdf"
    assert (plain.spec.object_type, plain.spec.report_output, plain.spec.report_parameters) == (
        "codeunit",
        None,
        {},
    )


def test_a_definition_without_report_keys_is_a_codeunit():
    """What a store written before reports existed holds: no report keys at all."""
    stored = codec.from_definition('{"object_id": 50100}', "jobs.d/old.yaml", "old", "UTC")
    assert (stored.object_type, stored.report_output, stored.report_parameters) == (
        "codeunit",
        None,
        {},
    )
    assert isinstance(stored, model.JobSpec)


# --- report documents: where `outputs.of(cfg, store)` keeps them ---------------------

T0 = utc(2026, 11, 30, 7)


def _cfg(tmp_path, **kw):
    return config.Config(
        path=None,
        base=tmp_path,
        jobs_dir=tmp_path / "jobs.d",
        state_dir=tmp_path / "state",
        timezone="UTC",
        **kw,
    )


def _report_log(store, at=T0):
    (number,) = store.commit(
        model.Transition(
            reason="t",
            log_insert=(
                model.LogEntry(
                    entry_id="weekly",
                    start_at=at,
                    end_at=at + timedelta(seconds=1),
                    status=model.LogStatus.SUCCESS,
                    object_type="report",
                ),
            ),
        )
    )
    return store.get_log(number)


def _written(tmp_path, name, data=b"a,b\r\n1,2\r\n"):
    path = tmp_path / "sessions" / f"{name}.report.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_document_is_kept_read_back_and_goes_with_its_log_entry(store, tmp_path):
    cfg = _cfg(tmp_path)
    docs = outputs.of(cfg, store)
    log = _report_log(store)
    source = _written(tmp_path, "s1")
    kept = docs.keep(source, log, "csv")
    assert not source.exists()
    assert (kept.name, kept.size, kept.format) == (
        f"weekly_{log.entry_no}_20261130T070000Z.csv",
        10,
        "csv",
    )
    assert docs.keep(source, log, "csv") == kept  # a redo finds it kept
    assert docs.find(log.entry_no) == kept
    assert docs.index() == {log.entry_no: kept}
    assert docs.read(kept) == b"a,b\r\n1,2\r\n"
    attached = docs.local(kept)
    assert attached.read_bytes() == b"a,b\r\n1,2\r\n"
    assert attached.stat().st_mode & 0o777 == 0o600
    assert store.prune(T0 + timedelta(days=1)) == 1  # the log entry goes ...
    pruning.prune_outputs(cfg, store)  # ... and its document with it
    assert docs.find(log.entry_no) is None
    assert docs.index() == {}
    assert not attached.exists()


@pytest.mark.postgres
def test_a_shared_store_keeps_documents_for_every_machine(tmp_path):
    """Kept by one runner's store, read by another's (another folder, another
    machine's): the bytes are in the database, not in a folder."""
    with pgdb.schema() as db:
        here, there = PostgresStore(db.dsn), PostgresStore(db.dsn)
        try:
            log = _report_log(here)
            kept = outputs.of(_cfg(tmp_path / "a"), here).keep(_written(tmp_path, "s1"), log, "csv")
            elsewhere = outputs.of(_cfg(tmp_path / "b"), there)
            assert elsewhere.index() == {log.entry_no: kept}
            assert elsewhere.read(kept) == b"a,b\r\n1,2\r\n"
            assert not (tmp_path / "b").exists()  # nothing was copied for reading
            here.trim_log("weekly", model.LogStatus.SUCCESS, keep=0)
            assert elsewhere.find(log.entry_no) is None  # trimmed with its log entry
        finally:
            here.close()
            there.close()


@pytest.mark.postgres
def test_a_store_refuses_a_document_over_the_limit_and_the_run_fails(tmp_path):
    with pgdb.schema() as db:
        st = PostgresStore(db.dsn)
        try:
            docs = outputs.of(_cfg(tmp_path, report_output_limit=4), st)
            log = _report_log(st)
            ok = model.Outcome(ok=True)
            result = runs.kept(docs, tmp_path / "sessions", "s1", log, ok)
            assert result == ok  # nothing written, nothing kept
            _written(tmp_path, "s1")
            result = runs.kept(docs, tmp_path / "sessions", "s1", log, ok)
            assert not result.ok
            assert "over the limit of 4 bytes" in result.message
            assert docs.index() == {}
        finally:
            st.close()
