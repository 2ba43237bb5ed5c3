"""The dashboard in a real headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium with the driver's path given, so nothing is downloaded): the main
views, a login, one action, and a page that follows a change made by the CLI. The
entries page's screenshot is kept in test-artifacts/ (JOBRUNNER_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.web_site import PASSWORD, ROOT, Site

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("JOBRUNNER_TEST_ARTIFACTS") or ROOT / "test-artifacts")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("web-browser"))
    s.make_state()
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    for needed in (CHROMIUM, CHROMEDRIVER):
        assert Path(needed).exists(), (
            f"{needed} is missing: apt-get install chromium chromium-driver"
        )
    profile = tempfile.mkdtemp(prefix="jobrunner-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,860",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait(driver, condition, seconds: float = 10):
    return WebDriverWait(driver, seconds).until(condition)


def text_of(driver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def test_web_browser_entries_page(site, browser):
    browser.get(site.url + "/")
    table = wait(browser, expected_conditions.presence_of_element_located((By.ID, "entries")))
    assert "inbox-poll" in table.text
    assert "error" in text_of(browser, "tr:has(a[href='/entries/loud']) .status")
    assert "⚠" in text_of(browser, "tr.is-rejected")
    assert browser.title == "Job Queue Entries · jobrunner"
    assert "pwned" not in browser.title
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "entries.png"))


def test_web_browser_clicks_through_the_views(site, browser):
    browser.get(site.url + "/")
    browser.find_element(By.LINK_TEXT, "loud").click()
    wait(browser, expected_conditions.presence_of_element_located((By.ID, "error-message")))
    assert "<img src=x onerror=alert(1)>" in text_of(browser, "#error-message")
    assert browser.title == "loud · jobrunner"
    for link, heading in (
        ("Log", "Job Queue Log Entries"),
        ("Sessions", "Session Events"),
        ("Tasks", "Scheduled Tasks"),
        ("Categories", "Job Queue Categories"),
    ):
        browser.find_element(By.LINK_TEXT, link).click()
        wait(
            browser, expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), heading)
        )
        if link == "Tasks":
            assert "tests.entrypoints.jobs:ok" in text_of(browser, "main")
    assert "CRM" in text_of(browser, "main")


def log_in(site, browser, then: str, title: str) -> None:
    browser.get(site.url + "/login?next=" + then)
    browser.find_element(By.NAME, "user").send_keys("alice")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait(browser, expected_conditions.title_is(title))


def test_web_browser_logs_in_and_sets_an_entry_on_hold(site, browser):
    log_in(site, browser, "/entries/inbox-poll", "inbox-poll · jobrunner")
    browser.find_element(By.XPATH, "//button[text()='Set On Hold']").click()
    wait(
        browser, expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".banner.done"))
    )
    assert "on hold" in text_of(browser, "h1 .status")
    assert site.json("show", "inbox-poll")["status"] == "on_hold"


def test_web_browser_page_follows_a_change(site, browser):
    browser.get(site.url + "/entries/report-rotation")
    wait(browser, expected_conditions.text_to_be_present_in_element((By.ID, "live-state"), "live"))
    assert "ready" in text_of(browser, "h1 .status")
    site.cli("set-status", "report-rotation", "on_hold")
    wait(
        browser,
        expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, "h1 .status"), "on hold"
        ),
    )
    assert browser.current_url == site.url + "/entries/report-rotation"


def test_web_browser_cancels_a_pending_task_after_asking(site, browser):
    made = site.cli("task", "create", "tests.entrypoints.jobs:ok", "--not-ready")
    task_id = made.stdout.strip().split()[-1]
    log_in(site, browser, "/tasks", "Scheduled Tasks · jobrunner")
    button = f"//tr[td/code[text()='{task_id}']]//button[text()='Cancel']"
    browser.find_element(By.XPATH, button).click()
    prompt = wait(browser, expected_conditions.alert_is_present())
    assert task_id in prompt.text
    prompt.dismiss()  # asked, and refused: nothing happens
    assert task_id in {t["id"] for t in site.json("task", "list")}
    browser.find_element(By.XPATH, button).click()
    wait(browser, expected_conditions.alert_is_present()).accept()
    wait(
        browser, expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".banner.done"))
    )
    assert f"task {task_id} cancelled" in text_of(browser, ".banner.done")
    assert task_id not in {t["id"] for t in site.json("task", "list")}
    # the tasks behind entries follow their entries: no button
    browser.get(site.url + "/tasks?all=1")
    behind = browser.find_elements(By.XPATH, "//tr[td[@data-label='Record']/a]")
    assert behind
    assert all(not row.find_elements(By.TAG_NAME, "button") for row in behind)
