"""The jobs folder watcher on a real folder with real inotify events."""

from __future__ import annotations

import os
import queue
import sys
import time

from jobrunner.watcher import Watcher


def test_a_rename_into_place_is_handed_on_at_once(tmp_path):
    # An editor's save: a temporary file renamed over the job file. Frequent thread
    # switches make watchdog's reader see the IN_MOVED_FROM alone now and then, which
    # held the save back half a second before MOVE_PAIRING.
    batches: queue.Queue[tuple[float, set]] = queue.Queue()
    watcher = Watcher(tmp_path, lambda paths: batches.put((time.monotonic(), paths)))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    watcher.start()
    try:
        slowest = 0.0
        for n in range(100):
            temp = tmp_path / ".a.yaml.tmp"
            temp.write_text(f"object_id: 50100\ndescription: save {n}\n")
            saved = time.monotonic()
            os.replace(temp, tmp_path / "a.yaml")
            at, paths = batches.get(timeout=5)
            assert tmp_path / "a.yaml" in paths
            slowest = max(slowest, at - saved)
            time.sleep(0.01)
    finally:
        sys.setswitchinterval(interval)
        watcher.stop()
    assert slowest < 0.25, f"a save was handed on after {slowest * 1000:.0f} ms"
