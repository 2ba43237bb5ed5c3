"""A runner over MemoryStore, a FakeExecutor and a FakeClock: its passes (`tick`) run
with no subprocess, no sleep and no file."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from jobrunner import config, model
from jobrunner.runner import Runner
from jobrunner.runner.wakeup import Wakeup
from jobrunner.store.memory import MemoryStore
from jobrunner.testing import FakeClock, FakeExecutor, utc

NOW = utc(2026, 11, 21, 10, 0)
NOWHERE = Path("/nonexistent/jobrunner-unit")  # never created: no file is touched


class Harness:
    def __init__(self, **settings: object) -> None:
        self.cfg = config.Config(
            path=None,
            base=NOWHERE,
            jobs_dir=NOWHERE / "jobs.d",
            state_dir=NOWHERE / "state",
            timezone="UTC",
            objects={50100: "tests.entrypoints.jobs:ok"},
            **settings,  # type: ignore[arg-type]
        )
        self.store = MemoryStore()
        self.clock = FakeClock(NOW)
        self.executor = FakeExecutor()
        self.runner = Runner(
            self.cfg,
            store=self.store,
            executors=lambda: self.executor,
            clock=self.clock,
            wakeup=Wakeup(),
        )

    def add(self, spec: model.JobSpec, **fields: object) -> None:
        fields.setdefault("status", model.EntryStatus.READY)
        fields.setdefault("earliest_start", NOW)
        entry = model.Entry(spec=spec, **fields)  # type: ignore[arg-type]
        self.store.commit(model.Transition(reason="test", put=(entry,)))

    def entry(self, entry_id: str = "job") -> model.Entry:
        found = self.store.get_entry(entry_id)
        assert found is not None
        return found

    def change(self, entry_id: str = "job", **fields: object) -> None:
        changed = dataclasses.replace(self.entry(entry_id), **fields)  # type: ignore[arg-type]
        self.store.commit(model.Transition(reason="test", put=(changed,)))

    def tick(self, after: timedelta = timedelta(0)) -> None:
        self.clock.advance(after)
        self.runner.tick()
        self.runner.commits.flush(self.clock.monotonic(), wait=True)

    def session_of(self, entry_id: str = "job") -> str:
        session_id = self.entry(entry_id).session_id
        assert session_id is not None
        return session_id

    def logs(self, entry_id: str = "job") -> list[model.LogEntry]:
        return [g for g in self.store.list_log() if g.entry_id == entry_id]

    def close(self) -> None:
        self.runner.commits.close()
        self.runner.wakeup.close()


@pytest.fixture
def harness():
    made: list[Harness] = []

    def make(**settings: object) -> Harness:
        made.append(Harness(**settings))
        return made[-1]

    yield make
    for h in made:
        h.close()
