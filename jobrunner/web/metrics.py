"""`GET /metrics`: the Prometheus text format (prometheus_client), computed at each
scrape from the store, so nothing in the runner exports anything.

Counters (runs, the duration histogram) are derived from the store's log: the first
scrape counts every log entry the store holds, each later one adds only the log entries
written or ended since. So they survive a restart of the web process (re-derived from
the store); pruning the log never lowers them while the process runs, and a restart
after a prune starts them lower, which Prometheus' rate() treats as a counter reset.
Misfires and platform retries leave no row in the store; they come from the runner's
own event file (`runnerlog`)."""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from jobrunner import model, store
from jobrunner.web import runnerlog, source

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0)
_FIRST_BATCH = 500


class Tally:
    """What the log held, kept up to date by reading only what is new: runs by entry
    and result, the durations of ended runs, each entry's last success."""

    def __init__(self) -> None:
        self.after = 0  # the highest log entry number seen
        self.open: set[int] = set()  # seen in process, not ended yet
        self.runs: Counter[tuple[str, str]] = Counter()
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.total_s = 0.0
        self.last_success: dict[str, float] = {}

    def update(self, db: store.Store) -> None:
        rows = [row for no in sorted(self.open) if (row := db.get_log(no)) is not None]
        self.open = set()  # (a row gone meanwhile was deleted with its entry)
        new = newer(db, self.after)
        if new:
            self.after = max(row.entry_no for row in new)
        for row in [*rows, *new]:
            if row.status is model.LogStatus.IN_PROCESS:
                self.open.add(row.entry_no)
            else:
                self._count(row)

    def _count(self, row: model.LogEntry) -> None:
        self.runs[(row.entry_id, row.status.value)] += 1
        if row.end_at is None:
            return
        took = (row.end_at - row.start_at) / timedelta(seconds=1)
        self.count += 1
        self.total_s += took
        at = bisect.bisect_left(BUCKETS, took)
        if at < len(BUCKETS):
            self.buckets[at] += 1
        if row.status is model.LogStatus.SUCCESS:
            end = row.end_at.timestamp()
            self.last_success[row.entry_id] = max(end, self.last_success.get(row.entry_id, 0))


def newer(db: store.Store, after: int) -> list[model.LogEntry]:
    """The log entries numbered above `after` (all of them the first time)."""
    if after == 0:
        return db.list_log()
    limit = _FIRST_BATCH
    while True:
        rows = db.list_log(limit=limit)
        if len(rows) < limit or rows[-1].entry_no <= after:
            return [row for row in rows if row.entry_no > after]
        limit *= 8


class Collector:
    """The metrics of one store; a scrape at a time (the tallies are shared)."""

    def __init__(self, src: source.Source) -> None:
        self.source = src
        self.tally = Tally()
        self.events = runnerlog.RunnerLog(src.cfg.state_dir)
        self._lock = threading.Lock()
        self._last: tuple[tuple[int, source.RunnerState], bytes] | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def scrape(self) -> bytes:
        """The text format; the last one again while nothing changed (the store, the
        runner's state): formatting 30,000 samples takes longer than reading them."""
        with self._lock:
            key = (self.source.version, self.source.runner())
            if self._last is not None and self._last[0] == key:
                return self._last[1]
            text = generate_latest(self.registry)
            self._last = (key, text)
            return text

    def collect(self) -> Iterator[Metric]:
        db = self.source.reader()
        entries = self.source.entries()
        self.tally.update(db)
        self.events.update()
        yield from self._runs()
        yield from _entries(entries)
        yield from _sessions(entries, db.list_tasks())
        yield _waiting(entries)
        yield from self._runner_events()
        yield from _runner(self.source.runner())

    def _runs(self) -> Iterator[Metric]:
        t = self.tally
        runs = CounterMetricFamily(
            "jobrunner_runs", "Ended runs by entry and result.", labels=["entry_id", "result"]
        )
        for (entry_id, result), n in sorted(t.runs.items()):
            runs.add_metric([entry_id, result], n)
        yield runs
        cumulative, total = [], 0
        for bound, n in zip(BUCKETS, t.buckets, strict=True):
            total += n
            cumulative.append((_bound(bound), total))
        yield HistogramMetricFamily(
            "jobrunner_run_duration_seconds",
            "How long ended runs took.",
            buckets=[*cumulative, ("+Inf", t.count)],
            sum_value=t.total_s,
        )
        last = GaugeMetricFamily(
            "jobrunner_last_success_timestamp_seconds",
            "When each entry's last successful run ended.",
            labels=["entry_id"],
        )
        for entry_id, at in sorted(t.last_success.items()):
            last.add_metric([entry_id], at)
        yield last

    def _runner_events(self) -> Iterator[Metric]:
        for name, text, counts in (
            ("jobrunner_misfires", "Occurrences skipped as too late.", self.events.misfires),
            (
                "jobrunner_platform_retries",
                "Runs re-run on the platform retry profile.",
                self.events.platform_retries,
            ),
        ):
            family = CounterMetricFamily(name, text, labels=["entry_id"])
            for entry_id, n in sorted(counts.items()):
                family.add_metric([entry_id], n)
            yield family


def _bound(value: float) -> str:
    return repr(float(value))


def _entries(entries: list[model.Entry]) -> Iterator[Metric]:
    by_status = Counter(e.status.value for e in entries)
    status = GaugeMetricFamily("jobrunner_entries", "Entries by status.", labels=["status"])
    for s in model.EntryStatus:
        status.add_metric([s.value], by_status.get(s.value, 0))
    yield status
    following = GaugeMetricFamily(
        "jobrunner_next_run_timestamp_seconds",
        "When each entry runs next.",
        labels=["entry_id"],
    )
    for e in entries:
        if e.earliest_start is not None:
            following.add_metric([e.id], e.earliest_start.timestamp())
    yield following
    yield GaugeMetricFamily(
        "jobrunner_rejected_job_files",
        "Entries whose job file is rejected (they keep their last good definition).",
        value=sum(1 for e in entries if e.rejected),
    )


def _sessions(entries: list[model.Entry], tasks: list[model.Task]) -> Iterator[Metric]:
    running = {e.session_id for e in entries if e.session_id}
    running |= {t.session_id for t in tasks if t.session_id}
    yield GaugeMetricFamily(
        "jobrunner_sessions_in_process", "Sessions running now.", value=len(running)
    )


def _waiting(entries: list[model.Entry]) -> Metric:
    categories = sorted({e.spec.category for e in entries if e.spec.category})
    family = GaugeMetricFamily(
        "jobrunner_waiting_entries", "Entries waiting for their category.", labels=["category"]
    )
    waiting = Counter(e.spec.category for e in entries if e.status is model.EntryStatus.WAITING)
    for category in categories:
        family.add_metric([category], waiting.get(category, 0))
    return family


def _runner(state: source.RunnerState) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "jobrunner_runner_up", "Whether a runner holds the state.", value=int(state.up)
    )
    if state.since is not None:
        yield GaugeMetricFamily(
            "jobrunner_runner_start_time_seconds",
            "When the running runner started.",
            value=state.since.timestamp(),
        )
