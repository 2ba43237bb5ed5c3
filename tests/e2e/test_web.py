"""`jobrunner web` as a real process on a real state: the pages, the API's shapes
against the CLI's --json, the actions and their refusals, /metrics, /healthz and the
live event stream."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.web_site import CAROL_TOKEN, PASSWORD, Site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("web"))
    s.make_state()
    s.start()
    yield s
    s.stop()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def logged_in(site: Site) -> httpx.Client:
    browser = site.client(token=None)
    page = browser.get("/login").text
    done = browser.post(
        "/login",
        data={"csrf": csrf_of(page), "user": "alice", "password": PASSWORD, "next": "/"},
    )
    assert done.status_code == 303
    assert "jobrunner_session" in browser.cookies
    return browser


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/entries/inbox-poll",
        "/log",
        "/sessions",
        "/tasks",
        "/categories",
        "/runners",
        "/login",
    ],
)
def test_web_pages_answer_without_login_on_the_loopback(site, path):
    page = site.client(token=None).get(path)
    assert page.status_code == 200
    assert "No runner is running" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_web_api_shapes_are_the_clis(site):
    api = site.client(token=None)
    assert api.get("/api/entries").json() == site.json("list")
    assert api.get("/api/entries/loud").json() == site.json("show", "loud")
    assert api.get("/api/log", params={"limit": 50}).json() == site.json_lines(
        "log", "--limit", "50"
    )
    assert api.get("/api/sessions").json() == site.json("sessions")
    assert api.get("/api/tasks").json() == site.json("task", "list")
    assert api.get("/api/tasks", params={"all": 1}).json() == site.json("task", "list", "--all")


def test_web_filters_and_pages(site):
    api = site.client(token=None)
    assert [e["id"] for e in api.get("/api/entries", params={"q": "CUSTOMER"}).json()] == [
        "nightly-customer-sync"
    ]
    crm = api.get("/api/entries", params={"category": "CRM", "limit": 2, "offset": 1}).json()
    assert [e["id"] for e in crm] == ["loud", "nightly-customer-sync"]
    failed = api.get("/api/log", params={"status": "error", "since": "-1h"}).json()
    assert {r["entry_id"] for r in failed} == {"loud"}
    bad = api.get("/api/log", params={"since": "yesterday-ish"})
    assert bad.status_code == 400
    assert "since" in bad.json()["error"]
    page = api.get("/", params={"status": "error"}).text
    assert "loud" in page
    assert "inbox-poll" not in page


def test_web_escapes_what_jobs_print(site):
    page = site.client(token=None).get("/entries/loud").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;document.title" in page
    assert "<script>document.title" not in page
    assert "<b>not bold</b>" not in page


def test_web_entries_page_flags_rejected_files(site):
    page = site.client(token=None).get("/").text
    row = page.split('href="/entries/later-bad"', 1)[1].split("</tr>", 1)[0]
    rejected = site.json("show", "later-bad")["rejected"]
    assert "colour" in rejected
    assert '<div class="rejected"' in row
    assert rejected.replace("'", "&#39;") in row
    assert "1 rejected file" in page


def test_web_categories_show_who_runs_and_waits(site):
    found = site.client(token=None).get("/api/categories").json()
    assert found == [
        {
            "category": "CRM",
            "entries": 3,
            "paused": None,
            "in_process": [],
            "waiting": [],
        },
        {
            "category": "SALES",  # the order-import demo
            "entries": 1,
            "paused": None,
            "in_process": [],
            "waiting": [],
        },
    ]


def test_web_action_needs_a_user(site):
    before = site.json("show", "inbox-poll")["status"]  # (the demo job may report inactivity)
    anonymous = site.client(token=None)
    refused = anonymous.post("/api/entries/inbox-poll/status", json={"status": "on_hold"})
    assert refused.status_code == 401
    page = anonymous.get("/entries/inbox-poll").text
    assert 'disabled title="log in to act"' in page
    assert site.json("show", "inbox-poll")["status"] == before


def test_web_action_without_permission_is_refused(site):
    before = site.json("show", "inbox-poll")["status"]  # (the demo job may report inactivity)
    carol = site.client(token=CAROL_TOKEN)
    refused = carol.post("/api/entries/inbox-poll/trigger")
    assert refused.status_code == 403
    assert refused.json() == {"error": "User 'carol' has no permission to run codeunit 50110."}
    assert site.json("show", "inbox-poll")["status"] == before
    assert carol.post("/api/entries/none/trigger").status_code == 404


def test_web_forged_form_is_refused(site):
    before = site.json("show", "inbox-poll")["status"]  # (the demo job may report inactivity)
    browser = logged_in(site)
    forged = browser.post("/entries/inbox-poll/on_hold", data={"csrf": "0" * 64})
    assert forged.status_code == 403
    missing = browser.post("/entries/inbox-poll/on_hold")
    assert missing.status_code == 403
    cookie_only = browser.post("/api/entries/inbox-poll/status", json={"status": "on_hold"})
    assert cookie_only.status_code == 403
    assert site.json("show", "inbox-poll")["status"] == before


def test_web_set_on_hold_and_ready_as_the_cli(site):
    browser = logged_in(site)
    token = csrf_of(browser.get("/entries/nightly-customer-sync").text)
    done = browser.post("/entries/nightly-customer-sync/on_hold", data={"csrf": token})
    assert done.status_code == 303
    assert site.json("show", "nightly-customer-sync")["status"] == "on_hold"
    back = site.client().post("/api/entries/nightly-customer-sync/status", json={"status": "ready"})
    assert back.status_code == 200
    assert back.json()["changed"] is True
    (listed,) = [e for e in site.json("list") if e["id"] == "nightly-customer-sync"]
    assert back.json()["entry"] == listed
    assert listed["status"] == "ready"


def test_web_trigger_without_a_runner_waits_for_the_next(site):
    asked = site.client().post("/api/entries/report-rotation/trigger")
    assert asked.status_code == 200
    assert asked.json()["by"] == "ops"
    assert asked.json()["runner"] is False
    assert site.json("show", "report-rotation")["status"] == "ready"
    again = site.client().post("/api/entries/report-rotation/trigger")
    assert again.status_code == 409
    assert "already has a run asked for by ops" in again.json()["error"]


def test_web_mark_error(site):
    stuck = site.json_lines("log", "stuck")[0]
    marked = site.client().post(f"/api/log/{stuck['entry_no']}/mark-error")
    assert marked.status_code == 200
    assert marked.json()["message"] == "Marked as an error by ops."
    assert site.json_lines("log", "stuck")[0]["status"] == "error"
    again = site.client().post(f"/api/log/{stuck['entry_no']}/mark-error")
    assert again.status_code == 409


def test_web_metrics_come_from_the_store(site):
    text = site.client(token=None).get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    runs = {
        (s.labels["entry_id"], s.labels["result"]): s.value
        for s in families["jobrunner_runs"].samples
        if s.name == "jobrunner_runs_total"
    }
    assert runs[("loud", "error")] >= 1
    assert runs[("reminder-once", "success")] == 1  # (a one-off: runs at any hour)
    entries = {s.labels["status"]: s.value for s in families["jobrunner_entries"].samples}
    assert entries["error"] >= 1
    assert sum(entries.values()) == len(site.json("list"))
    assert families["jobrunner_runner_up"].samples[0].value == 0
    assert families["jobrunner_rejected_job_files"].samples[0].value == 1
    assert "jobrunner_run_duration_seconds" in families
    nexts = {s.labels["entry_id"] for s in families["jobrunner_next_run_timestamp_seconds"].samples}
    assert "month-end-close" in nexts
    assert {"jobrunner_misfires", "jobrunner_platform_retries"} <= set(families)


def test_web_health_says_no_runner(site):
    health = site.client(token=None).get("/healthz")
    assert health.status_code == 503
    assert health.json()["store"] == {"reachable": True}
    assert health.json()["runner"]["up"] is False
    assert site.client(token=None).get("/healthz?check=store").status_code == 200


def test_web_a_local_store_has_one_runner_and_no_nodes(site):
    client = site.client(token=None)
    runner = client.get("/api/status").json()["runner"]
    assert (runner["runners"], runner["host"]) == (0, None)
    assert client.get("/api/nodes").json() == []
    assert "a local store: one runner works on it" in client.get("/runners").text
    assert 'href="/runners"' not in client.get("/").text  # (only a shared store's)


def test_web_pages_follow_changes_as_they_happen(site):
    """A change made by the CLI reaches an open event stream, with no poll anywhere."""
    seen: list[str] = []

    def listen() -> None:
        with (
            httpx.Client(base_url=site.url, timeout=10) as c,
            c.stream("GET", "/events") as stream,
        ):
            for line in stream.iter_lines():
                seen.append(line)
                if line.startswith("event: change"):
                    return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    deadline = time.monotonic() + 5
    while not any(line.startswith("event: hello") for line in seen):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    site.cli("set-status", "month-end-close", "on_hold")
    reader.join(timeout=5)
    assert any(line.startswith("event: change") for line in seen)


def test_web_refuses_to_listen_beyond_the_loopback_without_authentication(tmp_path):
    s = Site(tmp_path, config="timezone: UTC\n")
    proc = s.cli("web", "--listen", "0.0.0.0:8750", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("jobrunner: refusing to listen on 0.0.0.0:8750 without auth")
    assert s.proc is None


def test_web_beyond_the_loopback_reads_need_a_login(site):
    """Listening on every address: the same pages and API need a user."""
    wide = Site(site.root, copy=False)
    wide.start("--listen", f"0.0.0.0:{wide.port}")
    try:
        anonymous = wide.client(token=None)
        assert anonymous.get("/api/entries").status_code == 401
        assert anonymous.get("/metrics").status_code == 401
        to_login = anonymous.get("/log")
        assert (to_login.status_code, to_login.headers["location"]) == (303, "/login?next=%2Flog")
        assert anonymous.get("/login").status_code == 200
        assert wide.client().get("/api/entries").json() == site.json("list")
        assert wide.client(token="wrong-token-0123456789").get("/api/entries").status_code == 401
        assert logged_in(wide).get("/").status_code == 200
    finally:
        wide.stop()


def test_web_with_a_runner_up(site):
    """Health and metrics see the runner; run once now goes through it at once."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "jobrunner", "run"],
        cwd=site.root,
        env=site.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        api = site.client()
        deadline = time.monotonic() + 20
        while api.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline, "the runner never came up"
            time.sleep(0.05)
        assert api.get("/healthz").json()["runner"]["pid"] == runner.pid
        families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics").text)}
        assert families["jobrunner_runner_up"].samples[0].value == 1
        assert families["jobrunner_runner_start_time_seconds"].samples[0].value > time.time() - 60
        asked = api.post("/api/entries/month-end-close/trigger")
        assert asked.json()["runner"] is True
        while not site.json_lines("log", "month-end-close"):
            assert time.monotonic() < deadline + 20, "the triggered run never ran"
            time.sleep(0.1)
    finally:
        runner.send_signal(signal.SIGTERM)
        _, err = runner.communicate(timeout=30)
    assert "Traceback" not in err
    assert site.client().get("/healthz").status_code == 503


