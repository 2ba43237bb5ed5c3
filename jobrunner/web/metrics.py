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
from jobrunner.web import exposition, runnerlog, source

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0)
_BOUNDS = tuple(timedelta(seconds=b) for b in BUCKETS)


class Tally:
    """What the log held, kept up to date by reading only what is new (taken together
    in the store, `Store.log_stats`): runs by entry and result, the durations of ended
    runs, each entry's last success."""

    def __init__(self) -> None:
        self.after = 0  # the highest log entry number seen
        self.open: set[int] = set()  # seen in process, not ended yet
        self.runs: Counter[tuple[str, str]] = Counter()
        self.within = [0] * len(BUCKETS)  # ended runs that took at most each bound
        self.count = 0
        self.total = timedelta()  # summed exactly (microseconds)
        self.last_success: dict[str, float] = {}

    def update(self, db: store.Store) -> None:
        rows = [row for no in sorted(self.open) if (row := db.get_log(no)) is not None]
        self.open = set()  # (a row gone meanwhile was deleted with its entry)
        for row in rows:
            if row.status is model.LogStatus.IN_PROCESS:
                self.open.add(row.entry_no)
            else:
                self._add(_stats(row))
        for stats in db.log_stats(after=self.after, bounds=_BOUNDS):
            self.after = max(self.after, stats.last_no)
            if stats.status is model.LogStatus.IN_PROCESS:
                self.open.add(stats.last_no)
            else:
                self._add(stats)

    def _add(self, stats: store.LogStats) -> None:
        self.runs[(stats.entry_id, stats.status.value)] += stats.count
        self.count += stats.ended
        self.total += stats.took
        for at, n in enumerate(stats.within):
            self.within[at] += n
        if stats.status is model.LogStatus.SUCCESS and stats.last_end is not None:
            end = stats.last_end.timestamp()
            self.last_success[stats.entry_id] = max(end, self.last_success.get(stats.entry_id, 0))


def _stats(row: model.LogEntry) -> store.LogStats:
    """One log entry as `Store.log_stats` would take it alone."""
    took = None if row.end_at is None else row.end_at - row.start_at
    return store.LogStats(
        entry_id=row.entry_id,
        status=row.status,
        count=1,
        last_no=row.entry_no,
        last_end=row.end_at,
        ended=int(took is not None),
        took=took or timedelta(),
        within=tuple(int(took is not None and took <= bound) for bound in _BOUNDS),
    )


class Collector:
    """The metrics of one store; a scrape at a time (the tallies are shared)."""

    def __init__(self, src: source.Source) -> None:
        self.source = src
        self.tally = Tally()
        self.events = runnerlog.RunnerLog(src.cfg.state_dir)
        self._lock = threading.Lock()
        self._last: tuple[tuple[int, source.RunnerState], bytes] | None = None
        self._sliced = exposition.Sliced()
        self._states: list[store.EntryState] = []
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def scrape(self) -> bytes:
        """The text format; the last one again while nothing changed (the store, the
        runner's state): formatting 40,000 samples takes longer than reading them, and
        of the families of a sample per entry only the slices that changed are
        formatted again (`exposition`)."""
        with self._lock:
            key = (self.source.version, self.source.runner())
            if self._last is not None and self._last[0] == key:
                return self._last[1]
            self.tally.update(self.source.reader())
            self.events.update()
            self._states = self.source.states()
            text = generate_latest(self.registry) + b"".join(self._per_entry())
            self._last = (key, text)
            return text

    def collect(self) -> Iterator[Metric]:
        """The families of a few samples (those of a sample per entry: `_per_entry`)."""
        t = self.tally
        cumulative = [(_bound(b), n) for b, n in zip(BUCKETS, t.within, strict=True)]
        yield HistogramMetricFamily(
            "jobrunner_run_duration_seconds",
            "How long ended runs took.",
            buckets=[*cumulative, ("+Inf", t.count)],
            sum_value=t.total / timedelta(seconds=1),
        )
        yield from _entries(self._states)
        yield _sessions(self.source.reader().running_sessions())
        yield _waiting(self._states)
        yield from self._runner_events()
        yield from _runner(self.source.runner())

    def _per_entry(self) -> Iterator[bytes]:
        t, sliced = self.tally, self._sliced
        yield sliced.text(_runs_family, sorted(t.runs.items()))
        yield sliced.text(
            _last_success_family, [((k,), at) for k, at in sorted(t.last_success.items())]
        )
        nexts = [((e.id,), e.earliest_start.timestamp()) for e in self._states if e.earliest_start]
        yield sliced.text(_next_run_family, nexts)

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


def _runs_family() -> Metric:
    return CounterMetricFamily(
        "jobrunner_runs", "Ended runs by entry and result.", labels=["entry_id", "result"]
    )


def _last_success_family() -> Metric:
    return GaugeMetricFamily(
        "jobrunner_last_success_timestamp_seconds",
        "When each entry's last successful run ended.",
        labels=["entry_id"],
    )


def _next_run_family() -> Metric:
    return GaugeMetricFamily(
        "jobrunner_next_run_timestamp_seconds", "When each entry runs next.", labels=["entry_id"]
    )


def _bound(value: float) -> str:
    return repr(float(value))


def _entries(entries: list[store.EntryState]) -> Iterator[Metric]:
    by_status = Counter(e.status.value for e in entries)
    status = GaugeMetricFamily("jobrunner_entries", "Entries by status.", labels=["status"])
    for s in model.EntryStatus:
        status.add_metric([s.value], by_status.get(s.value, 0))
    yield status
    yield GaugeMetricFamily(
        "jobrunner_rejected_job_files",
        "Entries whose job file is rejected (they keep their last good definition).",
        value=sum(1 for e in entries if e.rejected),
    )


def _sessions(running: set[str]) -> Metric:
    return GaugeMetricFamily(
        "jobrunner_sessions_in_process", "Sessions running now.", value=len(running)
    )


def _waiting(entries: list[store.EntryState]) -> Metric:
    categories = sorted({e.category for e in entries if e.category})
    family = GaugeMetricFamily(
        "jobrunner_waiting_entries", "Entries waiting for their category.", labels=["category"]
    )
    waiting = Counter(e.category for e in entries if e.status is model.EntryStatus.WAITING)
    for category in categories:
        family.add_metric([category], waiting.get(category, 0))
    return family


def _runner(state: source.RunnerState) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "jobrunner_runner_up", "Whether a runner holds the state.", value=int(state.up)
    )
    yield GaugeMetricFamily(
        "jobrunner_runners_up",
        "The runners up (a store shared by several: those whose leases hold).",
        value=state.count,
    )
    if state.since is not None:
        yield GaugeMetricFamily(
            "jobrunner_runner_start_time_seconds",
            "When the running runner started.",
            value=state.since.timestamp(),
        )
