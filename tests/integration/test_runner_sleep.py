"""The runner's sleep with pruning pending while the store cannot be written: it waits
for the store's retry, it does not spin (a real Runner object, no loop started)."""

from __future__ import annotations

from jobrunner import config
from jobrunner.runner import Runner
from jobrunner.runner.wakeup import Wakeup
from jobrunner.store.memory import MemoryStore
from jobrunner.testing import FakeClock, FakeExecutor, utc


def test_pending_pruning_does_not_spin_while_the_store_is_unwritable(tmp_path):
    cfg = config.load(None, cwd=tmp_path)
    clock = FakeClock(utc(2026, 11, 21))
    executor = FakeExecutor()
    r = Runner(cfg, store=MemoryStore(), executors=lambda: executor, clock=clock, wakeup=Wakeup())
    r.pruner.ended("job")  # a run ended: its count limits are pending
    r.commits.retry_at_mono = clock.monotonic() + 5  # cannot be written: retry in 5 s
    assert r.timing.sleep_for(clock.now(), clock.monotonic()) > 4
    r.commits.retry_at_mono = None
    assert r.timing.sleep_for(clock.now(), clock.monotonic()) == 0.0  # writable: pruning due
    r.commits.close()
    r.wakeup.close()
