"""Alerts through the real `jobrunner run`: a webhook to a local HTTP server, email to a
local SMTP server, a command, retries and `notify_failed`, throttling with a count."""

from __future__ import annotations

import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.e2e.runner_env import named

J = "tests.entrypoints.jobs"


@pytest.fixture
def hook():
    """A local webhook: the JSON bodies posted to it, in order."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp():
    """A local SMTP server: the messages it got, as (envelope from, to, text)."""
    got: list[tuple[str, list[str], str]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.append((envelope.mail_from, envelope.rcpt_tos, envelope.content.decode()))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=closed_port())
    controller.start()
    yield f"127.0.0.1:{controller.port}", got
    controller.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_final_failure_goes_to_webhook_email_and_command(env, hook, smtp, tmp_path):
    url, posted = hook
    server, mails = smtp
    out = tmp_path / "paged.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    env.configure(
        "notify:\n"
        "  host: web-01\n"
        "  channels:\n"
        f"    hook: {{webhook: '{url}'}}\n"
        f"    mail: {{email: {{to: ops@example.com, from: jr@example.com, server: '{server}'}}}}\n"
        f"    page: {{command: [{sys.executable!r}, '-c', {script!r}]}}\n"
    )
    env.job("nightly", f"object_id: {J}:fail\nparameter_string: x\ndescription: Nightly sync\n")
    env.job("fine", f"object_id: {J}:ok\n")  # succeeds: no rule for it
    code, found, _ = env.run()
    assert code == 0
    (log,) = env.log("nightly")
    (msg,) = posted
    assert msg == {
        "event": "final_failure",
        "entry_id": "nightly",
        "description": "Nightly sync",
        "status": "error",
        "error": "boom: x",
        "attempt": 1,
        "log_entry_no": log.entry_no,
        "consecutive_failures": 1,
        "host": "web-01",
        "at": msg["at"],
        "held_back": 0,
    }
    ((sender, to, text),) = mails
    assert (sender, to) == ("jr@example.com", ["ops@example.com"])
    assert "Subject: jobrunner: nightly failed (no retry left) on web-01" in text
    assert "error: boom: x" in text
    assert f"log entry: {log.entry_no}" in text
    assert json.loads(out.read_text()) == msg
    sent = named(found, "notify_sent")
    assert sorted(e["channel"] for e in sent) == ["hook", "mail", "page"]
    assert {(e["entry_id"], e["reason"], e["tries"]) for e in sent} == {
        ("nightly", "final_failure", 1)
    }


def test_a_delivery_that_fails_for_good_is_logged_after_its_retries(env, hook):
    url, posted = hook
    env.configure(
        "notify:\n"
        "  retries: 2\n"
        "  retry_delay: 50ms\n"
        "  channels:\n"
        f"    down: {{webhook: 'http://127.0.0.1:{closed_port()}/x'}}\n"
        f"    up: {{webhook: '{url}'}}\n"
    )
    env.job("nightly", f"object_id: {J}:fail\n")
    code, found, _ = env.run()
    assert code == 0
    (failed,) = named(found, "notify_failed")
    assert (failed["channel"], failed["tries"], failed["level"]) == ("down", 3, "warning")
    assert "Connection refused" in failed["error"] or "URLError" in failed["error"]
    assert [e["channel"] for e in named(found, "notify_sent")] == ["up"]
    assert len(posted) == 1


def test_consecutive_failures_recovery_and_throttle(env, hook):
    url, posted = hook
    # flaky fails until its 3rd run, retried by max_retries: 2 failures, then a success
    env.configure(
        "notify:\n"
        "  channels:\n"
        f"    hook: {{webhook: '{url}', on: [recovery], after_failures: 2, throttle: 0}}\n"
        f"    quiet: {{webhook: '{url}', on: [recovery], after_failures: 1, throttle: 1h}}\n"
    )
    env.job("f", f"object_id: {J}:flaky\nparameter_string: '2'\nmax_retries: 2\n")
    code, found, _ = env.run()
    assert code == 0
    by = [(m["event"], m["consecutive_failures"], m["held_back"]) for m in posted]
    # hook: the 2nd failure, then the recovery; quiet: the 1st failure only (then held back)
    assert sorted(by) == sorted([("failures", 2, 0), ("recovery", 0, 0), ("failures", 1, 0)])
    assert len(named(found, "notify_sent")) == 3


def test_a_work_item_failed_for_good_goes_to_the_channels_that_ask(env, hook, smtp):
    url, posted = hook
    server, mails = smtp
    env.configure(
        "notify:\n"
        "  host: web-01\n"
        "  channels:\n"
        f"    hook: {{webhook: '{url}', on: [item_failed_finally]}}\n"
        f"    mail: {{email: {{to: ops@example.com, server: '{server}'}},"
        " on: [final_failure, item_failed_finally]}\n"
    )
    env.job(
        "orders",
        "object_id: tests.entrypoints.items_jobs:fails_once_for_good\n",
    )
    code, found, _ = env.run()
    assert code == 0
    (msg,) = posted
    assert msg == {
        "event": "item_failed_finally",
        "entry_id": "orders",
        "description": "",
        "status": "failed",
        "error": "bad order",
        "attempt": 1,
        "log_entry_no": None,
        "consecutive_failures": 0,
        "host": "web-01",
        "at": msg["at"],
        "held_back": 0,
        "queue": "orders",
        "key": "SO-1",
    }
    ((_, _, text),) = mails
    assert "Subject: jobrunner: orders item SO-1 of queue orders failed (no attempt left)" in text
    assert "item: SO-1 (queue orders)" in text
    assert "log entry:" not in text
    sent = named(found, "notify_sent")
    assert {(e["channel"], e["reason"]) for e in sent} == {
        ("hook", "item_failed_finally"),
        ("mail", "item_failed_finally"),
    }


def test_a_channel_that_attaches_sends_a_reports_document(env, smtp, tmp_path):
    """A report "to the inbox every Monday": the email carries the document; a command
    channel's JSON names the file and where it is."""
    import email
    import email.policy
    import io

    import openpyxl

    server, mails = smtp
    out = tmp_path / "paged.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    env.configure(
        "notify:\n"
        "  channels:\n"
        f"    inbox: {{email: {{to: sales@example.com, server: '{server}'}},"
        " on: [success], attach: true, entries: [weekly]}\n"
        f"    page: {{command: [{sys.executable!r}, '-c', {script!r}], on: [success],"
        " attach: true, entries: [weekly]}\n"
        f"    plain: {{email: {{to: ops@example.com, server: '{server}'}}, on: [success]}}\n"
    )
    env.job(
        "weekly",
        "object_type: report\nobject_id: tests.entrypoints.reports:sales\n"
        "report_output: xlsx\ndescription: Weekly sales\n",
    )
    code, found, _ = env.run()
    assert code == 0
    (log,) = env.log("weekly")
    by_rcpt = {tuple(to): text for _, to, text in mails}
    mail = email.message_from_string(by_rcpt[("sales@example.com",)], policy=email.policy.default)
    (attachment,) = mail.iter_attachments()
    name = attachment.get_filename()
    assert name.startswith(f"weekly_{log.entry_no}_")
    assert name.endswith(".xlsx")
    assert attachment.get_content_type() == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    assert next(book.active.values) == ("region", "orders", "amount", "closed", "day")
    assert f"output: {name} (attached)" in mail.get_body(("plain",)).get_content()
    plain = email.message_from_string(by_rcpt[("ops@example.com",)], policy=email.policy.default)
    assert list(plain.iter_attachments()) == []
    paged = json.loads(out.read_text())
    assert paged["output"] == name
    assert paged["output_path"] == str(env.root / ".jobrunner" / "reports" / name)
    assert sorted(e["channel"] for e in named(found, "notify_sent")) == ["inbox", "page", "plain"]
