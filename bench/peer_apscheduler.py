"""APScheduler 3.x running the same no-op jobs (run inside the bench's own environment).

Usage: python peer_apscheduler.py memory|sqlite COUNT DB_PATH [process|thread] -> prints
completions/s and the Python version it ran on. `process`: a pool of 2 processes (one per
core here); `thread`: APScheduler's default executor (a pool of 10 threads).
"""

from __future__ import annotations

import platform
import sys
import threading
import time
from datetime import datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.executors.pool import ProcessPoolExecutor, ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler


def noop():
    pass


def main():
    kind, count, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    pool = sys.argv[4] if len(sys.argv) > 4 else "process"
    store = MemoryJobStore() if kind == "memory" else SQLAlchemyJobStore(url=f"sqlite:///{path}")
    scheduler = BackgroundScheduler(
        jobstores={"default": store},
        executors={
            "default": ProcessPoolExecutor(2) if pool == "process" else ThreadPoolExecutor()
        },
        job_defaults={"misfire_grace_time": 3600},
    )
    done = threading.Event()
    finished = []

    def listener(event):
        finished.append(time.perf_counter())
        if len(finished) == count:
            done.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start(paused=True)
    due = datetime.now() + timedelta(seconds=2)
    for n in range(count):
        scheduler.add_job(noop, "date", run_date=due, id=f"j{n}")
    scheduler.resume()
    wait = (due - datetime.now()).total_seconds()
    time.sleep(max(0.0, wait))
    start = time.perf_counter()
    done.wait(600)
    scheduler.shutdown(wait=False)
    print(count / (max(finished) - start), platform.python_version())


if __name__ == "__main__":
    main()