def test_web_trusts_the_proxy_header_only_from_a_trusted_proxy(tmp_path):
    proxied = Site(tmp_path, config="timezone: UTC\nweb:\n  proxy_user_header: X-Remote-User\n")
    proxied.cli("run", "--until-idle")
    proxied.start()
    try:
        client = proxied.client(token=None)
        # a proxy on this host that says who the user is and whom it forwards for
        named = {"x-remote-user": "dana", "x-forwarded-for": "203.0.113.5"}
        assert "<span>dana</span>" in client.get("/", headers=named).text
        refused = client.post("/api/entries/report-rotation/trigger", headers=named)
        assert refused.status_code == 403  # a browser's credentials need the form token
    finally:
        proxied.stop()
    wide = Site(tmp_path, copy=False)
    wide.url = f"http://127.0.0.1:{wide.port}"
    (tmp_path / "jobrunner.yaml").write_text(
        "timezone: UTC\nweb:\n  proxy_user_header: X-Remote-User\n  trusted_proxies: [192.0.2.1]\n"
    )
    wide.start()
    try:
        page = wide.client(token=None).get("/", headers={"x-remote-user": "dana"}).text
        assert "<span>dana</span>" not in page
    finally:
        wide.stop()


def test_web_logs_each_action_with_its_user(site):
    site.client().post("/api/entries/month-end-close/status", json={"status": "ready"})
    out = site.stop()
    site.start()
    assert '"event": "web_action_done"' in out
    assert '"user": "ops"' in out
    assert '"event": "web_action_refused"' in out


def test_web_cancel_a_task_as_the_cli(site):
    made = site.cli("task", "create", "tests.entrypoints.jobs:ok", "--not-ready")
    task_id = made.stdout.strip().split()[-1]
    assert task_id in {t["id"] for t in site.client().get("/api/tasks").json()}
    anonymous = site.client(token=None).post(f"/api/tasks/{task_id}/cancel")
    assert anonymous.status_code == 401
    refused = site.client(token=CAROL_TOKEN).post(f"/api/tasks/{task_id}/cancel")
    assert refused.status_code == 403  # carol may run 50100 only
    done = site.client().post(f"/api/tasks/{task_id}/cancel")
    assert (done.status_code, done.json()) == (200, {"task_id": task_id, "cancelled": True})
    assert task_id not in {t["id"] for t in site.client().get("/api/tasks").json()}
    assert site.client().post(f"/api/tasks/{task_id}/cancel").status_code == 404
