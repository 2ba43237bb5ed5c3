"""An entry's System Task ID: the name-based UUID of its id, stable across versions."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from jobrunner import lifecycle


@given(st.text(min_size=1, max_size=80))
def test_system_task_id_is_uuid5_of_the_entry_id(entry_id):
    assert lifecycle.system_task_id(entry_id) == str(uuid.uuid5(lifecycle._TASK_IDS, entry_id))


def test_system_task_id_is_stable():
    # stored in state files: must never change between versions
    assert lifecycle.system_task_id("nightly-customer-sync") == str(
        uuid.uuid5(uuid.UUID("6f1d0e4a-3c1b-4f57-9a43-7e2d2b8c5a10"), "nightly-customer-sync")
    )
