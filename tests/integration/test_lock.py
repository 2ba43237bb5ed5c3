"""One runner per state folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from jobrunner.lock import RunnerLock, RunnerLocked


def test_second_holder_is_refused_with_the_holders_pid(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from jobrunner.lock import RunnerLock
        RunnerLock(Path({str(tmp_path)!r})).acquire()
        print("locked", flush=True)
        time.sleep(30)
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunnerLocked, match=f"another runner \\(pid {holder.pid}\\)"):
            RunnerLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    with RunnerLock(tmp_path) as lock:  # the dead holder's lock went with it
        assert lock.path.read_text().strip() == str(os.getpid())
