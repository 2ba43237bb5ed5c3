"""Alert delivery: `alerts`' decisions carried out off the runner's loop.

The runner calls `run_ended` (it decides, throttles and queues: it never waits on a
network) and `collect` on each pass (it logs `notify_sent` / `notify_failed` for the
deliveries done). One thread delivers, in order, each message retried with doubling
delays; what it cannot deliver is logged, never dropped silently, also at stop.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobrunner import alerts, model, store
from jobrunner.reports import outputs as reports_outputs

if TYPE_CHECKING:
    from email.message import EmailMessage

TIMEOUT = 10.0  # seconds one delivery may take
STOP_WAIT = 5.0  # seconds the runner's stop waits for the deliveries queued


@dataclass(frozen=True, slots=True)
class _Job:
    channel: alerts.Channel
    message: dict[str, Any]
    attachment: reports_outputs.Kept | None = None  # a report run's document (`attach`)


class Alerts:
    def __init__(
        self,
        settings: alerts.Settings,
        st: store.Store,
        wake: Callable[[], None],
        log: Any,
        *,
        outputs: reports_outputs.Outputs | None = None,
    ) -> None:
        self.settings, self.store, self.wake, self.log = settings, st, wake, log
        self.outputs = outputs
        self._gates: dict[tuple[str, str], alerts.Gate] = {}
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._done: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reconfigure(self, settings: alerts.Settings) -> None:
        self.settings = settings

    def run_ended(self, entry: model.Entry | None, log: model.LogEntry, final: bool) -> None:
        if not self.settings.channels:
            return
        run = alerts.RunEnd(
            entry_id=log.entry_id,
            ok=log.status is model.LogStatus.SUCCESS,
            final=final,
            at=log.end_at or log.start_at,
            error=log.error_message,
            attempt=log.attempt,
            log_no=log.entry_no,
            description=entry.spec.description if entry else log.description,
            failed_before=self._failed_before(log),
        )
        for channel in self.settings.channels:
            why = alerts.reason(channel, run)
            if why is None:
                continue
            key = (run.entry_id, channel.name)
            before = self._gates.get(key)
            send, self._gates[key] = alerts.throttle(before, run.at, channel.throttle)
            if send:
                held = before.held if before else 0
                msg = alerts.message(run, why, self.settings.host, held)
                self._submit(self._job(channel, msg, log))

    def _job(self, channel: alerts.Channel, msg: dict[str, Any], log: model.LogEntry) -> _Job:
        """The delivery; with the run's document when the channel attaches one."""
        kept = self.outputs.find(log.entry_no) if channel.attach and self.outputs else None
        if kept is None:
            return _Job(channel, msg)
        return _Job(channel, {**msg, "output": kept.name}, kept)

    def item_failed_finally(self, failure: dict[str, Any]) -> None:
        """A work item failed for good (its event's fields, with `at`): the channels
        whose `on` has item_failed_finally get it, throttled per entry and channel."""
        for channel in self.settings.channels:
            if not alerts.item_wanted(channel, failure["entry_id"]):
                continue
            key = (f"{failure['entry_id']}\0items", channel.name)
            before = self._gates.get(key)
            send, self._gates[key] = alerts.throttle(before, failure["at"], channel.throttle)
            if send:
                held = before.held if before else 0
                msg = alerts.item_message(failure, self.settings.host, held)
                self._submit(_Job(channel, msg))

    def _failed_before(self, log: model.LogEntry) -> int:
        earlier = self.store.list_log(entry_id=log.entry_id, limit=self.settings.lookback + 1)
        count = 0
        for row in earlier:
            if row.entry_no == log.entry_no or row.status is model.LogStatus.IN_PROCESS:
                continue
            if row.status is not model.LogStatus.ERROR:
                break
            count += 1
        return count

    def _submit(self, job: _Job) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._deliver_all, name="alerts", daemon=True)
            self._thread.start()
        self._jobs.put(job)

    def collect(self) -> None:
        """Log the deliveries done since the last call (the runner's thread)."""
        with self._lock:
            done, self._done = self._done, []
        for name, fields in done:
            if name == "notify_sent":
                self.log.info("notify_sent", **fields)
            else:
                self.log.warning("notify_failed", **fields)

    def close(self) -> None:
        """Wait a little for the deliveries queued; log the rest as failed."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(STOP_WAIT)
            self._stop.set()
            self._thread.join(TIMEOUT + 1)
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._record("notify_failed", job, 0, "the runner stopped before delivery")
        self.collect()

    # --- the delivery thread ----------------------------------------------------------------

    def _deliver_all(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._deliver(job)
            self.wake()

    def _deliver(self, job: _Job) -> None:
        delay = self.settings.retry_delay.total_seconds()
        tries = self.settings.retries + 1
        error = ""
        for attempt in range(1, tries + 1):
            try:
                send(job.channel, job.message, self._attachment(job))
            except Exception as exc:  # every failure of a delivery is logged, with its cause
                error = f"{type(exc).__name__}: {exc}"
            else:
                self._record("notify_sent", job, attempt)
                return
            if attempt < tries and self._stop.wait(delay):
                break
            delay *= 2
        self._record("notify_failed", job, attempt, error)

    def _attachment(self, job: _Job) -> Path | None:
        """The file of the job's document on this machine (a store's: a copy made now)."""
        if job.attachment is None or self.outputs is None:
            return None
        return self.outputs.local(job.attachment)

    def _record(self, name: str, job: _Job, tries: int, error: str = "") -> None:
        fields = {
            "channel": job.channel.name,
            "kind": job.channel.kind,
            "entry_id": job.message["entry_id"],
            "reason": job.message["event"],
            "log_entry_no": job.message["log_entry_no"],
            "tries": tries,
            "held_back": job.message["held_back"],
        }
        if error:
            fields["error"] = error
        with self._lock:
            self._done.append((name, fields))


def send(channel: alerts.Channel, msg: dict[str, Any], attachment: Path | None = None) -> None:
    """One delivery; raises on any failure (a document pruned before it went, too)."""
    if attachment is not None and channel.kind == "command":
        msg = {**msg, "output_path": str(attachment)}
    body = json.dumps(msg).encode()
    if channel.kind == "webhook":
        _post(channel, body)
    elif channel.kind == "email":
        _mail(channel, msg, attachment)
    else:
        subprocess.run(
            channel.argv,
            input=body,
            timeout=TIMEOUT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


# The HTTP and mail libraries (and ssl, which they bring) are imported on the first
# delivery that needs them: most runners never send one, and they cost each ~10 MiB.


def _post(channel: alerts.Channel, body: bytes) -> None:
    import urllib.request

    request = urllib.request.Request(
        channel.url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "jobrunner"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        response.read()


def _mail(channel: alerts.Channel, msg: dict[str, Any], attachment: Path | None) -> None:
    import smtplib
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["Subject"] = alerts.subject(msg)
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.to)
    mail.set_content(alerts.text(msg))
    if attachment is not None:
        _attach(mail, attachment)
    host, _, port = channel.server.partition(":")
    with smtplib.SMTP(host, int(port or 25), timeout=TIMEOUT) as smtp:
        smtp.send_message(mail)


_TYPES = {
    "csv": ("text", "csv"),
    "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pdf": ("application", "pdf"),
}


def _attach(mail: EmailMessage, path: Path) -> None:
    maintype, subtype = _TYPES.get(path.suffix[1:], ("application", "octet-stream"))
    mail.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
