"""An entry's System Task ID (the name-based UUID of its id, stable across versions) and
set-status's decisions."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobrunner import lifecycle, model
from jobrunner.testing import job, utc

NOW = utc(2026, 1, 5, 12)


@given(st.text(min_size=1, max_size=80))
def test_system_task_id_is_uuid5_of_the_entry_id(entry_id):
    assert lifecycle.system_task_id(entry_id) == str(uuid.uuid5(lifecycle._TASK_IDS, entry_id))


def test_system_task_id_is_stable():
    # stored in state files: must never change between versions
    assert lifecycle.system_task_id("nightly-customer-sync") == str(
        uuid.uuid5(uuid.UUID("6f1d0e4a-3c1b-4f57-9a43-7e2d2b8c5a10"), "nightly-customer-sync")
    )


def entry(
    status: model.EntryStatus, wanted: model.DesiredStatus = model.DesiredStatus.READY
) -> model.Entry:
    return model.Entry(spec=job(source="jobs.d/job.yaml", status=wanted), status=status)


def test_set_status_ready_is_refused_when_the_job_file_says_on_hold():
    held = entry(model.EntryStatus.ON_HOLD, model.DesiredStatus.ON_HOLD)
    decided = lifecycle.set_status(held, model.EntryStatus.READY, NOW)
    assert (decided.entry, decided.changed, decided.refused) == (None, False, True)
    assert decided.message.endswith("and the file wins")


@pytest.mark.parametrize(
    ("status", "wanted", "changed"),
    [
        pytest.param(model.EntryStatus.READY, model.EntryStatus.READY, False, id="already"),
        pytest.param(model.EntryStatus.IN_PROCESS, model.EntryStatus.READY, False, id="running"),
        pytest.param(model.EntryStatus.ERROR, model.EntryStatus.READY, True, id="restart"),
        pytest.param(model.EntryStatus.READY, model.EntryStatus.ON_HOLD, True, id="hold"),
        pytest.param(
            model.EntryStatus.IN_PROCESS, model.EntryStatus.ON_HOLD, True, id="hold-running"
        ),
    ],
)
def test_set_status_is_never_refused_otherwise(status, wanted, changed):
    decided = lifecycle.set_status(entry(status), wanted, NOW)
    assert (decided.changed, decided.refused) == (changed, False)
    assert (decided.entry.status if decided.entry else wanted) is wanted
