"""The syncer: the runner's group fsync in a thread of its own."""

from __future__ import annotations

import threading

import pytest

from jobrunner.syncer import Syncer, SyncFailed


def test_a_sync_runs_in_its_own_thread_and_wakes_the_loop_when_over():
    release = threading.Event()
    woken = threading.Event()
    threads = []

    def sync():
        threads.append(threading.current_thread())
        release.wait(5)

    syncer = Syncer(sync, woken.set)
    try:
        syncer.start(["run 1"])
        assert syncer.busy
        assert not syncer.done()  # the loop goes on meanwhile
        release.set()
        assert woken.wait(5)
        assert syncer.done()
        assert syncer.collect() == ["run 1"]  # the batch it covered, now durable
        assert not syncer.busy
        assert threads
        assert threads[0] is not threading.current_thread()
        woken.clear()
        syncer.start(["run 2"])  # the thread serves the next one too
        assert woken.wait(5)
        assert syncer.collect() == ["run 2"]
        assert len(threads) == 2
    finally:
        syncer.close()


def test_a_failed_sync_is_raised_in_the_loop():
    def sync():
        raise OSError(5, "Input/output error")

    syncer = Syncer(sync, lambda: None)
    try:
        syncer.start(["run 1"])
        with pytest.raises(SyncFailed) as failed:
            syncer.collect()
        assert failed.value.batch == ["run 1"]  # handed back: to sync again
        assert isinstance(failed.value.__cause__, OSError)
        assert not syncer.busy
    finally:
        syncer.close()


def test_close_waits_for_the_sync_under_way():
    done = []
    release = threading.Event()

    def sync():
        release.wait(5)
        done.append(True)

    syncer = Syncer(sync, lambda: None)
    syncer.start(["run 1"])
    threading.Timer(0.05, release.set).start()
    syncer.close()
    assert done == [True]


def test_the_thread_starts_with_the_first_sync_and_a_syncer_never_used_closes():
    before = threading.active_count()
    syncer = Syncer(lambda: None, lambda: None)
    assert threading.active_count() == before  # the start-up reconcile may still fork
    syncer.close()
    assert threading.active_count() == before
    used = Syncer(lambda: None, lambda: None)
    used.start(["run 1"])
    assert threading.active_count() == before + 1
    used.collect()
    used.close()
    assert threading.active_count() == before


def test_after_runs_in_the_thread_once_the_loop_has_its_batch_back():
    release = threading.Event()
    woken = threading.Event()
    ran = []

    def after():
        ran.append(threading.current_thread())
        release.wait(5)

    syncer = Syncer(lambda: None, woken.set, after=after)
    try:
        syncer.start(["run 1"])
        assert woken.wait(5)
        assert syncer.collect() == ["run 1"]  # durable while `after` still runs
        syncer.start(["run 2"])  # waits for `after`, then runs
        assert not syncer.done()
        release.set()
        assert syncer.collect() == ["run 2"]
        assert len(ran) == 2
        assert ran[0] is not threading.current_thread()
    finally:
        release.set()
        syncer.close()


def test_a_fault_of_after_is_raised_in_the_loop_and_a_failed_sync_skips_it():
    calls = []
    fail_sync = []

    def sync():
        if fail_sync:
            raise OSError(5, "Input/output error")

    def after():
        calls.append(1)
        raise RuntimeError("checkpoint fault")

    syncer = Syncer(sync, lambda: None, after=after)
    try:
        syncer.start(["run 1"])
        assert syncer.collect() == ["run 1"]
        syncer.start(["run 2"])  # the first sync after the fault tells of it
        with pytest.raises(RuntimeError, match="checkpoint fault"):
            syncer.collect()
        fail_sync.append(True)
        syncer.start(["run 3"])
        with pytest.raises(SyncFailed, match="sync of 1 failed") as failed:
            syncer.collect()
        assert str(failed.value.__cause__) == "[Errno 5] Input/output error"
        assert len(calls) == 2  # after each sync but the failed one
    finally:
        syncer.close()
