"""Stored definitions: a spec read back from its JSON is the one that was written."""

from __future__ import annotations

import dataclasses

import pytest

from jobrunner import model, spec
from jobrunner.store import codec


@pytest.mark.parametrize(
    "text",
    [
        "object_id: 50100\n",
        "object_id: acme.jobs:post\nparameter_string: batch 7\n"
        "earliest_start: '2026-03-29 01:30'\n",
        "object_id: 1\nrecurrence:\n  every: 5m\n  starting_time: '08:00'\n"
        "  timezone: Asia/Tokyo\n",
        "object_id: 1\nrecurrence:\n  cron: '0 3 * * *'\npriority: high\ncategory: CRM\n",
    ],
)
def test_a_remembered_spec_is_the_one_its_definition_rebuilds(text):
    written = spec.parse_spec(
        text, "jobs.d/a.yaml", default_id="a", timezone="Europe/Berlin", stamp="1:2:3:4"
    )
    codec.remember(written)
    key = (
        written.definition,
        written.source,
        written.id,
        written.timezone,
        written.digest,
        written.stamp,
    )
    assert codec.from_definition(*key) is written  # read back without a rebuild
    del codec._BUILT[key]
    rebuilt = codec.from_definition(*key)
    assert rebuilt is not written
    for f in dataclasses.fields(model.JobSpec):  # also the fields equality skips
        assert getattr(rebuilt, f.name) == getattr(written, f.name), f.name


def test_a_rebuilt_definition_keeps_its_environment():
    written = spec.parse_spec(
        "object_id: 1\nenvironment: {A: x, PATH: /bin}\n",
        "jobs.d/job.yaml",
        default_id="job",
        timezone="UTC",
    )
    rebuilt = codec.from_definition(written.definition, written.source, "job", "UTC")
    assert rebuilt.environment == {"A": "x", "PATH": "/bin"}
