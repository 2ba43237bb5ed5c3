"""The runner's sleep with pruning pending while the store cannot be written: it waits
for the store's retry, it does not spin (a real Runner object, no loop started)."""

from __future__ import annotations

import time

from jobrunner import config, pruning, runner
from jobrunner.store.memory import MemoryStore


def test_pending_pruning_does_not_spin_while_the_store_is_unwritable(tmp_path):
    cfg = config.load(None, cwd=tmp_path)
    r = runner.Runner(cfg)
    r.store = MemoryStore()
    r.pruner = pruning.Pruner(r.store, cfg, r.log)
    r.pruner.ended("job")  # a run ended: its count limits are pending
    r._retry_at = time.monotonic() + 5  # the store cannot be written: retry in 5 s
    assert r._sleep_for() > 4
    r._retry_at = None
    assert r._sleep_for() == 0.0  # writable: the pruning is due at once
