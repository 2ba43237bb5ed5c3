"""Report entries in every store: the report keys come back as they were written, and a
definition stored before reports existed reads as a codeunit."""

from __future__ import annotations

import json

from jobrunner import model
from jobrunner.store import codec
from jobrunner.store.sqlite import SqliteStore
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
