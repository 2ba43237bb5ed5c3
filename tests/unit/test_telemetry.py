"""Event names are public API: every name the code logs is in the vocabulary, and every
name in the vocabulary is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

from jobrunner import telemetry

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = (
    r"\.(?:info|warning|error)\(\s*\"([a-z_]+)\"",  # log.info("name", ...)
    r"\(\s*\"([a-z]+_[a-z_]+)\",\s*\{",  # ("name", {fields}) decisions
    r"return [^\n]*\"(task_[a-z_]+)\"",  # task_ended's event
    r"\),\s*\"(task_[a-z_]+)\"",  # ... and when the formatter split its line
    r"Decision\((?:[^()]|\([^()]*\))*?event=\"([a-z_]+)\"",  # Decision(..., event="name")
)


def logged_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "jobrunner").rglob("*.py"):
        text = path.read_text()
        for pattern in PATTERNS:
            names.update(re.findall(pattern, text))
    reconciler = (ROOT / "jobrunner" / "reconciler.py").read_text()
    names.update(re.findall(r"ChangeKind\.[A-Z]+: \"([a-z_]+)\"", reconciler))  # kind -> event
    return names


def test_every_logged_event_is_in_the_vocabulary():
    unknown = logged_names() - set(telemetry.EVENTS)
    assert unknown == set()


def test_the_vocabulary_is_logged_and_documented():
    readme = (ROOT / "README.md").read_text()
    events_section = readme.split("## Log events", 1)[1].split("\n## ", 1)[0]
    assert set(telemetry.EVENTS) <= logged_names()
    assert [name for name in telemetry.EVENTS if f"`{name}`" not in events_section] == []


def test_bc_event_ids_are_added():
    assert telemetry.EVENTS["run_started"] == "AL0000E25"
    event = telemetry._add_bc_event(None, "info", {"event": "run_failed_finally"})
    assert event["bc_event"] == "AL0000JRG"
    assert "bc_event" not in telemetry._add_bc_event(None, "info", {"event": "misfire"})
